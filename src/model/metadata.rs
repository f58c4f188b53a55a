//! Queue metadata: free-form keys plus the reserved `_` keys that change queue behaviour
//! (reference §4). Validation of reserved keys and the "defaults filled in" view live here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::limits::{Limits, MIN_TTL};
use crate::error::ApiError;

pub const MAX_POST_SIZE: &str = "_max_messages_post_size";
pub const DEFAULT_TTL: &str = "_default_message_ttl";
pub const DEFAULT_DELAY: &str = "_default_message_delay";
pub const DEAD_LETTER_QUEUE: &str = "_dead_letter_queue";
pub const DEAD_LETTER_TTL: &str = "_dead_letter_queue_messages_ttl";
pub const MAX_CLAIM_COUNT: &str = "_max_claim_count";
pub const ENCRYPT: &str = "_enable_encrypt_messages";

/// The reserved keys that a queue GET reports with defaults when unset or falsy.
pub const REPORTED_RESERVED: [&str; 7] = [
    MAX_POST_SIZE,
    DEFAULT_TTL,
    DEFAULT_DELAY,
    DEAD_LETTER_QUEUE,
    DEAD_LETTER_TTL,
    MAX_CLAIM_COUNT,
    ENCRYPT,
];

/// True for keys with a reserved meaning (replaceable/removable even when not stored).
pub fn is_reserved(key: &str) -> bool {
    REPORTED_RESERVED.contains(&key) || key == "_retry_policy" || key == "_flavor"
}

/// A validated metadata document, as stored (defaults are never stored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueueMetadata(Map<String, Value>);

/// Python's truthiness of a JSON value, which decides whether Zaqar treats a key as set.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// An integer as Python sees it (booleans are integers there).
fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

impl QueueMetadata {
    /// Validates a document's reserved keys against the limits.
    pub fn new(doc: Map<String, Value>, limits: &Limits) -> Result<Self, ApiError> {
        let md = QueueMetadata(doc);
        md.validate(limits)?;
        Ok(md)
    }

    /// Metadata read back from storage or an event (validated when written).
    pub fn from_stored(doc: Map<String, Value>) -> Self {
        QueueMetadata(doc)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    fn validate(&self, limits: &Limits) -> Result<(), ApiError> {
        let int_in = |key: &str, min: i64, max: i64, what: &str| -> Result<(), ApiError> {
            let Some(v) = self.0.get(key) else {
                return Ok(());
            };
            let n = as_int(v);
            if truthy(v) && n.is_none() {
                return Err(ApiError::InvalidRequest(format!("{key} must be integer.")));
            }
            match n {
                Some(n) if (min..=max).contains(&n) => Ok(()),
                _ => Err(ApiError::InvalidRequest(format!(
                    "{what} may not exceed {max}, and must be at least {min}."
                ))),
            }
        };
        int_in(
            DEFAULT_TTL,
            MIN_TTL,
            limits.max_message_ttl,
            "The default TTL for messages",
        )?;
        int_in(
            MAX_POST_SIZE,
            1,
            limits.max_messages_post_size as i64,
            "The max post size for messages",
        )?;
        int_in(
            DEFAULT_DELAY,
            0,
            limits.max_message_delay,
            "The default delay for messages",
        )?;
        int_in(
            DEAD_LETTER_TTL,
            MIN_TTL,
            limits.max_message_ttl,
            "The TTL for messages in the dead letter queue",
        )?;
        if let Some(v) = self.0.get(MAX_CLAIM_COUNT) {
            if truthy(v) && as_int(v).is_none() {
                return Err(ApiError::InvalidRequest(format!(
                    "{MAX_CLAIM_COUNT} must be integer."
                )));
            }
        }
        if let Some(v) = self.0.get(ENCRYPT) {
            if truthy(v) && !v.is_boolean() {
                return Err(ApiError::InvalidRequest(format!(
                    "{ENCRYPT} must be boolean."
                )));
            }
        }
        if let Some(v) = self.0.get("_retry_policy").filter(|v| truthy(v)) {
            super::RetryPolicy::from_value(v)?;
        }
        Ok(())
    }

    /// The document as Zaqar reports it: reserved keys filled with defaults when unset/falsy.
    pub fn with_defaults(&self, limits: &Limits) -> Map<String, Value> {
        let mut out = self.0.clone();
        let defaults: [(&str, Value); 7] = [
            (MAX_POST_SIZE, Value::from(limits.max_messages_post_size)),
            (DEFAULT_TTL, Value::from(limits.default_message_ttl)),
            (DEFAULT_DELAY, Value::from(limits.default_message_delay)),
            (DEAD_LETTER_QUEUE, Value::Null),
            (DEAD_LETTER_TTL, Value::Null),
            (MAX_CLAIM_COUNT, Value::Null),
            (ENCRYPT, Value::Bool(false)),
        ];
        for (key, default) in defaults {
            if !out.get(key).is_some_and(truthy) {
                out.insert(key.to_owned(), default);
            }
        }
        out
    }

    fn int(&self, key: &str) -> Option<i64> {
        self.0.get(key).filter(|v| truthy(v)).and_then(as_int)
    }

    /// Per-queue cap on the size of a message post body.
    pub fn max_post_size(&self) -> Option<usize> {
        self.int(MAX_POST_SIZE).map(|n| n as usize)
    }

    /// TTL for posted messages that give none.
    pub fn default_ttl(&self) -> Option<i64> {
        self.int(DEFAULT_TTL)
    }

    /// Delay of a delayed queue (non-zero), else `None`.
    pub fn default_delay(&self) -> Option<i64> {
        self.int(DEFAULT_DELAY)
    }

    /// Dead-lettering settings, when both `_dead_letter_queue` and `_max_claim_count` are set.
    pub fn dead_letter(&self) -> Option<DeadLetter> {
        let queue = self
            .0
            .get(DEAD_LETTER_QUEUE)?
            .as_str()
            .filter(|s| !s.is_empty())?;
        let max_claims = self.int(MAX_CLAIM_COUNT)?;
        Some(DeadLetter {
            queue: queue.to_owned(),
            max_claims,
            ttl: self.int(DEAD_LETTER_TTL),
        })
    }

    /// Value of a free-form key, for metadata filters on queue listings.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }
}

/// Where and when a queue moves messages that were claimed too often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub queue: String,
    pub max_claims: i64,
    pub ttl: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn md(v: Value) -> Result<QueueMetadata, ApiError> {
        QueueMetadata::new(v.as_object().unwrap().clone(), &Limits::default())
    }

    #[test]
    fn reserved_keys_are_validated() {
        assert!(md(json!({"_default_message_ttl": 59})).is_err());
        assert!(md(json!({"_default_message_ttl": "x"})).is_err());
        assert!(md(json!({"_default_message_ttl": 60})).is_ok());
        assert!(md(json!({"_max_messages_post_size": 262_145})).is_err());
        assert!(md(json!({"_default_message_delay": 901})).is_err());
        assert!(md(json!({"_enable_encrypt_messages": "yes"})).is_err());
        assert!(md(json!({"_max_claim_count": "two"})).is_err());
        assert!(md(json!({"free": {"any": ["thing"]}})).is_ok());
    }

    #[test]
    fn defaults_fill_missing_and_falsy_keys() {
        let m = md(json!({"_max_claim_count": 0, "owner": "ops"})).unwrap();
        let shown = m.with_defaults(&Limits::default());
        assert_eq!(shown["owner"], "ops");
        assert_eq!(shown["_max_claim_count"], Value::Null);
        assert_eq!(shown["_default_message_ttl"], 3600);
        assert_eq!(shown["_enable_encrypt_messages"], false);
    }

    #[test]
    fn dead_letter_needs_both_keys() {
        assert_eq!(
            md(json!({"_max_claim_count": 2})).unwrap().dead_letter(),
            None
        );
        let dl = md(json!({"_max_claim_count": 2, "_dead_letter_queue": "dlq"}))
            .unwrap()
            .dead_letter()
            .unwrap();
        assert_eq!(dl.queue, "dlq");
        assert_eq!(dl.max_claims, 2);
    }
}
