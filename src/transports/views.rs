//! JSON shapes that REST and WebSocket share (pop results, subscriptions, stats), so the two
//! transports cannot drift apart. Transport-specific shapes (hrefs, envelopes) stay in each
//! transport's own renderer.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::events::{Envelope, Event};
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

/// The health document shared by both transports (REST adds its `operation_status`).
pub fn health(h: &crate::actions::Health) -> Value {
    let mut doc = json!({
        "storage_reachable": h.storage_reachable,
        "message_volume": {"free": h.free, "claimed": h.claimed, "total": h.free + h.claimed},
    });
    if let Some(relay) = &h.event_stream {
        doc["event_stream"] = json!({
            "connected": relay.connected,
            "published_seq": relay.published,
            "lag": relay.lag,
        });
    }
    if !h.pools.is_empty() {
        // Zaqar's pooled document: the catalogue, then each pool under its name (a pool
        // named like one of the document's own keys is left out).
        doc["catalog_reachable"] = h.catalog_reachable.into();
        for pool in &h.pools {
            if doc.get(&pool.name).is_none() && pool.name != "operation_status" {
                let volume = pool.free + pool.claimed;
                doc[&pool.name] = json!({
                    "storage_reachable": pool.storage_reachable,
                    "message_volume": {"free": pool.free, "claimed": pool.claimed, "total": volume},
                });
            }
        }
    }
    doc
}

/// One event of the feed: where and when it happened, who caused it, and what happened.
pub fn event(env: &Envelope) -> Value {
    let mut payload = serde_json::to_value(&env.event).unwrap_or(Value::Null);
    if let Some(fields) = payload.as_object_mut() {
        fields.remove("type");
    }
    json!({
        "seq": env.seq,
        "type": env.event.kind(),
        "at": env.at.to_rfc3339_millis(),
        "queue": env.queue.as_str(),
        "client_id": env.client_id.as_ref().map(|c| c.as_str()),
        "request_id": env.request_id,
        "event": payload,
    })
}

/// A page of the event feed; with pools, each event names its pool (`default`: the node's
/// own store).
pub fn feed(feed: &crate::actions::Events) -> Vec<Value> {
    feed.events
        .iter()
        .zip(&feed.pools)
        .map(|(env, pool)| {
            let mut item = event(env);
            if feed.pooled {
                item["pool"] = pool.as_deref().unwrap_or(crate::actions::HOME_POOL).into();
            }
            item
        })
        .collect()
}

/// One step of a message's history: the event, narrowed to what concerns this message.
pub fn history_entry(env: &Envelope, id: &MessageId) -> Value {
    let mut entry = event(env);
    let details = &mut entry["event"];
    match &env.event {
        Event::MessagesPosted(e) => {
            if let Some(m) = e.messages.iter().find(|m| &m.id == id) {
                *details = json!({
                    "marker": m.marker,
                    "ttl": m.ttl,
                    "delay": env.at.secs_until(m.delay_until),
                    "expires": m.expires_at.to_rfc3339_millis(),
                });
            }
        }
        Event::MessagesClaimed(e) => {
            if let Some(m) = e.messages.iter().find(|m| &m.id == id) {
                *details = json!({
                    "claim_id": e.claim_id.as_str(),
                    "ttl": e.ttl,
                    "grace": e.grace,
                    "claim_expires": e.expires_at.to_rfc3339_millis(),
                    "claim_count": m.claim_count,
                    "message_expires": m.expires_at.to_rfc3339_millis(),
                });
            }
        }
        Event::MessageDeadLettered(e) => {
            *details = json!({
                "from_queue": env.queue.as_str(),
                "to_queue": e.to_queue.as_str(),
                "ttl": e.ttl,
                "expires": e.expires_at.to_rfc3339_millis(),
            });
        }
        Event::ClaimRenewed(e) => {
            let extended = e.extended.iter().find(|m| &m.id == id);
            *details = json!({
                "claim_id": e.claim_id.as_str(),
                "ttl": e.ttl,
                "grace": e.grace,
                "claim_expires": e.expires_at.to_rfc3339_millis(),
                "message_expires": extended.map(|m| m.expires_at.to_rfc3339_millis()),
            });
        }
        Event::MessagesDeleted(e) => {
            *details = json!({ "claim_id": e.claim_id.as_ref().map(|c| c.as_str()) });
        }
        Event::MessagesPopped(_) | Event::MessagesExpired(_) => *details = json!({}),
        Event::NotificationDelivered(e) => {
            if let Some(d) = e
                .deliveries
                .iter()
                .find(|d| d.message_id.as_ref() == Some(id))
            {
                *details = json!({
                    "subscription_id": e.subscription_id.as_str(),
                    "subscriber": e.subscriber,
                    "kind": e.kind,
                    "message_id": id.as_str(),
                    "attempt": d.attempt,
                    "status": d.status,
                });
            }
        }
        _ => {}
    }
    entry
}

/// A message's history document; `complete` says whether its posting is still in the log.
pub fn history(id: &MessageId, events: &[Envelope], horizon: i64) -> Value {
    let items: Vec<Value> = events.iter().map(|e| history_entry(e, id)).collect();
    let complete = events
        .first()
        .is_some_and(|e| matches!(e.event, Event::MessagesPosted(_)));
    let mut doc = json!({"message_id": id.as_str(), "complete": complete, "events": items});
    if horizon > 0 {
        doc["log_horizon"] = horizon.into();
    }
    doc
}

/// A pool (reference §8.1); its `options` only when `detailed`.
pub fn pool(name: &str, pool: &crate::model::Pool, detailed: bool) -> Value {
    let mut doc = json!({
        "name": name,
        "uri": pool.uri,
        "weight": pool.weight,
        "flavor": pool.flavor,
        "href": format!("/v2/pools/{name}"),
    });
    if detailed {
        doc["options"] = Value::Object(pool.options.clone());
    }
    doc
}

/// A flavor as `GET` shows it (reference §8.2): its pools, and the capabilities they offer.
pub fn flavor(flavor: &crate::actions::Flavor) -> Value {
    json!({
        "name": flavor.name,
        "href": format!("/v2/flavors/{}", flavor.name),
        "pool_list": flavor.pools,
        "capabilities": capabilities(flavor),
    })
}

/// A flavor as a listing shows it: its pools when it has any, its capabilities when
/// `detailed`.
pub fn flavor_listed(flavor: &crate::actions::Flavor, detailed: bool) -> Value {
    let mut doc = json!({
        "name": flavor.name,
        "href": format!("/v2/flavors/{}", flavor.name),
    });
    if !flavor.pools.is_empty() {
        doc["pool_list"] = json!(flavor.pools);
    }
    if detailed {
        doc["capabilities"] = capabilities(flavor);
    }
    doc
}

/// What a flavor's pools offer: every pool is a Cairn store, so all of Zaqar's
/// capabilities, or none without pools.
fn capabilities(flavor: &crate::actions::Flavor) -> Value {
    match flavor.pools.is_empty() {
        true => json!([]),
        false => json!(crate::model::catalogue::CAPABILITIES),
    }
}
