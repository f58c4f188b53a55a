//! `_retry_policy` (reference §3.3, §6.5): validated as Zaqar does, and turned into the
//! schedule of delays between delivery attempts.
//!
//! After a failed first attempt the retries come in four phases: `retries_with_no_delay`
//! immediate ones, `minimum_delay_retries` after `minimum_delay` seconds each, one per
//! delay of the back-off function between the two bounds, and `maximum_delay_retries` after
//! `maximum_delay` each. The back-off functions reproduce Zaqar's
//! `notification/tasks/webhook.py`, integer truncation included.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// The step of the back-off functions (Zaqar's `LINEAR_INTERVAL`, seconds).
const INTERVAL: i64 = 5;
/// No schedule is longer than this many retries (a policy of huge counts stays bounded).
const MAX_RETRIES: usize = 1_000;

/// How the delays grow between `minimum_delay` and `maximum_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    Linear,
    Arithmetic,
    Geometric,
    Exponential,
}

/// A validated retry policy with Zaqar's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub retries_with_no_delay: i64,
    pub minimum_delay_retries: i64,
    pub minimum_delay: i64,
    pub maximum_delay: i64,
    pub maximum_delay_retries: i64,
    pub backoff: Backoff,
    pub ignore_subscription_override: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries_with_no_delay: 3,
            minimum_delay_retries: 3,
            minimum_delay: 5,
            maximum_delay: 30,
            maximum_delay_retries: 3,
            backoff: Backoff::Linear,
            ignore_subscription_override: false,
        }
    }
}

fn invalid(text: &str) -> ApiError {
    ApiError::InvalidRequest(text.into())
}

impl RetryPolicy {
    /// Validates a `_retry_policy` value with Zaqar's rules and messages (falsy values stand
    /// for the defaults, as in Zaqar).
    pub fn from_value(value: &Value) -> Result<RetryPolicy, ApiError> {
        let doc = match value {
            Value::Object(o) => o,
            Value::Null => return Ok(RetryPolicy::default()),
            _ => return Err(invalid("retry_policy must be a dict.")),
        };
        let mut policy = RetryPolicy::default();
        let int = |key: &str, default: i64| -> Result<i64, ApiError> {
            match doc.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Bool(false)) => Ok(default),
                Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(0),
                Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64().unwrap_or(default)),
                Some(_) => Err(ApiError::InvalidRequest(format!(
                    "Retry policy: {key} must be a integer."
                ))),
            }
        };
        policy.retries_with_no_delay = int("retries_with_no_delay", 3)?.max(0);
        policy.minimum_delay_retries = int("minimum_delay_retries", 3)?.max(0);
        policy.minimum_delay = int("minimum_delay", 5)?;
        policy.maximum_delay = int("maximum_delay", 30)?;
        policy.maximum_delay_retries = int("maximum_delay_retries", 3)?.max(0);
        policy.backoff = match doc.get("retry_backoff_function") {
            None | Some(Value::Null) => Backoff::Linear,
            Some(Value::String(s)) if s.is_empty() => Backoff::Linear,
            Some(Value::String(s)) => match s.as_str() {
                "linear" => Backoff::Linear,
                "arithmetic" => Backoff::Arithmetic,
                "geometric" => Backoff::Geometric,
                "exponential" => Backoff::Exponential,
                _ => return Err(invalid("invalid retry_backoff_function.")),
            },
            Some(_) => return Err(invalid("retry_backoff_function must be a string.")),
        };
        policy.ignore_subscription_override = match doc.get("ignore_subscription_override") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return Err(invalid("ignore_subscription_override must be a boolean.")),
        };
        if policy.maximum_delay < policy.minimum_delay {
            return Err(invalid("minimum_delay must less than maximum_delay."));
        }
        if policy.maximum_delay - policy.minimum_delay < 2 * INTERVAL {
            return Err(invalid("invalid minimum_delay and maximum_delay."));
        }
        if policy.minimum_delay < 0 {
            return Err(invalid("invalid minimum_delay and maximum_delay."));
        }
        Ok(policy)
    }

    /// Validates the `_retry_policy` of a subscription's options or a queue's metadata.
    pub fn validate_in(doc: &Map<String, Value>) -> Result<(), ApiError> {
        match doc.get("_retry_policy") {
            None => Ok(()),
            Some(v) => RetryPolicy::from_value(v).map(|_| ()),
        }
    }

    /// The policy in force: the subscription's, else the queue's; the queue's whenever
    /// either sets `ignore_subscription_override`. An invalid stored value counts as unset.
    pub fn effective(subscription: Option<&Value>, queue: Option<&Value>) -> RetryPolicy {
        let parse = |v: Option<&Value>| {
            v.filter(|v| !is_falsy(v))
                .and_then(|v| RetryPolicy::from_value(v).ok())
        };
        let (sub, queue) = (parse(subscription), parse(queue));
        let ignore = sub.as_ref().is_some_and(|p| p.ignore_subscription_override)
            || queue
                .as_ref()
                .is_some_and(|p| p.ignore_subscription_override);
        match ignore {
            true => queue.unwrap_or_default(),
            false => sub.or(queue).unwrap_or_default(),
        }
    }

    /// The delays (seconds) before each retry, in order; its length is how many retries
    /// follow a failed first attempt.
    pub fn delays(&self) -> Vec<i64> {
        let count = |n: i64| n.clamp(0, MAX_RETRIES as i64) as usize;
        let mut out = Vec::new();
        out.extend(std::iter::repeat_n(0, count(self.retries_with_no_delay)));
        out.extend(std::iter::repeat_n(
            self.minimum_delay,
            count(self.minimum_delay_retries),
        ));
        out.extend(backoff(
            self.backoff,
            self.minimum_delay,
            self.maximum_delay,
        ));
        out.extend(std::iter::repeat_n(
            self.maximum_delay,
            count(self.maximum_delay_retries),
        ));
        out.truncate(MAX_RETRIES);
        out
    }
}

fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Zaqar's back-off sequences. `x_max` delays for the curved functions; the linear one is
/// `range(min, max, 5)`. A curve that Zaqar would divide by zero on (`x_max` ≤ 1), or take
/// the logarithm of zero for (`min` = 0), gives the linear sequence's first `x_max` steps.
fn backoff(function: Backoff, min: i64, max: i64) -> Vec<i64> {
    let linear: Vec<i64> = (min..max).step_by(INTERVAL as usize).collect();
    let x_max = (max - min) / INTERVAL;
    if function == Backoff::Linear {
        return linear;
    }
    if x_max <= 1 || min <= 0 {
        return linear.into_iter().take(x_max.max(0) as usize).collect();
    }
    let (minf, maxf) = (min as f64, max as f64);
    let k = 10f64.powf((maxf / minf).log10() / (x_max - 1) as f64);
    (1..=x_max)
        .map(|a| match function {
            Backoff::Geometric => (minf * k.powf((a - 1) as f64)) as i64,
            Backoff::Exponential => ((minf / k) * k.powf(a as f64)) as i64,
            Backoff::Arithmetic => {
                let d = 2.0 * (maxf - minf) / (x_max * (x_max - 1)) as f64;
                (minf + ((a - 1) * a) as f64 * d / 2.0) as i64
            }
            Backoff::Linear => unreachable!("handled above"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(v: Value) -> RetryPolicy {
        RetryPolicy::from_value(&v).expect("a valid policy")
    }

    #[test]
    fn the_default_schedule_is_zaqars() {
        let delays = RetryPolicy::default().delays();
        assert_eq!(delays, [0, 0, 0, 5, 5, 5, 5, 10, 15, 20, 25, 30, 30, 30]);
    }

    #[test]
    fn backoff_functions_match_zaqar() {
        // Values computed with Zaqar's own functions for min 5, max 30 (x_max = 5).
        assert_eq!(backoff(Backoff::Linear, 5, 30), [5, 10, 15, 20, 25]);
        assert_eq!(backoff(Backoff::Geometric, 5, 30), [5, 7, 12, 19, 30]);
        assert_eq!(backoff(Backoff::Exponential, 5, 30), [5, 7, 12, 19, 30]);
        assert_eq!(backoff(Backoff::Arithmetic, 5, 30), [5, 7, 12, 20, 30]);
        // min 0: Zaqar would fail on log10(0); the curve falls back to linear steps.
        assert_eq!(backoff(Backoff::Geometric, 0, 10), [0, 5]);
    }

    #[test]
    fn validation_follows_zaqar() {
        assert!(RetryPolicy::from_value(&json!([1])).is_err());
        assert!(RetryPolicy::from_value(&json!({"minimum_delay": "5"})).is_err());
        assert!(RetryPolicy::from_value(&json!({"retry_backoff_function": "cubic"})).is_err());
        assert!(RetryPolicy::from_value(&json!({"ignore_subscription_override": 1})).is_err());
        assert!(RetryPolicy::from_value(&json!({"minimum_delay": 40})).is_err());
        assert!(
            RetryPolicy::from_value(&json!({"minimum_delay": 25, "maximum_delay": 30})).is_err()
        );
        let p = policy(
            json!({"retries_with_no_delay": 1, "minimum_delay_retries": 0,
            "maximum_delay_retries": 0, "minimum_delay": 0, "maximum_delay": 10}),
        );
        assert_eq!(p.delays(), [0, 0, 5]);
    }

    #[test]
    fn the_queue_wins_only_when_told_to() {
        let sub = json!({"retries_with_no_delay": 1});
        let queue = json!({"retries_with_no_delay": 7});
        let forced = json!({"retries_with_no_delay": 7, "ignore_subscription_override": true});
        let n = |s: Option<&Value>, q: Option<&Value>| {
            RetryPolicy::effective(s, q).retries_with_no_delay
        };
        assert_eq!(n(Some(&sub), Some(&queue)), 1);
        assert_eq!(n(None, Some(&queue)), 7);
        assert_eq!(n(Some(&sub), Some(&forced)), 7);
        assert_eq!(n(Some(&json!({})), Some(&queue)), 7);
        assert_eq!(n(None, None), 3);
    }
}
