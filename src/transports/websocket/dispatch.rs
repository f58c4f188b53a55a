//! WebSocket actions (reference §7.8): a table from each action name to its decoder. A
//! decoder turns the frame's body into an `actions` action through the same validating
//! constructors REST uses, and pairs it with how its typed reply is rendered in Zaqar's
//! WebSocket shapes (`render.rs` holds the shared pieces).

use serde_json::{json, Value};

use super::catalogue;
use super::protocol::Rejection;
use super::render::{message, messages};
use super::request::{api, Frame, Refusal, Rendered, Request};
use crate::actions::{self as act, decode, BulkDeleted};
use crate::commands::{ClaimMessages, CreateSubscription, DeleteMessage, PostMessages, RenewClaim};
use crate::error::ApiError;
use crate::model::SubscriptionSpec;
use crate::projections::Page;
use crate::transports::views;

type Decoder = fn(&Frame<'_>) -> Result<Request, Refusal>;

/// Every action answered through [`decode_action`], with its decoder.
const TABLE: &[(&str, Decoder)] = &[
    ("event_list", event_list),
    ("event_subscribe", session),
    ("message_history", message_history),
    ("authenticate", session),
    ("ping_node", ping_node),
    ("check_node_health", check_node_health),
    ("get_home_doc", |_| {
        Ok(Request::Immediate(200, home_document()))
    }),
    ("queue_list", queue_list),
    ("queue_create", queue_create),
    ("queue_get", queue_get),
    ("queue_delete", queue_delete),
    ("queue_get_stats", queue_get_stats),
    ("queue_purge", queue_purge),
    ("message_list", message_list),
    ("message_get", message_get),
    ("message_get_many", message_get_many),
    ("message_post", message_post),
    ("message_delete", message_delete),
    ("message_delete_many", message_delete_many),
    ("claim_create", claim_create),
    ("claim_get", claim_get),
    ("claim_update", claim_update),
    ("claim_delete", claim_delete),
    ("subscription_create", subscription_create),
    ("subscription_get", subscription_get),
    ("subscription_list", subscription_list),
    ("subscription_delete", subscription_delete),
    ("pool_list", catalogue::pool_list_action),
    ("pool_create", catalogue::pool_create),
    ("pool_update", catalogue::pool_update),
    ("pool_get", catalogue::pool_get),
    ("pool_delete", catalogue::pool_delete),
    ("flavor_list", catalogue::flavor_list),
    ("flavor_create", catalogue::flavor_create),
    ("flavor_update", catalogue::flavor_update),
    ("flavor_get", catalogue::flavor_get),
    ("flavor_delete", catalogue::flavor_delete),
];

/// Whether the WebSocket API knows the action.
pub fn is_action(name: &str) -> bool {
    TABLE.iter().any(|(n, _)| *n == name)
}

/// Decodes one action (after identity checks).
pub fn decode_action(action: &str, frame: &Frame<'_>) -> Result<Request, Refusal> {
    match TABLE.iter().find(|(name, _)| *name == action) {
        Some((_, decoder)) => decoder(frame),
        None => Err(Rejection::new(400, format!("{action} is not a valid action")).into()),
    }
}

/// The actions this server answers, as a discovery document.
fn home_document() -> Value {
    let names: Vec<&str> = TABLE.iter().map(|(name, _)| *name).collect();
    json!({"api": "v2", "actions": names})
}

/// The actions that bind or change the connection (`authenticate`, `event_subscribe`): the
/// session answers them before decoding, so they never reach the table's decoder.
fn session(_: &Frame<'_>) -> Result<Request, Refusal> {
    Err(Rejection::new(400, "This action is answered by the session.").into())
}

fn ping_node(_: &Frame<'_>) -> Result<Request, Refusal> {
    api(act::Ping, |up, _| match up {
        true => (204, json!({})),
        false => (503, json!({"error": "The store is not reachable."})),
    })
}

fn check_node_health(_: &Frame<'_>) -> Result<Request, Refusal> {
    api(act::CheckHealth, |h, _| (200, views::health(&h)))
}

fn event_list(f: &Frame<'_>) -> Result<Request, Refusal> {
    let action = act::EventList::new(
        f.project,
        f.text("marker")?.as_deref(),
        f.int("limit")?,
        f.text("queue_name")?.as_deref(),
        f.text("types")?.as_deref(),
        f.text("since")?.as_deref(),
        f.text("until")?.as_deref(),
        f.limits,
    )?;
    api(action, |feed, _| {
        let mut doc = json!({ "events": views::feed(&feed) });
        if feed.horizon > 0 {
            doc["log_horizon"] = feed.horizon.into();
        }
        if feed.pooled {
            // The marker of the next page (one position per pool).
            doc["marker"] = feed.next.clone().into();
        }
        (200, doc)
    })
}

fn message_history(f: &Frame<'_>) -> Result<Request, Refusal> {
    let action = act::MessageHistory {
        queue: f.queue()?,
        id: f.field("message_id")?.to_owned(),
    };
    api(action, |h, _| {
        (200, views::history(&h.id, &h.events, h.horizon))
    })
}

fn queue_list(f: &Frame<'_>) -> Result<Request, Refusal> {
    let action = act::QueueList::new(
        f.text("marker")?,
        f.int("limit")?,
        None,
        Vec::new(),
        false,
        f.limits,
    )?;
    let detailed = f.flag("detailed")?;
    api(action, move |page, _| {
        let items: Vec<Value> = page
            .queues
            .iter()
            .map(|q| match detailed {
                true => json!({"name": q.name.as_str(), "metadata": q.metadata.as_map()}),
                false => json!({"name": q.name.as_str()}),
            })
            .collect();
        (200, json!({ "queues": items }))
    })
}

fn queue_create(f: &Frame<'_>) -> Result<Request, Refusal> {
    let queue = f.queue()?;
    let metadata = match f.body.get("metadata") {
        None | Some(Value::Null) => Default::default(),
        Some(doc) => {
            f.limits.metadata_size(doc.to_string().len())?;
            decode::metadata(doc, f.limits)?
        }
    };
    let text = json!(format!("Queue {queue} created."));
    let action = act::QueueCreate { queue, metadata };
    api(action, |new, _| (if new { 201 } else { 204 }, text))
}

fn queue_get(f: &Frame<'_>) -> Result<Request, Refusal> {
    let action = act::QueueGet { queue: f.queue()? };
    api(action, |m, _| (200, Value::Object(m.into_map())))
}

fn queue_delete(f: &Frame<'_>) -> Result<Request, Refusal> {
    let queue = f.queue()?;
    let text = json!(format!("Queue {queue} removed."));
    api(act::QueueDelete { queue }, |(), _| (204, text))
}

fn queue_get_stats(f: &Frame<'_>) -> Result<Request, Refusal> {
    let action = act::QueueGetStats { queue: f.queue()? };
    api(action, |s, now| {
        let doc = views::stats(&s.stats, now, |id| ("id", id.to_string()));
        (if s.exists { 200 } else { 404 }, doc)
    })
}

fn queue_purge(f: &Frame<'_>) -> Result<Request, Refusal> {
    let queue = f.queue()?;
    let doc = f
        .body
        .get("resource_types")
        .map(|types| json!({"resource_types": types}));
    let (messages, subscriptions) = decode::purge_targets(doc.as_ref())?;
    let action = act::QueuePurge {
        queue,
        messages,
        subscriptions,
    };
    api(action, |(), _| (204, json!({})))
}

fn message_list(f: &Frame<'_>) -> Result<Request, Refusal> {
    let action = act::MessageList::new(
        f.queue()?,
        f.text("marker")?,
        f.int("limit")?,
        f.flag("echo")?,
        f.flag("include_claimed")?,
        f.flag("include_delayed")?,
        f.limits,
    )?;
    api(action, |page, now| {
        (
            200,
            json!({"messages": messages(&page.messages, now, false)}),
        )
    })
}

fn message_get(f: &Frame<'_>) -> Result<Request, Refusal> {
    let action = act::MessageGet {
        queue: f.queue()?,
        id: f.field("message_id")?.to_owned(),
    };
    api(action, |m, now| {
        (200, json!({"messages": message(&m, now, false)}))
    })
}

fn message_get_many(f: &Frame<'_>) -> Result<Request, Refusal> {
    let queue = f.queue()?;
    let ids = f.strings("message_ids")?.ok_or_else(Rejection::schema)?;
    let action = act::MessageGetMany::new(queue, ids, f.limits)?;
    Ok(Request::Api(Box::new(Rendered {
        action,
        render: |found: Vec<_>, now| (200, json!({"messages": messages(&found, now, false)})),
        // None of the ids found: an empty list, not a 404.
        on_error: |e: &ApiError| {
            matches!(e, ApiError::NotFound(_)).then(|| (200, json!({"messages": []})))
        },
    })))
}

fn message_post(f: &Frame<'_>) -> Result<Request, Refusal> {
    let queue = f.queue()?;
    let list = f.body.get("messages").ok_or_else(Rejection::schema)?;
    let messages = decode::message_list(list, f.limits)?;
    let size = decode::json_len(list);
    let cmd = PostMessages::new(queue, messages, size, f.limits)?;
    api(act::MessagePost(cmd), |ids, _| {
        let ids: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        (201, json!({ "message_ids": ids }))
    })
}

fn message_delete(f: &Frame<'_>) -> Result<Request, Refusal> {
    let queue = f.queue()?;
    let claim = f.text("claim_id")?;
    let cmd = DeleteMessage::new(queue, f.field("message_id")?, claim.as_deref())?;
    api(act::MessageDelete(cmd), |(), _| (204, json!({})))
}

fn message_delete_many(f: &Frame<'_>) -> Result<Request, Refusal> {
    let action = act::MessageDeleteMany::new(
        f.queue()?,
        f.strings("message_ids")?,
        f.strings("claim_ids")?,
        f.int("pop")?,
        f.limits,
    )?;
    api(action, |done, now| match done {
        BulkDeleted::Deleted => (204, json!({})),
        BulkDeleted::Popped(list) => {
            let items: Vec<_> = list.iter().map(|m| views::popped(m, now)).collect();
            (200, json!({ "messages": items }))
        }
    })
}

fn claim_create(f: &Frame<'_>) -> Result<Request, Refusal> {
    let cmd = ClaimMessages::new(
        f.queue()?,
        f.int("ttl")?,
        f.int("grace")?,
        f.int("limit")?,
        f.limits,
    )?;
    api(act::ClaimCreate(cmd, None), |claimed, now| match claimed {
        None => (204, json!({"claim_id": null})),
        Some((claim_id, list)) => (
            201,
            json!({"claim_id": claim_id.as_str(), "messages": messages(&list, now, true)}),
        ),
    })
}

fn claim_get(f: &Frame<'_>) -> Result<Request, Refusal> {
    let action = act::ClaimGet {
        queue: f.queue()?,
        id: f.field("claim_id")?.to_owned(),
    };
    api(action, |c, now| {
        let doc = json!({"age": c.updated_at.secs_until(now), "ttl": c.ttl,
                         "messages": messages(&c.messages, now, true)});
        (200, doc)
    })
}

fn claim_update(f: &Frame<'_>) -> Result<Request, Refusal> {
    let queue = f.queue()?;
    let id = f.field("claim_id")?;
    let cmd = RenewClaim::new(queue, id, f.int("ttl")?, f.int("grace")?, f.limits)?;
    let text = json!(format!("Claim {id} updated."));
    api(act::ClaimUpdate(cmd), |(), _| (204, text))
}

fn claim_delete(f: &Frame<'_>) -> Result<Request, Refusal> {
    let queue = f.queue()?;
    let id = f.field("claim_id")?.to_owned();
    let text = json!(format!("Claim {id} deleted."));
    let action = act::ClaimDelete { queue, id };
    api(action, |(), _| (204, text))
}

/// With a `subscriber`, an ordinary subscription; without one, a push subscription of this
/// connection (the session creates it).
fn subscription_create(f: &Frame<'_>) -> Result<Request, Refusal> {
    let queue = f.queue()?;
    if f.body.get("subscriber").is_some_and(|s| !s.is_null()) {
        let doc = Value::Object(f.body.clone());
        let spec = SubscriptionSpec::for_create(&doc, f.limits, f.now)?;
        let cmd = CreateSubscription::new(queue.clone(), spec);
        // The generated id tells a new subscription from an existing one (a 409 here).
        let fresh = cmd.id.clone();
        let created = format!("Subscription {queue} created.");
        let refused = json!(format!("Subscription {queue} not created."));
        let conflict = refused.clone();
        return Ok(Request::Api(Box::new(Rendered {
            action: act::SubscriptionCreate(cmd),
            render: move |id: crate::model::SubscriptionId, _| match id == fresh {
                true => (
                    201,
                    json!({"subscription_id": id.as_str(), "message": created}),
                ),
                false => (409, refused),
            },
            on_error: move |e: &ApiError| {
                matches!(e, ApiError::Conflict(_)).then_some((409, conflict))
            },
        })));
    }
    let mut doc = json!({ "subscriber": "http://connection" });
    for key in ["ttl", "options"] {
        if let Some(value) = f.body.get(key).filter(|v| !v.is_null()) {
            doc[key] = value.clone();
        }
    }
    let spec = SubscriptionSpec::for_update(&doc, f.limits, f.now)?;
    Ok(Request::Subscribe {
        queue,
        ttl: spec.ttl,
        options: spec.options,
    })
}

fn subscription_get(f: &Frame<'_>) -> Result<Request, Refusal> {
    let action = act::SubscriptionGet {
        queue: f.queue()?,
        id: f.field("subscription_id")?.to_owned(),
    };
    api(action, |s, now| (200, views::subscription(&s, now)))
}

fn subscription_list(f: &Frame<'_>) -> Result<Request, Refusal> {
    let page = Page {
        marker: f.text("marker")?,
        limit: f.limits.subscription_page(f.int("limit")?)?,
    };
    let action = act::SubscriptionList {
        queue: f.queue()?,
        page,
    };
    api(action, |list, now| {
        let items: Vec<_> = list.iter().map(|s| views::subscription(s, now)).collect();
        (200, json!({ "subscriptions": items }))
    })
}

fn subscription_delete(f: &Frame<'_>) -> Result<Request, Refusal> {
    let queue = f.queue()?;
    let id = f.field("subscription_id")?.to_owned();
    let text = json!(format!("Subscription {id} removed."));
    let action = act::SubscriptionDelete { queue, id };
    api(action, |(), _| (204, text))
}
