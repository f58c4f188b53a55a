//! The WebSocket wire format (reference §7.2–7.5): request and response envelopes, carried
//! as JSON in text frames or MessagePack in binary frames. A response always uses the
//! encoding of the request it answers.

use axum::extract::ws::Message;
use serde_json::{json, Map, Value};

/// How a frame was (and its answer will be) encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Json,
    MsgPack,
}

impl Codec {
    /// Decodes a frame's payload into a JSON value.
    pub fn decode(self, payload: &[u8]) -> Result<Value, String> {
        match self {
            Codec::Json => serde_json::from_slice(payload)
                .map_err(|e| format!("Can't decode text (JSON) request. {e}")),
            Codec::MsgPack => rmp_serde::from_slice(payload)
                .map_err(|e| format!("Can't decode binary (MessagePack) request. {e}")),
        }
    }

    /// Encodes a document as a frame of this codec.
    pub fn encode(self, doc: &Value) -> Message {
        match self {
            Codec::Json => Message::Text(doc.to_string().into()),
            Codec::MsgPack => match rmp_serde::to_vec_named(doc) {
                Ok(bytes) => Message::Binary(bytes.into()),
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode a MessagePack frame");
                    Message::Text(doc.to_string().into())
                }
            },
        }
    }
}

/// A decoded request envelope.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub action: String,
    pub headers: Map<String, Value>,
    pub body: Map<String, Value>,
}

impl Envelope {
    /// The echo of this request in its response (`request` member), made of the request
    /// itself rather than a copy. `authenticate` is echoed without its headers and body, so
    /// its token never travels back.
    pub fn into_echo(self) -> Value {
        if self.action == "authenticate" {
            return json!({"action": "authenticate", "body": {}, "headers": {}, "api": "v2"});
        }
        let mut echo = Map::with_capacity(4);
        echo.insert("action".into(), Value::String(self.action));
        echo.insert("body".into(), Value::Object(self.body));
        echo.insert("headers".into(), Value::Object(self.headers));
        echo.insert("api".into(), "v2".into());
        Value::Object(echo)
    }

    /// A header as a string; non-string values are a schema error.
    pub fn header(&self, name: &str) -> Result<Option<&str>, Rejection> {
        match self.headers.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Rejection::schema()),
        }
    }
}

/// A frame refused before any action runs, with its status and `error` text.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub status: u16,
    pub error: String,
}

impl Rejection {
    pub fn new(status: u16, error: impl Into<String>) -> Self {
        Rejection {
            status,
            error: error.into(),
        }
    }

    pub fn schema() -> Self {
        Rejection::new(400, "Schema validation failed.")
    }
}

/// The echo used when a frame could not be read as a request at all.
pub fn null_echo() -> Value {
    json!({"action": null, "body": {}, "headers": {}, "api": "v2"})
}

/// Parses a decoded frame into an envelope (steps 2–4 of §7.3, except per-action fields).
pub fn envelope(doc: Value) -> Result<Envelope, Rejection> {
    let Value::Object(mut top) = doc else {
        return Err(Rejection::new(
            400,
            "Unexpected body type. Expected dict or dict like.",
        ));
    };
    let action = match top.remove("action") {
        Some(Value::String(a)) => a,
        Some(other) => {
            return Err(Rejection::new(
                400,
                format!("{other} is not a valid action"),
            ))
        }
        None => return Err(Rejection::schema()),
    };
    let headers = match top.remove("headers") {
        Some(Value::Object(h)) => h,
        _ => return Err(Rejection::schema()),
    };
    let body = match top.remove("body") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(b)) => b,
        Some(_) => return Err(Rejection::schema()),
    };
    Ok(Envelope {
        action,
        headers,
        body,
    })
}

/// A response envelope; `seq` is the log position a write produced (`X-Cairn-Sequence`).
pub fn response(request: Value, status: u16, body: Value, seq: Option<i64>) -> Value {
    let mut headers = json!({ "status": status });
    if let Some(seq) = seq {
        headers["X-Cairn-Sequence"] = seq.into();
    }
    json!({"request": request, "body": body, "headers": headers})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_checked_in_order() {
        assert_eq!(envelope(json!([1])).unwrap_err().status, 400);
        assert!(envelope(json!({"action": "x"})).is_err());
        assert!(envelope(json!({"action": "x", "headers": {}, "body": 1})).is_err());
        let e = envelope(json!({"action": "queue_list", "headers": {"a": "b"}})).unwrap();
        assert_eq!(e.action, "queue_list");
        assert!(e.body.is_empty());
    }

    #[test]
    fn msgpack_round_trips() {
        let doc = json!({"action": "queue_list", "headers": {}, "body": {"limit": 5}});
        let Message::Binary(bytes) = Codec::MsgPack.encode(&doc) else {
            panic!("expected a binary frame");
        };
        assert_eq!(Codec::MsgPack.decode(&bytes).unwrap(), doc);
        assert!(Codec::MsgPack.decode(b"\xc1garbage").is_err());
    }
}
