//! Pools and flavors (reference §8): a pool is a store queues can be placed on, with a
//! weight and an optional flavor; a flavor is a project's name for the pools that carry it.
//! Their documents as the admin API takes them, validated with Zaqar's rules and errors.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::QueueName;
use crate::error::ApiError;

/// Largest pool weight (Zaqar's: 2³² − 1).
pub const MAX_WEIGHT: i64 = u32::MAX as i64;
/// Longest pool URI, and longest flavor name a pool names.
const MAX_FIELD: usize = 255;
/// What every pool offers, by Zaqar's capability names: every pool is a Cairn store.
pub const CAPABILITIES: [&str; 5] = ["FIFO", "CLAIMS", "DURABILITY", "AOD", "HIGH_THROUGHPUT"];

/// A pool as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// The store's URL (`sqlite://PATH` or `postgres://…`).
    pub uri: String,
    /// Its share of new queues; 0 takes none.
    pub weight: i64,
    /// The flavor whose queues it takes (`None`: queues created without a flavor).
    pub flavor: Option<String>,
    /// Kept and shown, not interpreted.
    pub options: Map<String, Value>,
}

/// The fields a pool `PATCH` changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolPatch {
    pub uri: Option<String>,
    pub weight: Option<i64>,
    /// `Some(None)`: the pool leaves its flavor (sent as `""`).
    pub flavor: Option<Option<String>>,
    pub options: Option<Map<String, Value>>,
}

/// The keys a pool document may hold.
const POOL_KEYS: [&str; 4] = ["uri", "weight", "flavor", "options"];

impl Pool {
    /// A pool `PUT` body: `uri` and `weight`, optionally `flavor` and `options`, nothing
    /// else.
    pub fn from_document(doc: &Value) -> Result<Pool, ApiError> {
        let fields = object(doc)?;
        if let Some(key) = fields.keys().find(|k| !POOL_KEYS.contains(&k.as_str())) {
            return Err(ApiError::InvalidBody(format!(
                "Additional properties are not allowed ('{key}' was unexpected)"
            )));
        }
        let patch = PoolPatch::fields(fields)?;
        let required =
            |name: &str| ApiError::InvalidBody(format!("'{name}' is a required property"));
        Ok(Pool {
            uri: patch.uri.ok_or_else(|| required("uri"))?,
            weight: patch.weight.ok_or_else(|| required("weight"))?,
            flavor: patch.flavor.flatten(),
            options: patch.options.unwrap_or_default(),
        })
    }
}

impl PoolPatch {
    /// A pool `PATCH` body: at least one of the pool's fields; other keys are ignored, as
    /// Zaqar ignores them.
    pub fn from_document(doc: &Value) -> Result<PoolPatch, ApiError> {
        let fields = object(doc)?;
        if !POOL_KEYS.iter().any(|k| fields.contains_key(*k)) {
            return Err(ApiError::InvalidBody(
                "One of `uri`, `weight`, `flavor`, or `options` needs to be specified".into(),
            ));
        }
        PoolPatch::fields(fields)
    }

    /// The pool fields present in `fields`, each checked.
    fn fields(fields: &Map<String, Value>) -> Result<PoolPatch, ApiError> {
        let mut patch = PoolPatch::default();
        if let Some(uri) = fields.get("uri") {
            patch.uri = Some(short_text(uri, "uri")?.to_owned());
        }
        if let Some(weight) = fields.get("weight") {
            match weight.as_i64() {
                Some(w) if (0..=MAX_WEIGHT).contains(&w) && !weight.is_f64() => {
                    patch.weight = Some(w)
                }
                _ => {
                    return Err(ApiError::InvalidBody(format!(
                        "weight must be an integer from 0 to {MAX_WEIGHT}"
                    )))
                }
            }
        }
        if let Some(flavor) = fields.get("flavor") {
            let flavor = short_text(flavor, "flavor")?;
            patch.flavor = Some((!flavor.is_empty()).then(|| flavor.to_owned()));
        }
        if let Some(options) = fields.get("options") {
            let options = options
                .as_object()
                .ok_or_else(|| ApiError::InvalidBody("options must be an object".into()))?;
            patch.options = Some(options.clone());
        }
        Ok(patch)
    }

    /// The pool with these changes.
    pub fn apply(&self, pool: &Pool) -> Pool {
        Pool {
            uri: self.uri.clone().unwrap_or_else(|| pool.uri.clone()),
            weight: self.weight.unwrap_or(pool.weight),
            flavor: self.flavor.clone().unwrap_or_else(|| pool.flavor.clone()),
            options: self.options.clone().unwrap_or_else(|| pool.options.clone()),
        }
    }
}

/// A flavor's `pool_list`, from a `PUT` (`for_update` false: only `pool_list` and
/// `capabilities`, the latter ignored) or a `PATCH` body (other keys ignored). Names that
/// could not be pools' are kept: they are reported as pools that do not exist.
pub fn pool_list(doc: &Value, for_update: bool) -> Result<Vec<String>, ApiError> {
    let fields = object(doc)?;
    if !for_update {
        if let Some(key) = fields
            .keys()
            .find(|k| !["pool_list", "capabilities"].contains(&k.as_str()))
        {
            return Err(ApiError::InvalidBody(format!(
                "Additional properties are not allowed ('{key}' was unexpected)"
            )));
        }
        if fields.get("capabilities").is_some_and(|c| !c.is_object()) {
            return Err(ApiError::InvalidBody(
                "capabilities must be an object".into(),
            ));
        }
    }
    let list = match fields.get("pool_list") {
        Some(list) => list,
        None if for_update => {
            return Err(ApiError::InvalidBody(
                "`pool_list` needs to be specified".into(),
            ))
        }
        None => {
            return Err(ApiError::InvalidBody(
                "'pool_list' is a required property".into(),
            ))
        }
    };
    let names = list
        .as_array()
        .ok_or_else(|| ApiError::InvalidBody("pool_list must be an array".into()))?
        .iter()
        .map(|name| name.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::InvalidBody("pool_list must hold pool names".into()))?;
    if names.is_empty() {
        return Err(ApiError::CannotCreate("Bad Request".into()));
    }
    Ok(names)
}

/// A pool's or flavor's name, with the rules of queue names (`what`: "Pool" or "Flavor").
pub fn name(raw: &str, what: &str) -> Result<QueueName, ApiError> {
    if !QueueName::well_formed(raw) {
        return Err(ApiError::InvalidRequest(format!(
            "{what} names may not be more than {} characters long, and may only contain \
             ASCII letters, digits, underscores, hyphens and periods.",
            super::names::MAX_QUEUE_NAME_LEN
        )));
    }
    Ok(QueueName::from_stored(raw.to_owned()))
}

fn object(doc: &Value) -> Result<&Map<String, Value>, ApiError> {
    doc.as_object()
        .ok_or_else(|| ApiError::InvalidBody("The body must be a JSON object.".into()))
}

/// A string field of at most 255 characters.
fn short_text<'v>(value: &'v Value, field: &str) -> Result<&'v str, ApiError> {
    match value.as_str() {
        Some(s) if s.chars().count() <= MAX_FIELD => Ok(s),
        _ => Err(ApiError::InvalidBody(format!(
            "{field} must be a string of at most {MAX_FIELD} characters"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pool_needs_its_uri_and_a_weight_in_range_and_nothing_else() {
        let pool = Pool::from_document(&json!({"uri": "sqlite:///tmp/a.db", "weight": 10}));
        assert_eq!(pool.map(|p| (p.weight, p.flavor)), Ok((10, None)));
        for bad in [
            json!({"weight": 100}),
            json!({"uri": "a"}),
            json!({"uri": "a", "weight": -1}),
            json!({"uri": "a", "weight": MAX_WEIGHT + 1}),
            json!({"uri": "a", "weight": "big"}),
            json!({"uri": "a", "weight": 1.5}),
            json!({"uri": [], "weight": 1}),
            json!({"uri": "a", "weight": 1, "options": "wee"}),
            json!({"uri": "a", "weight": 1, "flavor": null}),
            json!({"uri": "a", "weight": 1, "location": 1}),
            json!([]),
        ] {
            assert!(Pool::from_document(&bad).is_err(), "{bad} is refused");
        }
    }

    #[test]
    fn a_patch_changes_the_fields_it_names_and_an_empty_flavor_leaves_the_flavor() {
        let pool = Pool {
            uri: "sqlite:///a".into(),
            weight: 1,
            flavor: Some("gold".into()),
            options: Map::new(),
        };
        let patch = PoolPatch::from_document(&json!({"weight": 5, "flavor": "", "x": 1}));
        let patched = patch.map(|p| p.apply(&pool));
        assert_eq!(
            patched.as_ref().map(|p| (p.weight, &p.flavor)),
            Ok((5, &None))
        );
        assert!(PoolPatch::from_document(&json!({"location": 1})).is_err());
    }

    #[test]
    fn a_flavor_lists_at_least_one_pool() {
        assert_eq!(
            pool_list(&json!({"pool_list": ["a"], "capabilities": {}}), false),
            Ok(vec!["a".to_owned()])
        );
        assert_eq!(
            pool_list(&json!({"pool_list": []}), false),
            Err(ApiError::CannotCreate("Bad Request".into()))
        );
        assert!(pool_list(&json!({}), false).is_err());
        assert!(pool_list(&json!({"pool_list": 1}), true).is_err());
        assert!(pool_list(&json!({"pool_list": ["a"], "location": 1}), false).is_err());
        assert!(pool_list(&json!({"pool_list": ["a"], "capabilities": []}), true).is_ok());
    }
}
