//! WebSocket actions (reference §7.8): each action name and body becomes an
//! `actions::Action` through the same validating constructors REST uses, and each reply is
//! rendered by `render.rs`.

use serde_json::{json, Map, Value};

use super::protocol::Rejection;
use crate::actions::{decode, Action, ListMessages};
use crate::commands::{ClaimMessages, CreateSubscription, DeleteMessage, PostMessages, RenewClaim};
use crate::error::ApiError;
use crate::model::{Limits, ProjectId, QueueName, SubscriptionSpec, Timestamp};

/// What a frame asks for.
#[derive(Debug)]
pub enum Request {
    /// An API action, and how to render its reply.
    Api(Action, Render),
    /// A push subscription of this connection to a queue.
    Subscribe {
        queue: QueueName,
        ttl: Option<i64>,
        options: Option<Map<String, Value>>,
    },
    /// Answered without touching the store.
    Immediate(u16, Value),
}

/// How to render a reply: the action and the names it needs.
#[derive(Debug, Clone)]
pub struct Render {
    pub action: String,
    pub queue: Option<QueueName>,
    pub id: Option<String>,
    pub detailed: bool,
}

fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, Rejection> {
    body.get(name)
        .and_then(Value::as_str)
        .ok_or_else(Rejection::schema)
}

fn opt_str(body: &Map<String, Value>, name: &str) -> Result<Option<String>, Rejection> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Rejection::schema()),
    }
}

fn opt_int(body: &Map<String, Value>, name: &str) -> Result<Option<i64>, Rejection> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(Rejection::schema),
    }
}

fn opt_bool(body: &Map<String, Value>, name: &str) -> Result<Option<bool>, Rejection> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(Rejection::schema),
    }
}

fn opt_strings(body: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, Rejection> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(Rejection::schema))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Rejection::schema()),
    }
}

/// A frame failed either before its action (rejection) or in the action's own validation.
#[derive(Debug)]
pub enum Refusal {
    Rejected(Rejection),
    Invalid(ApiError),
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Self {
        Refusal::Rejected(r)
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Invalid(e)
    }
}

/// Decodes one action (after identity checks).
pub fn decode_action(
    action: &str,
    body: &Map<String, Value>,
    project: &ProjectId,
    limits: &Limits,
    now: Timestamp,
) -> Result<Request, Refusal> {
    let queue = || -> Result<QueueName, Refusal> {
        Ok(QueueName::new(field(body, "queue_name")?, project)?)
    };
    let render = |queue: Option<QueueName>, id: Option<String>| Render {
        action: action.to_owned(),
        queue,
        id,
        detailed: false,
    };
    let api = |a: Action, r: Render| Ok(Request::Api(a, r));
    match action {
        "ping_node" => api(Action::Ping, render(None, None)),
        "check_node_health" => api(Action::Health, render(None, None)),
        "get_home_doc" => Ok(Request::Immediate(200, home_document())),
        "pool_list" | "pool_create" | "pool_update" | "pool_get" | "pool_delete"
        | "flavor_list" | "flavor_create" | "flavor_update" | "flavor_get" | "flavor_delete" => {
            Ok(Request::Immediate(
                501,
                json!({"error": "Pools and flavors are not supported by this server."}),
            ))
        }
        "queue_list" => {
            let a = Action::queue_list(
                opt_str(body, "marker")?,
                opt_int(body, "limit")?,
                None,
                Vec::new(),
                false,
                limits,
            )?;
            let mut r = render(None, None);
            r.detailed = opt_bool(body, "detailed")?.unwrap_or(false);
            api(a, r)
        }
        "queue_create" => {
            let q = queue()?;
            let metadata = match body.get("metadata") {
                None | Some(Value::Null) => Default::default(),
                Some(doc) => {
                    limits.metadata_size(doc.to_string().len())?;
                    decode::metadata(doc, limits)?
                }
            };
            api(
                Action::QueueCreate {
                    queue: q.clone(),
                    metadata,
                },
                render(Some(q), None),
            )
        }
        "queue_get" => {
            let q = queue()?;
            api(Action::QueueGet { queue: q.clone() }, render(Some(q), None))
        }
        "queue_delete" => {
            let q = queue()?;
            api(
                Action::QueueDelete { queue: q.clone() },
                render(Some(q), None),
            )
        }
        "queue_get_stats" => {
            let q = queue()?;
            api(
                Action::QueueStats { queue: q.clone() },
                render(Some(q), None),
            )
        }
        "queue_purge" => {
            let q = queue()?;
            let doc = body
                .get("resource_types")
                .map(|types| json!({"resource_types": types}));
            let (messages, subscriptions) = decode::purge_targets(doc.as_ref())?;
            let a = Action::QueuePurge {
                queue: q.clone(),
                messages,
                subscriptions,
            };
            api(a, render(Some(q), None))
        }
        "message_list" => {
            let q = queue()?;
            let list = ListMessages::new(
                q.clone(),
                opt_str(body, "marker")?,
                opt_int(body, "limit")?,
                opt_bool(body, "echo")?.unwrap_or(false),
                opt_bool(body, "include_claimed")?.unwrap_or(false),
                opt_bool(body, "include_delayed")?.unwrap_or(false),
                limits,
            )?;
            api(Action::MessageList(list), render(Some(q), None))
        }
        "message_get" => {
            let q = queue()?;
            let id = field(body, "message_id")?.to_owned();
            api(
                Action::MessageGet {
                    queue: q.clone(),
                    id,
                },
                render(Some(q), None),
            )
        }
        "message_get_many" => {
            let q = queue()?;
            let ids = opt_strings(body, "message_ids")?.ok_or_else(Rejection::schema)?;
            let a = Action::message_get_many(q.clone(), ids, limits)?;
            api(a, render(Some(q), None))
        }
        "message_post" => {
            let q = queue()?;
            let list = body.get("messages").ok_or_else(Rejection::schema)?;
            let messages = decode::message_list(list, limits)?;
            let size = decode::json_len(list);
            let cmd = PostMessages::new(q.clone(), messages, size, limits)?;
            api(Action::MessagePost(cmd), render(Some(q), None))
        }
        "message_delete" => {
            let q = queue()?;
            let claim = opt_str(body, "claim_id")?;
            let cmd = DeleteMessage::new(q.clone(), field(body, "message_id")?, claim.as_deref())?;
            api(Action::MessageDelete(cmd), render(Some(q), None))
        }
        "message_delete_many" => {
            let q = queue()?;
            let a = Action::message_delete_many(
                q.clone(),
                opt_strings(body, "message_ids")?,
                opt_strings(body, "claim_ids")?,
                opt_int(body, "pop")?,
                limits,
            )?;
            api(a, render(Some(q), None))
        }
        "claim_create" => {
            let q = queue()?;
            let cmd = ClaimMessages::new(
                q.clone(),
                opt_int(body, "ttl")?,
                opt_int(body, "grace")?,
                opt_int(body, "limit")?,
                limits,
            )?;
            api(Action::ClaimCreate(cmd), render(Some(q), None))
        }
        "claim_get" => {
            let q = queue()?;
            let id = field(body, "claim_id")?.to_owned();
            let a = Action::ClaimGet {
                queue: q.clone(),
                id,
            };
            api(a, render(Some(q), None))
        }
        "claim_update" => {
            let q = queue()?;
            let id = field(body, "claim_id")?;
            let cmd = RenewClaim::new(
                q.clone(),
                id,
                opt_int(body, "ttl")?,
                opt_int(body, "grace")?,
                limits,
            )?;
            api(
                Action::ClaimUpdate(cmd),
                render(Some(q), Some(id.to_owned())),
            )
        }
        "claim_delete" => {
            let q = queue()?;
            let id = field(body, "claim_id")?.to_owned();
            let a = Action::ClaimDelete {
                queue: q.clone(),
                id: id.clone(),
            };
            api(a, render(Some(q), Some(id)))
        }
        "subscription_create" => {
            let q = queue()?;
            if body.get("subscriber").is_some_and(|s| !s.is_null()) {
                let spec = SubscriptionSpec::for_create(&Value::Object(body.clone()), limits, now)?;
                let cmd = CreateSubscription::new(q.clone(), spec);
                // The generated id tells a new subscription from an existing one (a 409 here).
                let how = render(Some(q), Some(cmd.id.to_string()));
                return api(Action::SubscriptionCreate(cmd), how);
            }
            let mut doc = json!({ "subscriber": "http://connection" });
            for key in ["ttl", "options"] {
                if let Some(value) = body.get(key).filter(|v| !v.is_null()) {
                    doc[key] = value.clone();
                }
            }
            let spec = SubscriptionSpec::for_update(&doc, limits, now)?;
            Ok(Request::Subscribe {
                queue: q,
                ttl: spec.ttl,
                options: spec.options,
            })
        }
        "subscription_get" => {
            let q = queue()?;
            let id = field(body, "subscription_id")?.to_owned();
            let a = Action::SubscriptionGet {
                queue: q.clone(),
                id,
            };
            api(a, render(Some(q), None))
        }
        "subscription_list" => {
            let q = queue()?;
            let a = Action::SubscriptionList {
                queue: q.clone(),
                marker: opt_str(body, "marker")?,
                limit: limits.subscription_page(opt_int(body, "limit")?)?,
            };
            api(a, render(Some(q), None))
        }
        "subscription_delete" => {
            let q = queue()?;
            let id = field(body, "subscription_id")?.to_owned();
            let a = Action::SubscriptionDelete {
                queue: q.clone(),
                id: id.clone(),
            };
            api(a, render(Some(q), Some(id)))
        }
        "event_list" => {
            let a = Action::event_list(
                project,
                opt_str(body, "marker")?.as_deref(),
                opt_int(body, "limit")?,
                opt_str(body, "queue_name")?.as_deref(),
                opt_str(body, "types")?.as_deref(),
                opt_str(body, "since")?.as_deref(),
                opt_str(body, "until")?.as_deref(),
                limits,
            )?;
            api(a, render(None, None))
        }
        "message_history" => {
            let q = queue()?;
            let id = field(body, "message_id")?.to_owned();
            let a = Action::MessageHistory {
                queue: q.clone(),
                id,
            };
            api(a, render(Some(q), None))
        }
        other => Err(Rejection::new(400, format!("{other} is not a valid action")).into()),
    }
}

/// The actions this server answers, as a discovery document.
fn home_document() -> Value {
    json!({"api": "v2", "actions": ACTIONS.to_vec()})
}

/// Every action name the WebSocket API accepts.
pub const ACTIONS: [&str; 37] = [
    "event_list",
    "event_subscribe",
    "message_history",
    "authenticate",
    "ping_node",
    "check_node_health",
    "get_home_doc",
    "queue_list",
    "queue_create",
    "queue_get",
    "queue_delete",
    "queue_get_stats",
    "queue_purge",
    "message_list",
    "message_get",
    "message_get_many",
    "message_post",
    "message_delete",
    "message_delete_many",
    "claim_create",
    "claim_get",
    "claim_update",
    "claim_delete",
    "subscription_create",
    "subscription_get",
    "subscription_list",
    "subscription_delete",
    "pool_list",
    "pool_create",
    "pool_update",
    "pool_get",
    "pool_delete",
    "flavor_list",
    "flavor_create",
    "flavor_update",
    "flavor_get",
    "flavor_delete",
];
