//! Rendering of action replies in Zaqar's WebSocket shapes (reference §7.8): no hrefs,
//! `claim_id` on claimed messages, plain-string bodies for some actions, and the few
//! failures the WebSocket API reports differently from REST.

use serde_json::{json, Value};

use super::dispatch::Render;
use crate::actions::Reply;
use crate::error::ApiError;
use crate::model::Timestamp;
use crate::projections::MessageView;
use crate::transports::views;

/// A message as the WebSocket API shows it.
fn message(m: &MessageView, now: Timestamp, claimed: bool) -> Value {
    let body: Value = serde_json::from_str(m.body.get()).unwrap_or(Value::Null);
    json!({
        "id": m.id.as_str(),
        "claim_id": if claimed { m.claim.as_ref().map(|c| c.as_str()) } else { None },
        "ttl": m.ttl,
        "age": m.created_at.secs_until(now),
        "body": body,
    })
}

fn messages(list: &[MessageView], now: Timestamp, claimed: bool) -> Vec<Value> {
    list.iter().map(|m| message(m, now, claimed)).collect()
}

/// Status and body of a successful reply.
pub fn render(reply: Reply, how: &Render, now: Timestamp) -> (u16, Value) {
    let queue = how.queue.as_ref().map_or("", |q| q.as_str());
    let id = how.id.as_deref().unwrap_or("");
    match reply {
        Reply::Pong(true) => (204, json!({})),
        Reply::Shared(url) => (200, json!(url)),
        Reply::Pong(false) => (503, json!({"error": "The store is not reachable."})),
        Reply::Health(h) => (200, crate::transports::views::health(&h)),
        Reply::Queues { queues, .. } => {
            let items: Vec<Value> = queues
                .iter()
                .map(|q| match how.detailed {
                    true => json!({"name": q.name.as_str(), "metadata": q.metadata.as_map()}),
                    false => json!({"name": q.name.as_str()}),
                })
                .collect();
            (200, json!({ "queues": items }))
        }
        Reply::QueueCreated(true) => (201, json!(format!("Queue {queue} created."))),
        Reply::QueueCreated(false) => (204, json!(format!("Queue {queue} created."))),
        Reply::Exists(e) => (200, json!({ "exists": e })),
        Reply::Metadata(m) => (200, Value::Object(m.into_map())),
        Reply::Stats { stats, exists } => {
            let doc = views::stats(&stats, now, |id| ("id", id.to_string()));
            (if exists { 200 } else { 404 }, doc)
        }
        Reply::Posted { ids } => {
            let ids: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
            (201, json!({ "message_ids": ids }))
        }
        Reply::Messages { messages: list, .. } => {
            (200, json!({"messages": messages(&list, now, false)}))
        }
        Reply::Message(m) => (200, json!({"messages": message(&m, now, false)})),
        Reply::Popped(list) => {
            let items: Vec<_> = list.iter().map(|m| views::popped(m, now)).collect();
            (200, json!({ "messages": items }))
        }
        Reply::Claimed(None) => (204, json!({"claim_id": null})),
        Reply::Claimed(Some((claim_id, list))) => (
            201,
            json!({"claim_id": claim_id.as_str(), "messages": messages(&list, now, true)}),
        ),
        Reply::Claim(c) => (
            200,
            json!({"age": c.updated_at.secs_until(now), "ttl": c.ttl,
                   "messages": messages(&c.messages, now, true)}),
        ),
        Reply::SubscriptionCreated(sid) if how.id.as_deref() != Some(sid.as_str()) => {
            (409, json!(format!("Subscription {queue} not created.")))
        }
        Reply::SubscriptionCreated(sid) => (
            201,
            json!({"subscription_id": sid.as_str(),
                   "message": format!("Subscription {queue} created.")}),
        ),
        Reply::Subscriptions(list) => {
            let items: Vec<_> = list.iter().map(|s| views::subscription(s, now)).collect();
            (200, json!({ "subscriptions": items }))
        }
        Reply::Subscription(s) => (200, views::subscription(&s, now)),
        Reply::Events { events, horizon } => {
            let items: Vec<Value> = events.iter().map(views::event).collect();
            let mut doc = json!({ "events": items });
            if horizon > 0 {
                doc["log_horizon"] = horizon.into();
            }
            (200, doc)
        }
        Reply::History {
            id,
            events,
            horizon,
        } => (200, views::history(&id, &events, horizon)),
        Reply::Done => match how.action.as_str() {
            "queue_delete" => (204, json!(format!("Queue {queue} removed."))),
            "claim_update" => (204, json!(format!("Claim {id} updated."))),
            "claim_delete" => (204, json!(format!("Claim {id} deleted."))),
            "subscription_delete" => (204, json!(format!("Subscription {id} removed."))),
            _ => (204, json!({})),
        },
    }
}

/// Failures that the WebSocket API reports differently from REST.
pub fn render_error(err: &ApiError, how: &Render) -> Option<(u16, Value)> {
    match (how.action.as_str(), err) {
        ("message_get_many", ApiError::NotFound(_)) => Some((200, json!({"messages": []}))),
        ("subscription_create", ApiError::Conflict(_)) => {
            let queue = how.queue.as_ref().map_or("", |q| q.as_str());
            Some((409, json!(format!("Subscription {queue} not created."))))
        }
        _ => None,
    }
}
