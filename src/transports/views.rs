//! JSON shapes that REST and WebSocket share (pop results, subscriptions, stats), so the two
//! transports cannot drift apart. Transport-specific shapes (hrefs, envelopes) stay in each
//! transport's own renderer.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::model::{MessageId, Timestamp};
use crate::projections::{MessageView, QueueStats, SubscriptionView};

/// A message as pop returns it: the raw storage shape, without href.
#[derive(Serialize)]
pub struct Popped<'a> {
    id: &'a str,
    age: i64,
    ttl: i64,
    claim_count: i64,
    claim_id: Option<&'a str>,
    body: &'a RawValue,
}

pub fn popped(m: &MessageView, now: Timestamp) -> Popped<'_> {
    Popped {
        id: m.id.as_str(),
        age: m.created_at.secs_until(now),
        ttl: m.ttl,
        claim_count: m.claim_count,
        claim_id: None,
        body: &m.body,
    }
}

/// A subscription (reference §6.1).
pub fn subscription(s: &SubscriptionView, now: Timestamp) -> Value {
    json!({
        "id": s.id.as_str(),
        "source": s.source.as_str(),
        "subscriber": s.subscriber,
        "ttl": s.ttl,
        "age": s.created_at.secs_until(now),
        "options": s.options,
        "confirmed": s.confirmed,
    })
}

/// Queue stats; `reference` names the oldest/newest message (REST: `href`, WebSocket: `id`).
pub fn stats(
    s: &QueueStats,
    now: Timestamp,
    reference: impl Fn(&MessageId) -> (&'static str, String),
) -> Value {
    let mut messages = json!({
        "claimed": s.claimed,
        "free": s.total - s.claimed,
        "total": s.total,
    });
    let end = |(id, created): &(MessageId, Timestamp)| {
        let (key, value) = reference(id);
        let mut doc = json!({"age": created.secs_until(now), "created": created.to_rfc3339_secs()});
        doc[key] = Value::String(value);
        doc
    };
    if let (Some(oldest), Some(newest)) = (&s.oldest, &s.newest) {
        messages["oldest"] = end(oldest);
        messages["newest"] = end(newest);
    }
    json!({ "messages": messages })
}
