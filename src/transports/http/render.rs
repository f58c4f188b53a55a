//! JSON shapes of REST responses (reference §2), built from action replies. Hrefs are
//! relative paths under `/v2`, as Zaqar emits them.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::model::{ClaimId, QueueName, Timestamp};
use crate::projections::{ClaimView, MessageView, QueueStats};
use crate::transports::views;

/// A JSON response with Zaqar's content type.
pub fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=UTF-8"),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A 201 with a JSON body and a `Location` header.
pub fn created(body: &impl Serialize, location: &str) -> Response {
    let mut response = json(StatusCode::CREATED, body);
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// An empty response with a status and optional `Location`.
pub fn empty(status: StatusCode, location: Option<&str>) -> Response {
    let mut response = status.into_response();
    if let Some(loc) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        response.headers_mut().insert(header::LOCATION, loc);
    }
    response
}

pub fn queue_href(queue: &QueueName) -> String {
    format!("/v2/queues/{queue}")
}

pub fn message_href(queue: &QueueName, id: &str) -> String {
    format!("/v2/queues/{queue}/messages/{id}")
}

pub fn claim_href(queue: &QueueName, claim: &ClaimId) -> String {
    format!("/v2/queues/{queue}/claims/{claim}")
}

/// A message as REST shows it; the href carries the live claim, if any.
#[derive(Serialize)]
pub struct MessageJson<'a> {
    id: &'a str,
    href: String,
    ttl: i64,
    age: i64,
    body: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum: Option<&'a str>,
}

pub fn message<'a>(
    queue: &QueueName,
    m: &'a MessageView,
    now: Timestamp,
    show_checksum: bool,
) -> MessageJson<'a> {
    let mut href = message_href(queue, m.id.as_str());
    if let Some(claim) = &m.claim {
        href.push_str("?claim_id=");
        href.push_str(claim.as_str());
    }
    MessageJson {
        id: m.id.as_str(),
        href,
        ttl: m.ttl,
        age: m.created_at.secs_until(now),
        body: &m.body,
        checksum: m.checksum.as_deref().filter(|_| show_checksum),
    }
}

pub fn claim(queue: &QueueName, c: &ClaimView, now: Timestamp, show_checksum: bool) -> Value {
    let messages: Vec<_> = c
        .messages
        .iter()
        .map(|m| message(queue, m, now, show_checksum))
        .collect();
    json!({
        "age": c.updated_at.secs_until(now),
        "ttl": c.ttl,
        "href": claim_href(queue, &c.id),
        "messages": messages,
    })
}

pub fn stats(queue: &QueueName, s: &QueueStats, now: Timestamp) -> Value {
    views::stats(s, now, |id| ("href", message_href(queue, id.as_str())))
}

/// A `links` array: one `next` link for a non-empty page, none for an empty one.
pub fn links(non_empty: bool, path: &str, params: &[(String, String)], marker: &str) -> Value {
    if !non_empty {
        return json!([]);
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    query.append_pair("marker", marker);
    json!([{"rel": "next", "href": format!("{path}?{}", query.finish())}])
}
