//! A subscription document as a client submits it (create or update), validated with
//! Zaqar's rules (reference §6.2).

use serde_json::{Map, Value};

use super::limits::Limits;
use super::message::optional_int;
use super::{AddressPolicy, RetryPolicy, Timestamp};
use crate::error::ApiError;

/// Minimum subscription TTL (seconds).
pub const MIN_SUBSCRIPTION_TTL: i64 = 60;
/// The last instant a subscription may live to (9999-12-31T23:59:59Z), in seconds.
const MAX_EXPIRY_SECS: i64 = 253_402_300_799;

/// The fields of a subscription create or update; absent fields are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionSpec {
    pub subscriber: Option<String>,
    pub ttl: Option<i64>,
    pub options: Option<Map<String, Value>>,
}

impl SubscriptionSpec {
    /// A create document: `subscriber` is required.
    pub fn for_create(doc: &Value, limits: &Limits, now: Timestamp) -> Result<Self, ApiError> {
        if doc
            .as_object()
            .is_some_and(|o| o.get("subscriber").is_none_or(Value::is_null))
        {
            return Err(ApiError::InvalidRequest(
                "Missing parameter subscriber in body.".into(),
            ));
        }
        Self::for_update(doc, limits, now)
    }

    /// An update document: any of `subscriber`, `ttl`, `options`; one that is `null` stays
    /// as it is, as Zaqar reads it (python-openstackclient sends `"subscriber": null` with
    /// a new TTL).
    pub fn for_update(doc: &Value, limits: &Limits, now: Timestamp) -> Result<Self, ApiError> {
        let obj = doc
            .as_object()
            .ok_or_else(|| ApiError::InvalidRequest("Subscriptions must be a dict.".into()))?;
        if obj.is_empty() {
            return Err(ApiError::InvalidRequest(
                "No subscription to create.".into(),
            ));
        }
        let subscriber = match obj.get("subscriber") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let scheme = s.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
                if !limits.subscriber_types.iter().any(|t| t == scheme) {
                    return Err(ApiError::InvalidRequest(format!(
                        "The subscriber type of subscription must be supported in the list {:?}.",
                        limits.subscriber_types
                    )));
                }
                if s.chars().any(char::is_control) {
                    return Err(ApiError::InvalidRequest(
                        "The subscriber may not contain control characters.".into(),
                    ));
                }
                let policy = AddressPolicy::new(&limits.notify_allow_hosts)
                    .map_err(ApiError::InvalidRequest)?;
                if let Some(why) = policy.refuses_subscriber(s) {
                    return Err(ApiError::InvalidRequest(format!(
                        "The subscriber {s} is not allowed: {why}."
                    )));
                }
                Some(s.clone())
            }
            Some(_) => {
                return Err(ApiError::InvalidRequest(
                    "The subscriber must be a string.".into(),
                ))
            }
        };
        let options = match obj.get("options") {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => {
                RetryPolicy::validate_in(o)?;
                Some(o.clone())
            }
            Some(_) => return Err(ApiError::InvalidRequest("Options must be a dict.".into())),
        };
        let ttl = match obj.get("ttl") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let ttl = optional_int(Some(v), "ttl")
                    .map_err(|_| ApiError::InvalidRequest("TTL must be an integer.".into()))?
                    .unwrap_or_default();
                if ttl < MIN_SUBSCRIPTION_TTL {
                    return Err(ApiError::InvalidRequest(format!(
                        "The TTL for a subscription must be at least {MIN_SUBSCRIPTION_TTL} \
                         seconds long."
                    )));
                }
                if ttl > MAX_EXPIRY_SECS - now.0 / 1000 {
                    return Err(ApiError::InvalidRequest(
                        "The TTL seconds for a subscription plus current time must be less \
                         than 9999-12-31 23:59:59."
                            .into(),
                    ));
                }
                Some(ttl)
            }
        };
        Ok(SubscriptionSpec {
            subscriber,
            ttl,
            options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(v: Value) -> Result<SubscriptionSpec, ApiError> {
        SubscriptionSpec::for_create(&v, &Limits::default(), Timestamp(0))
    }

    #[test]
    fn subscription_rules() {
        assert!(create(json!({"subscriber": "http://a.b", "ttl": 60})).is_ok());
        assert!(create(json!({"ttl": 60})).is_err());
        assert!(create(json!({"subscriber": "fake"})).is_err());
        assert!(create(json!({"subscriber": "email://x"})).is_err());
        assert!(create(json!({"subscriber": "mailto:a@b.c", "options": 1})).is_err());
        assert!(create(json!({"subscriber": "http://a", "ttl": "x"})).is_err());
        assert!(create(json!({"subscriber": "http://a", "ttl": 59})).is_err());
        assert!(
            create(json!({"subscriber": "http://a", "ttl": 99_999_999_999_999_999i64})).is_err()
        );
        assert!(
            SubscriptionSpec::for_update(&json!([1]), &Limits::default(), Timestamp(0)).is_err()
        );
    }
}
