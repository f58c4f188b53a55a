//! A message as a client submits it, and the body checksum Zaqar reports.

use std::fmt;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::limits::Limits;
use crate::error::ApiError;

/// A message body as compact JSON text, fixed when the message is posted. It is carried
/// as text from the request to the log and the read models, and parsed again only where a
/// transport must embed it in a document of another encoding.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageBody(Box<RawValue>);

impl MessageBody {
    /// The compact JSON text of `value`.
    pub fn from_value(value: &Value) -> Self {
        MessageBody(serde_json::value::to_raw_value(value).expect("a JSON value serializes"))
    }

    /// The body's JSON text.
    pub fn as_json(&self) -> &str {
        self.0.get()
    }
}

/// Bodies are equal when their texts are; both sides are compact serializations.
impl PartialEq for MessageBody {
    fn eq(&self, other: &Self) -> bool {
        self.as_json() == other.as_json()
    }
}

impl fmt::Debug for MessageBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_json())
    }
}

/// One message of a post, validated against the queue-independent limits. The queue's
/// defaults (TTL, delay, size cap) are applied when the post is decided.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub body: MessageBody,
    /// Explicit TTL (already range-checked), or `None` for the queue/global default.
    pub ttl: Option<i64>,
    /// Explicit delay (range-checked only on delayed queues, where it applies).
    pub delay: Option<i64>,
    /// `MD5:<hex>` of the body, when checksums are enabled and the body is not null.
    pub checksum: Option<String>,
}

impl NewMessage {
    /// Decodes one element of a post's `messages` array. Unknown fields are dropped.
    pub fn from_json(doc: &Value, limits: &Limits) -> Result<Self, ApiError> {
        let obj = doc
            .as_object()
            .ok_or_else(|| ApiError::InvalidBody("Each message must be a JSON object.".into()))?;
        let body = obj
            .get("body")
            .ok_or_else(|| ApiError::InvalidBody("Missing \"body\" field.".into()))?;
        let ttl = optional_int(obj.get("ttl"), "ttl")?
            .map(|t| limits.message_ttl(t))
            .transpose()?;
        let delay = optional_int(obj.get("delay"), "delay")?;
        let checksum = (limits.enable_checksum && !body.is_null()).then(|| checksum(body));
        Ok(NewMessage {
            body: MessageBody::from_value(body),
            ttl,
            delay,
            checksum,
        })
    }
}

/// An optional integer field of a JSON document (booleans count as integers, as in Python).
pub fn optional_int(v: Option<&Value>, field: &str) -> Result<Option<i64>, ApiError> {
    match v {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(i64::from(*b))),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(Value::Number(n)) if n.is_u64() => Err(ApiError::InvalidBody(format!(
            "JSON contains integer that is too large (field \"{field}\")."
        ))),
        Some(_) => Err(ApiError::InvalidBody(format!(
            "\"{field}\" must be an integer."
        ))),
    }
}

/// Zaqar's checksum: `MD5:` + hex MD5 of Python's `json.dumps(body)`.
pub fn checksum(body: &Value) -> String {
    let mut text = String::new();
    python_dumps(body, &mut text);
    let digest = Md5::digest(text.as_bytes());
    let mut out = String::with_capacity(36);
    out.push_str("MD5:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Serialises like Python's `json.dumps` with default options: `", "` / `": "` separators,
/// keys in received order, non-ASCII escaped as `\uXXXX`.
fn python_dumps(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => out.push_str(&python_float(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => python_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_dumps(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_string(k, out);
                out.push_str(": ");
                python_dumps(item, out);
            }
            out.push('}');
        }
    }
}

fn python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e && (c as u32) != 0x7f => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form outside 1e-4..1e16.
fn python_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        }
        .to_owned();
    }
    let sci = format!("{f:e}"); // e.g. "-1.5e-7"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let plain = format!("{f}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checksum_matches_python_json_dumps() {
        // hashlib.md5(json.dumps({"a": [1, 2.5, "é"], "b": None}).encode()).hexdigest()
        let body = json!({"a": [1, 2.5, "é"], "b": null});
        let mut text = String::new();
        python_dumps(&body, &mut text);
        assert_eq!(text, r#"{"a": [1, 2.5, "\u00e9"], "b": null}"#);
        assert_eq!(checksum(&body), "MD5:f429774600a00358f9102a26d4358d5c");
    }

    #[test]
    fn floats_render_like_python() {
        assert_eq!(python_float(1.0), "1.0");
        assert_eq!(python_float(1e100), "1e+100");
        assert_eq!(python_float(1.5e-7), "1.5e-07");
        assert_eq!(python_float(0.25), "0.25");
    }

    #[test]
    fn messages_decode_with_zaqar_type_rules() {
        let l = Limits::default();
        assert!(NewMessage::from_json(&json!({"ttl": 60}), &l).is_err());
        assert!(NewMessage::from_json(&json!({"body": 1, "ttl": "60"}), &l).is_err());
        assert!(NewMessage::from_json(&json!({"body": 1, "ttl": 59}), &l).is_err());
        let m = NewMessage::from_json(&json!({"body": null, "ttl": 60, "x": 1}), &l).unwrap();
        assert_eq!(m.ttl, Some(60));
        assert_eq!(m.checksum, None);
    }
}
