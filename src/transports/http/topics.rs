//! Topics (reference §2.7): `/v2/topics/…` is served by the queue handlers, acting on the
//! project's topic namespace (the caller's project is switched in `caller`), so topics have
//! every rule of queues — names, metadata, messages, subscriptions, notifications — and
//! live apart from them. This layer renders the answers as Zaqar renders topics: their
//! paths under `/v2/topics`, the `topics` key of the listing, and the three defaults a
//! topic's metadata shows. Paths are rewritten only in `href`s, `resources`, `links` and
//! `Location`; message bodies are never touched.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Where topic routes start.
pub const PREFIX: &str = "/v2/topics";
const QUEUES: &str = "/v2/queues";

/// Reserved keys a queue's metadata shows with defaults and a topic's does not (unless set).
const QUEUE_ONLY_DEFAULTS: [&str; 4] = [
    "_dead_letter_queue",
    "_dead_letter_queue_messages_ttl",
    "_max_claim_count",
    "_enable_encrypt_messages",
];

/// Renders a topic route's answer from the queue handler's.
pub async fn render(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let mut response = next.run(req).await;
    if let Some(location) = response.headers().get(header::LOCATION) {
        let rewritten = location.to_str().ok().map(to_topic_path);
        if let Some(value) = rewritten.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, value);
        }
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !is_json || !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(mut doc) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let segments = path.trim_end_matches('/').split('/').count();
    if method == Method::GET && segments == 4 {
        // GET /v2/topics/{topic}: the metadata document, the client's own values.
        trim_defaults(&mut doc);
    } else if method == Method::GET && path.trim_end_matches('/') == PREFIX {
        rewrite_paths(&mut doc);
        if let Some(items) = doc.as_object_mut().and_then(|o| o.remove("queues")) {
            let mut items = items;
            for item in items.as_array_mut().into_iter().flatten() {
                if let Some(metadata) = item.get_mut("metadata") {
                    trim_defaults(metadata);
                }
            }
            doc["topics"] = items;
        }
    } else {
        rewrite_paths(&mut doc);
    }
    let text = doc.to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

fn to_topic_path(path: &str) -> String {
    match path.strip_prefix(QUEUES) {
        Some(rest) if rest.is_empty() || rest.starts_with(['/', '?']) => format!("{PREFIX}{rest}"),
        _ => path.to_owned(),
    }
}

/// Rewrites queue paths to topic paths in every string of the document, except inside
/// message bodies.
fn rewrite_paths(doc: &mut Value) {
    match doc {
        Value::String(s) if s.starts_with(QUEUES) => *s = to_topic_path(s),
        Value::Array(items) => items.iter_mut().for_each(rewrite_paths),
        Value::Object(fields) => {
            for (key, value) in fields.iter_mut() {
                if key != "body" && key != "metadata" {
                    rewrite_paths(value);
                }
            }
        }
        _ => {}
    }
}

/// Drops the queue-only reserved keys that only carry their defaults.
fn trim_defaults(metadata: &mut Value) {
    let Some(fields) = metadata.as_object_mut() else {
        return;
    };
    for key in QUEUE_ONLY_DEFAULTS {
        if fields
            .get(key)
            .is_some_and(|v| v.is_null() || v == &Value::Bool(false))
        {
            fields.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_become_topic_paths_outside_bodies() {
        let mut doc = json!({
            "messages": [{"href": "/v2/queues/t/messages/1", "body": {"x": "/v2/queues/t"}}],
            "links": [{"rel": "next", "href": "/v2/queues/t/messages?marker=2"}],
            "resources": ["/v2/queues/t/messages/1"],
            "name": "/v2/queuesque",
        });
        rewrite_paths(&mut doc);
        assert_eq!(doc["messages"][0]["href"], "/v2/topics/t/messages/1");
        assert_eq!(doc["messages"][0]["body"]["x"], "/v2/queues/t");
        assert_eq!(doc["links"][0]["href"], "/v2/topics/t/messages?marker=2");
        assert_eq!(doc["resources"][0], "/v2/topics/t/messages/1");
        assert_eq!(doc["name"], "/v2/queuesque");
    }
}
