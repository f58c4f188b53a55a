//! Decoding of request documents (JSON bodies) into validated parts, shared by every
//! transport: REST passes the parsed HTTP body, WebSocket the matching part of its frame.

use serde_json::{Map, Value};

use crate::commands::PatchOp;
use crate::error::ApiError;
use crate::model::message::optional_int;
use crate::model::{Limits, NewMessage, QueueMetadata};

/// A body that may be empty: no document then, else one parsed as [`parse_json`] does.
pub fn optional_json(body: &[u8]) -> Result<Option<Value>, ApiError> {
    match body.is_empty() {
        true => Ok(None),
        false => parse_json(body).map(Some),
    }
}

/// Parses a request body as a JSON object or array (reference §1.6).
pub fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::InvalidBody(
            "Request body can not be empty".into(),
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::InvalidBody("Request body could not be parsed.".into()))?;
    if !value.is_object() && !value.is_array() {
        return Err(ApiError::InvalidBody(
            "Request body could not be parsed.".into(),
        ));
    }
    if has_oversized_integer(body) {
        return Err(ApiError::InvalidBody(
            "JSON contains integer that is too large.".into(),
        ));
    }
    Ok(value)
}

/// True if the JSON text has an integer literal outside the signed 64-bit range (serde_json
/// would silently turn it into a float; Zaqar rejects it).
fn has_oversized_integer(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < text.len()
                    && matches!(text[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                let token = &text[start..i];
                let integral = !token.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
                let fits = std::str::from_utf8(token)
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                    .is_some();
                if integral && !fits {
                    return true;
                }
            }
            _ => i += 1,
        }
    }
    false
}

fn object(doc: &Value) -> Result<&Map<String, Value>, ApiError> {
    doc.as_object()
        .ok_or_else(|| ApiError::InvalidBody("Document type not supported.".into()))
}

/// A queue's metadata document (PUT body, WebSocket `metadata`).
pub fn metadata(doc: &Value, limits: &Limits) -> Result<QueueMetadata, ApiError> {
    QueueMetadata::new(object(doc)?.clone(), limits)
}

/// A JSON-patch document for queue metadata (reference §2.4.4).
pub fn patch(doc: &Value) -> Result<Vec<PatchOp>, ApiError> {
    let ops = doc.as_array().ok_or_else(|| {
        ApiError::InvalidBody("Request body must be a JSON array of operations.".into())
    })?;
    ops.iter().map(patch_op).collect()
}

fn patch_op(op: &Value) -> Result<PatchOp, ApiError> {
    let bad = |why: &str| ApiError::InvalidBody(why.to_owned());
    let op = op
        .as_object()
        .ok_or_else(|| bad("Operations must be JSON objects."))?;
    let kind = op
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Invalid operation: missing \"op\"."))?;
    let path = op
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Invalid operation: missing \"path\"."))?;
    let (head, key) = pointer(path).ok_or_else(|| {
        bad("Invalid JSON pointer for this resource: '/metadata/<key>' expected.")
    })?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| bad("Missing \"value\" for this operation."))
    };
    let metadata_head = || {
        if head.eq_ignore_ascii_case("metadata") {
            Ok(())
        } else {
            Err(bad(
                "Invalid JSON pointer for this resource: '/metadata/<key>' expected.",
            ))
        }
    };
    match kind {
        "add" => {
            metadata_head()?;
            Ok(PatchOp::Add {
                key,
                value: value()?,
            })
        }
        "replace" => {
            metadata_head()?;
            Ok(PatchOp::Replace {
                key,
                value: value()?,
            })
        }
        "remove" => Ok(PatchOp::Remove { key }),
        other => Err(bad(&format!("Invalid operation: \"{other}\"."))),
    }
}

/// Splits a two-token JSON pointer `/<head>/<key>`, unescaping `~1` and `~0`.
fn pointer(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix('/')?;
    let tokens: Vec<&str> = rest.split('/').collect();
    if tokens.len() != 2 || tokens.iter().any(|t| t.is_empty()) {
        return None;
    }
    let unescape = |t: &str| -> Option<String> {
        let mut out = String::with_capacity(t.len());
        let mut chars = t.chars();
        while let Some(c) = chars.next() {
            if c == '~' {
                match chars.next()? {
                    '0' => out.push('~'),
                    '1' => out.push('/'),
                    _ => return None,
                }
            } else {
                out.push(c);
            }
        }
        Some(out)
    };
    Some((unescape(tokens[0])?, unescape(tokens[1])?))
}

/// The `messages` of a post document (`{"messages": [...]}`).
pub fn messages(doc: &Value, limits: &Limits) -> Result<Vec<NewMessage>, ApiError> {
    let list = object(doc)?
        .get("messages")
        .ok_or_else(|| ApiError::InvalidRequest("Missing \"messages\" field.".into()))?;
    message_list(list, limits)
}

/// The value of a post's `messages` member, which must be an array of messages.
pub fn message_list(list: &Value, limits: &Limits) -> Result<Vec<NewMessage>, ApiError> {
    list.as_array()
        .ok_or_else(|| ApiError::InvalidBody("\"messages\" must be an array.".into()))?
        .iter()
        .map(|m| NewMessage::from_json(m, limits))
        .collect()
}

/// The length of a value's compact JSON text, without building the text.
pub fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` to a sink that cannot fail cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// The `ttl` and `grace` of a claim document.
pub fn claim_options(doc: &Value) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let obj = object(doc)?;
    Ok((
        optional_int(obj.get("ttl"), "ttl")?,
        optional_int(obj.get("grace"), "grace")?,
    ))
}

/// What a purge removes: `(messages, subscriptions)`.
pub fn purge_targets(doc: Option<&Value>) -> Result<(bool, bool), ApiError> {
    let Some(doc) = doc else {
        return Ok((true, true));
    };
    let bad = || {
        ApiError::InvalidRequest(
            "Purge only accepts \"resource_types\" with values \"messages\" and/or \
             \"subscriptions\"."
                .into(),
        )
    };
    let types = object(doc)?
        .get("resource_types")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    let (mut messages, mut subscriptions) = (false, false);
    for t in types {
        match t.as_str() {
            Some("messages") => messages = true,
            Some("subscriptions") => subscriptions = true,
            _ => return Err(bad()),
        }
    }
    Ok((messages, subscriptions))
}

/// The `confirmed` flag of a subscription confirmation document.
pub fn confirmation(doc: &Value) -> Result<bool, ApiError> {
    doc.get("confirmed")
        .and_then(Value::as_bool)
        .ok_or_else(|| ApiError::InvalidRequest("The 'confirmed' should be boolean.".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn oversized_integers_are_rejected_anywhere() {
        assert!(parse_json(br#"{"a": 9223372036854775808}"#).is_err());
        assert!(parse_json(br#"{"a": -9223372036854775809}"#).is_err());
        assert!(parse_json(br#"{"a": 9223372036854775807, "b": 1.5e300}"#).is_ok());
        assert!(parse_json(br#"{"a": "99999999999999999999"}"#).is_ok());
        assert!(parse_json(b"").is_err());
        assert!(parse_json(b"123").is_err());
        assert!(parse_json(b"{bad").is_err());
    }

    #[test]
    fn json_len_is_the_length_of_the_compact_text() {
        let docs = [
            json!([]),
            json!([{"body": {"event": "BackupStarted", "n": [1, 2.5, null, true]}, "ttl": 300}]),
            json!({"quote": "a \"b\" \\ c\n\u{1}", "unicode": "žluťoučký 🐎"}),
        ];
        for doc in docs {
            assert_eq!(json_len(&doc), doc.to_string().len(), "{doc}");
        }
    }

    #[test]
    fn patch_pointers_follow_the_reference() {
        assert_eq!(
            pointer("/metadata/a~1b~0c"),
            Some(("metadata".into(), "a/b~c".into()))
        );
        assert_eq!(pointer("/metadata/"), None);
        assert_eq!(pointer("metadata/a"), None);
        assert_eq!(pointer("/metadata/a/b"), None);
        assert_eq!(pointer("/metadata/a~2"), None);
        let ops = patch(&json!([{"op": "add", "path": "/metadata/k", "value": 1}])).unwrap();
        assert_eq!(
            ops,
            vec![PatchOp::Add {
                key: "k".into(),
                value: json!(1)
            }]
        );
        assert!(patch(&json!([{"op": "add", "path": "/other/k", "value": 1}])).is_err());
        assert!(patch(&json!([{"op": "add", "path": "/metadata/k"}])).is_err());
        assert!(patch(&json!([{"op": "move", "path": "/metadata/k"}])).is_err());
        assert!(patch(&json!({"op": "add"})).is_err());
    }

    #[test]
    fn purge_targets_default_to_everything() {
        assert_eq!(purge_targets(None), Ok((true, true)));
        assert_eq!(
            purge_targets(Some(&json!({"resource_types": ["messages"]}))),
            Ok((true, false))
        );
        assert!(purge_targets(Some(&json!({"resource_types": ["bogus"]}))).is_err());
        assert!(purge_targets(Some(&json!({}))).is_err());
    }
}
