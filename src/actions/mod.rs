//! The one request model of every transport. A request is an [`Action`] (what to do, with
//! validated arguments) plus a [`Context`] (who asks), as in Zaqar's API layer. Transports
//! decode their wire format into a [`Request`], call [`execute`], and render the [`Reply`];
//! every rule — validation, defaults, which store call answers — is here or below, once.

pub mod decode;
mod execute;
mod rules;

pub use execute::execute;

use crate::commands::{
    ClaimMessages, CreateSubscription, DeleteMessage, DeleteMessages, PatchOp, PopMessages,
    PostMessages, RenewClaim, UpdateSubscription,
};
use crate::error::ApiError;
use crate::events::{Envelope, EventFilter};
use crate::model::{
    ClaimId, ClientId, Limits, MessageId, ProjectId, QueueMetadata, QueueName, SubscriptionId,
    Timestamp,
};
use crate::projections::{
    ClaimView, MessageView, QueueFilter, QueueStats, QueueView, SubscriptionView,
};

/// Who is asking.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The project acted on: the principal's, or its topic namespace on topic routes.
    pub project: ProjectId,
    /// Who the request was authenticated as (see [`crate::auth`]).
    pub principal: std::sync::Arc<crate::auth::Principal>,
    pub client_id: ClientId,
    /// `req-<uuid>`, echoed as `x-openstack-request-id` and recorded with events.
    pub request_id: String,
}

/// A decoded request.
#[derive(Debug, Clone)]
pub struct Request {
    pub ctx: Context,
    pub action: Action,
}

/// Parameters of a message listing, as given.
#[derive(Debug, Clone, PartialEq)]
pub struct ListMessages {
    pub queue: QueueName,
    /// The marker as sent; one that cannot be a marker yields an empty page.
    pub marker: Option<String>,
    pub limit: i64,
    pub echo: bool,
    pub include_claimed: bool,
    pub include_delayed: bool,
}

impl ListMessages {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        queue: QueueName,
        marker: Option<String>,
        limit: Option<i64>,
        echo: bool,
        include_claimed: bool,
        include_delayed: bool,
        limits: &Limits,
    ) -> Result<Self, ApiError> {
        Ok(ListMessages {
            queue,
            marker,
            limit: limits.message_page(limit)?,
            echo,
            include_claimed,
            include_delayed,
        })
    }
}

impl Action {
    /// A queue listing; `metadata` filters compare stored values (integers when they parse).
    pub fn queue_list(
        marker: Option<String>,
        limit: Option<i64>,
        name: Option<String>,
        metadata: Vec<(String, String)>,
        with_count: bool,
        limits: &Limits,
    ) -> Result<Action, ApiError> {
        let metadata = metadata
            .into_iter()
            .map(|(k, v)| {
                let value = v
                    .parse::<i64>()
                    .map(serde_json::Value::from)
                    .unwrap_or(serde_json::Value::String(v));
                (k, value)
            })
            .collect();
        Ok(Action::QueueList {
            filter: QueueFilter {
                marker,
                limit: limits.queue_page(limit)?,
                name,
                metadata,
            },
            with_count,
        })
    }

    /// A bulk delete by `ids` (with `claim_ids` where configured) or a `pop`, never both.
    pub fn message_delete_many(
        queue: QueueName,
        ids: Option<Vec<String>>,
        claim_ids: Option<Vec<String>>,
        pop: Option<i64>,
        limits: &Limits,
    ) -> Result<Action, ApiError> {
        match (ids, pop) {
            (Some(_), Some(_)) => Err(ApiError::InvalidRequest(
                "pop and id params cannot be present together in the delete request.".into(),
            )),
            (None, None) => Err(ApiError::InvalidRequest(
                "The request should have either \"ids\" or \"pop\" parameter in the request, \
                 to be able to delete."
                    .into(),
            )),
            (None, Some(pop)) => Ok(Action::MessagePop(PopMessages::new(queue, pop, limits)?)),
            (Some(ids), None) => Ok(Action::MessageDeleteMany(DeleteMessages::new(
                queue, &ids, claim_ids, limits,
            )?)),
        }
    }

    /// A page of the event feed: after the `marker` position, optionally one queue, some
    /// event types (comma-separated) and a time range (RFC 3339).
    #[allow(clippy::too_many_arguments)]
    pub fn event_list(
        project: &ProjectId,
        marker: Option<&str>,
        limit: Option<i64>,
        queue: Option<&str>,
        types: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
        limits: &Limits,
    ) -> Result<Action, ApiError> {
        let after = match marker {
            None => 0,
            Some(m) => m.trim().parse::<i64>().map_err(|_| {
                ApiError::InvalidParameter("The marker must be a log position (integer).".into())
            })?,
        };
        let instant = |name: &str, v: Option<&str>| {
            v.map(|t| {
                Timestamp::parse_rfc3339(t).ok_or_else(|| {
                    ApiError::InvalidParameter(format!(
                        "\"{name}\" must be an RFC 3339 time, e.g. 2026-01-01T09:00:00Z."
                    ))
                })
            })
            .transpose()
        };
        Ok(Action::EventList(EventFilter {
            after,
            limit: limits.event_page(limit)?,
            queue: queue.map(|q| QueueName::new(q, project)).transpose()?,
            kinds: types.map(|t| t.split(',').map(|k| k.trim().to_owned()).collect()),
            since: instant("since", since)?,
            until: instant("until", until)?,
        }))
    }

    /// A share request's body (reference §2.4.8), validated as Zaqar does: only `paths`
    /// (of `messages`, `subscriptions`, `claims`; default `messages`), `methods` (a list;
    /// default `GET`) and `expires` (ISO 8601, in the future; default a day from `now`).
    pub fn queue_share(
        queue: QueueName,
        body: &serde_json::Map<String, serde_json::Value>,
        now: Timestamp,
    ) -> Result<Action, ApiError> {
        let unknown: Vec<&str> = body
            .keys()
            .map(String::as_str)
            .filter(|k| !matches!(*k, "paths" | "methods" | "expires"))
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::InvalidRequest(format!(
                "Unknown keys: {}",
                unknown.join(", ")
            )));
        }
        let strings = |name: &str| -> Result<Option<Vec<String>>, ApiError> {
            match body.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .map(Some)
                    .ok_or_else(|| {
                        ApiError::InvalidRequest(format!("`{name}` must be a list of strings"))
                    }),
                Some(_) => Err(ApiError::InvalidRequest(format!(
                    "`{name}` should be a list"
                ))),
            }
        };
        let paths = strings("paths")?.filter(|p| !p.is_empty());
        let paths = match paths {
            None => vec!["messages".to_owned()],
            Some(paths) => {
                let invalid: Vec<&str> = paths
                    .iter()
                    .map(String::as_str)
                    .filter(|p| !matches!(*p, "messages" | "subscriptions" | "claims"))
                    .collect();
                if !invalid.is_empty() {
                    return Err(ApiError::InvalidRequest(format!(
                        "Invalid paths: {}",
                        invalid.join(", ")
                    )));
                }
                paths
            }
        };
        let paths = paths
            .iter()
            .map(|p| format!("/v2/queues/{}/{p}", queue.as_str()))
            .collect();
        let methods = strings("methods")?
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| vec!["GET".to_owned()]);
        let expires = match body.get("expires") {
            None | Some(serde_json::Value::Null) => Timestamp(now.0 + 86_400_000),
            Some(value) => {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                crate::auth::signed_url::parse_expires(&text).map_err(ApiError::InvalidRequest)?
            }
        };
        // Signed URLs carry whole seconds.
        if expires.0 / 1000 <= now.0 / 1000 {
            return Err(ApiError::InvalidRequest(
                "`expires` is lower than the current time".into(),
            ));
        }
        Ok(Action::QueueShare {
            queue,
            paths,
            methods,
            expires,
        })
    }

    /// Messages by ids (1..=`max_messages_per_page` of them).
    pub fn message_get_many(
        queue: QueueName,
        ids: Vec<String>,
        limits: &Limits,
    ) -> Result<Action, ApiError> {
        limits.id_count(ids.len())?;
        Ok(Action::MessageGetMany { queue, ids })
    }
}

/// Every operation of the API.
#[derive(Debug, Clone)]
pub enum Action {
    Ping,
    Health,
    QueueList {
        filter: QueueFilter,
        with_count: bool,
    },
    QueueCreate {
        queue: QueueName,
        metadata: QueueMetadata,
    },
    QueueGet {
        queue: QueueName,
    },
    QueueExists {
        queue: QueueName,
    },
    QueueUpdate {
        queue: QueueName,
        ops: Vec<PatchOp>,
    },
    QueueDelete {
        queue: QueueName,
    },
    QueueStats {
        queue: QueueName,
    },
    QueuePurge {
        queue: QueueName,
        messages: bool,
        subscriptions: bool,
    },
    /// A pre-signed URL for some of the queue's resources (`POST …/share`).
    QueueShare {
        queue: QueueName,
        /// Full paths, e.g. `/v2/queues/q/messages`.
        paths: Vec<String>,
        methods: Vec<String>,
        expires: Timestamp,
    },
    MessagePost(PostMessages),
    MessageList(ListMessages),
    MessageGetMany {
        queue: QueueName,
        ids: Vec<String>,
    },
    MessageGet {
        queue: QueueName,
        id: String,
    },
    MessageDelete(DeleteMessage),
    MessageDeleteMany(DeleteMessages),
    MessagePop(PopMessages),
    ClaimCreate(ClaimMessages),
    ClaimGet {
        queue: QueueName,
        id: String,
    },
    ClaimUpdate(RenewClaim),
    ClaimDelete {
        queue: QueueName,
        id: String,
    },
    SubscriptionCreate(CreateSubscription),
    SubscriptionList {
        queue: QueueName,
        marker: Option<String>,
        limit: i64,
    },
    SubscriptionGet {
        queue: QueueName,
        id: String,
    },
    SubscriptionUpdate(UpdateSubscription),
    SubscriptionConfirm {
        queue: QueueName,
        id: String,
        confirmed: bool,
    },
    SubscriptionDelete {
        queue: QueueName,
        id: String,
    },
    /// The project's event feed.
    EventList(EventFilter),
    /// Everything the log retains about one message.
    MessageHistory {
        queue: QueueName,
        id: String,
    },
}

/// Health of this node, as far as a tenant may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub storage_reachable: bool,
    /// Read-only self-checks: (name, succeeded, seconds).
    pub checks: Vec<(&'static str, bool, f64)>,
    /// Message counts over the caller's project.
    pub free: i64,
    pub claimed: i64,
    /// The Kafka relay, when it runs on this node.
    pub event_stream: Option<crate::metrics::RelayStatus>,
}

/// What an action produced; each transport renders it in its own format.
#[derive(Debug, Clone)]
pub enum Reply {
    Pong(bool),
    Health(Health),
    Queues {
        queues: Vec<QueueView>,
        count: Option<i64>,
    },
    /// Queue create: whether it was new.
    QueueCreated(bool),
    Exists(bool),
    /// Stored metadata (empty for a missing queue); REST shows it with reserved defaults.
    Metadata(QueueMetadata),
    Stats {
        stats: QueueStats,
        /// Whether the queue exists (the WebSocket API answers 404 otherwise).
        exists: bool,
    },
    Posted {
        ids: Vec<MessageId>,
    },
    Messages {
        messages: Vec<MessageView>,
        /// Effective `include_delayed` of a listing (forced on for queues without delay).
        include_delayed: bool,
    },
    Message(MessageView),
    Popped(Vec<MessageView>),
    Claimed(Option<(ClaimId, Vec<MessageView>)>),
    Claim(ClaimView),
    SubscriptionCreated(SubscriptionId),
    /// A page of the feed; events up to `horizon` were pruned (0: none).
    Events {
        events: Vec<Envelope>,
        horizon: i64,
    },
    /// A message's history, oldest first; events up to `horizon` were pruned (0: none).
    History {
        id: MessageId,
        events: Vec<Envelope>,
        horizon: i64,
    },
    Subscriptions(Vec<SubscriptionView>),
    Subscription(SubscriptionView),
    /// A pre-signed URL.
    Shared(crate::auth::signed_url::SignedUrl),
    Done,
}

/// A reply, and for writes the log position the request produced.
#[derive(Debug, Clone)]
pub struct Answer {
    pub reply: Reply,
    /// Set for writes: the sequence number of the last event of the request (or the log
    /// head if it changed nothing), for correlating calls with the audit trail.
    pub seq: Option<i64>,
}
