//! The one request model of every transport. A request is an [`Action`] (what to do, with
//! validated arguments) plus a [`Context`] (who asks), as in Zaqar's API layer. Transports
//! decode their wire format into a [`Request`], call [`execute`], and render the [`Reply`];
//! every rule — validation, defaults, which store call answers — is here or below, once.

pub mod decode;

use std::sync::atomic::{AtomicI64, Ordering};

use crate::app::AppState;
use crate::commands::{
    ClaimMessages, Command, CreateSubscription, DeleteMessage, DeleteMessages, Outcome, PatchOp,
    PopMessages, PostMessages, RenewClaim, Scope, UpdateSubscription,
};
use crate::error::ApiError;
use crate::events::{Envelope, EventFilter};
use crate::model::{
    ClaimId, ClientId, Limits, MessageId, ProjectId, QueueMetadata, QueueName, SubscriptionId,
    Timestamp,
};
use crate::projections::{
    ClaimView, MessageFilter, MessageView, QueueFilter, QueueStats, QueueView, SubscriptionView,
};

/// Who is asking.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub project: ProjectId,
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

/// Runs one request.
pub async fn execute(app: &AppState, req: Request) -> Result<Answer, ApiError> {
    let written = AtomicI64::new(NOTHING_WRITTEN);
    let reply = run(app, req, &written).await?;
    let seq = written.load(Ordering::Relaxed);
    Ok(Answer {
        reply,
        seq: (seq != NOTHING_WRITTEN).then_some(seq),
    })
}

/// Marks "no write happened" in the log-position cell of [`execute`].
const NOTHING_WRITTEN: i64 = i64::MIN;

async fn run(app: &AppState, req: Request, written: &AtomicI64) -> Result<Reply, ApiError> {
    let Request { ctx, action } = req;
    let project = &ctx.project;
    let store = &app.store;
    let now = app.clock.now();
    let submit = |command: Command| {
        let scope = Scope {
            project: ctx.project.clone(),
            client_id: Some(ctx.client_id.clone()),
            request_id: Some(ctx.request_id.clone()),
        };
        async move {
            let committed = store.submit(scope, command).await?;
            written.store(committed.seq, Ordering::Relaxed);
            Ok::<Outcome, ApiError>(committed.outcome)
        }
    };
    match action {
        Action::Ping => Ok(Reply::Pong(store.ping().await)),
        Action::Health => health(app, project).await.map(Reply::Health),
        Action::QueueList { filter, with_count } => {
            let queues = store.list_queues(project, &filter).await?;
            let count = match with_count {
                true => Some(store.count_queues(project).await?).filter(|n| *n > 0),
                false => None,
            };
            Ok(Reply::Queues { queues, count })
        }
        Action::QueueCreate { queue, metadata } => {
            match submit(Command::CreateQueue { queue, metadata }).await? {
                Outcome::QueueCreated(new) => Ok(Reply::QueueCreated(new)),
                other => unexpected(other),
            }
        }
        Action::QueueGet { queue } => {
            let metadata = store
                .queue_metadata(project, &queue)
                .await?
                .unwrap_or_default();
            Ok(Reply::Metadata(metadata))
        }
        Action::QueueExists { queue } => Ok(Reply::Exists(
            store.queue_metadata(project, &queue).await?.is_some(),
        )),
        Action::QueueUpdate { queue, ops } => {
            match submit(Command::UpdateQueue { queue, ops }).await? {
                Outcome::Metadata(m) => Ok(Reply::Metadata(m)),
                other => unexpected(other),
            }
        }
        Action::QueueDelete { queue } => {
            submit(Command::DeleteQueue { queue }).await?;
            Ok(Reply::Done)
        }
        Action::QueueStats { queue } => Ok(Reply::Stats {
            stats: store.queue_stats(project, &queue, now).await?,
            exists: store.queue_metadata(project, &queue).await?.is_some(),
        }),
        Action::QueuePurge {
            queue,
            messages,
            subscriptions,
        } => {
            let purge = Command::PurgeQueue {
                queue,
                messages,
                subscriptions,
            };
            submit(purge).await?;
            Ok(Reply::Done)
        }
        Action::MessagePost(cmd) => match submit(Command::PostMessages(cmd)).await? {
            Outcome::Posted(ids) => Ok(Reply::Posted { ids }),
            other => unexpected(other),
        },
        Action::MessageList(list) => list_messages(app, &ctx, list).await,
        Action::MessageGetMany { queue, ids } => {
            let ids: Vec<MessageId> = ids.iter().filter_map(|i| MessageId::parse(i)).collect();
            let found = store.get_messages(project, &queue, &ids, now).await?;
            if found.is_empty() {
                return Err(ApiError::NotFound(
                    "No messages with IDs in the request were found.".into(),
                ));
            }
            Ok(Reply::Messages {
                messages: found,
                include_delayed: true,
            })
        }
        Action::MessageGet { queue, id } => {
            let ids: Vec<MessageId> = MessageId::parse(&id).into_iter().collect();
            let found = store.get_messages(project, &queue, &ids, now).await?;
            found.into_iter().next().map(Reply::Message).ok_or_else(|| {
                ApiError::NotFound(format!(
                    "Message {id} does not exist in queue {queue} for project {}",
                    project.as_str()
                ))
            })
        }
        Action::MessageDelete(cmd) => {
            submit(Command::DeleteMessage(cmd)).await?;
            Ok(Reply::Done)
        }
        Action::MessageDeleteMany(cmd) => {
            submit(Command::DeleteMessages(cmd)).await?;
            Ok(Reply::Done)
        }
        Action::MessagePop(cmd) => match submit(Command::PopMessages(cmd)).await? {
            Outcome::Popped(messages) => Ok(Reply::Popped(messages)),
            other => unexpected(other),
        },
        Action::ClaimCreate(cmd) => match submit(Command::ClaimMessages(cmd)).await? {
            Outcome::Claimed(claimed) => Ok(Reply::Claimed(claimed)),
            other => unexpected(other),
        },
        Action::ClaimGet { queue, id } => {
            let claim = match ClaimId::parse(&id) {
                Some(claim_id) => store.get_claim(project, &queue, &claim_id, now).await?,
                None => None,
            };
            claim.map(Reply::Claim).ok_or_else(|| {
                ApiError::NotFound(format!(
                    "Claim {id} does not exist in queue {queue} for project {}",
                    project.as_str()
                ))
            })
        }
        Action::ClaimUpdate(cmd) => {
            submit(Command::RenewClaim(cmd)).await?;
            Ok(Reply::Done)
        }
        Action::ClaimDelete { queue, id } => {
            match ClaimId::parse(&id) {
                Some(claim_id) => {
                    submit(Command::ReleaseClaim { queue, claim_id }).await?;
                }
                // Nothing to release; the answer still carries the log position.
                None => written.store(store.last_seq().await?, Ordering::Relaxed),
            }
            Ok(Reply::Done)
        }
        Action::EventList(filter) => Ok(Reply::Events {
            events: store.list_events(project, &filter).await?,
            horizon: store.horizon().await?,
        }),
        Action::MessageHistory { queue, id } => {
            let message = MessageId::parse(&id);
            let events = match &message {
                Some(m) => store.message_history(project, m).await?,
                None => Vec::new(),
            };
            let horizon = store.horizon().await?;
            match message.filter(|_| !events.is_empty()) {
                Some(id) => Ok(Reply::History {
                    id,
                    events,
                    horizon,
                }),
                None if horizon > 0 => Err(ApiError::NotFound(format!(
                    "No history of message {id} in queue {queue} for project {}: it never \
                     existed, or all its events are older than the log's retention (events up \
                     to seq {horizon} were pruned).",
                    project.as_str()
                ))),
                None => Err(ApiError::NotFound(format!(
                    "No history of message {id} in queue {queue} for project {}: it never \
                     existed.",
                    project.as_str()
                ))),
            }
        }
        Action::SubscriptionCreate(cmd) => match submit(Command::CreateSubscription(cmd)).await? {
            Outcome::SubscriptionCreated(id) => Ok(Reply::SubscriptionCreated(id)),
            other => unexpected(other),
        },
        Action::SubscriptionList {
            queue,
            marker,
            limit,
        } => {
            let found = store
                .list_subscriptions(project, &queue, marker.as_deref(), limit, now)
                .await?;
            Ok(Reply::Subscriptions(found))
        }
        Action::SubscriptionGet { queue, id } => store
            .get_subscription(project, &queue, &id, now)
            .await?
            .map(Reply::Subscription)
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "Subscription {id} does not exist in queue {queue} for project {}",
                    project.as_str()
                ))
            }),
        Action::SubscriptionUpdate(cmd) => {
            submit(Command::UpdateSubscription(cmd)).await?;
            Ok(Reply::Done)
        }
        Action::SubscriptionConfirm {
            queue,
            id,
            confirmed,
        } => {
            submit(Command::ConfirmSubscription {
                queue,
                id,
                confirmed,
            })
            .await?;
            Ok(Reply::Done)
        }
        Action::SubscriptionDelete { queue, id } => {
            match SubscriptionId::parse(&id) {
                Some(id) => {
                    submit(Command::DeleteSubscription { queue, id }).await?;
                }
                None => written.store(store.last_seq().await?, Ordering::Relaxed),
            }
            Ok(Reply::Done)
        }
    }
}

async fn list_messages(
    app: &AppState,
    ctx: &Context,
    list: ListMessages,
) -> Result<Reply, ApiError> {
    let store = &app.store;
    let metadata = store.queue_metadata(&ctx.project, &list.queue).await?;
    let delayed_queue = metadata.as_ref().and_then(|m| m.default_delay()).is_some();
    let include_delayed = list.include_delayed || !delayed_queue;
    let marker = match list.marker.as_deref() {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(m) => Some(m),
            Err(_) => {
                return Ok(Reply::Messages {
                    messages: Vec::new(),
                    include_delayed,
                })
            }
        },
    };
    let filter = MessageFilter {
        marker,
        limit: list.limit,
        hide_client: (!list.echo).then(|| ctx.client_id.clone()),
        include_claimed: list.include_claimed,
        include_delayed,
    };
    let messages = match metadata {
        Some(_) => {
            store
                .list_messages(&ctx.project, &list.queue, &filter, app.clock.now())
                .await?
        }
        None => Vec::new(),
    };
    Ok(Reply::Messages {
        messages,
        include_delayed,
    })
}

async fn health(app: &AppState, project: &ProjectId) -> Result<Health, ApiError> {
    let started = std::time::Instant::now();
    let storage_reachable = app.store.ping().await;
    let ping_secs = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let filter = QueueFilter {
        marker: None,
        limit: 1,
        name: None,
        metadata: Vec::new(),
    };
    let listed = app.store.list_queues(project, &filter).await.is_ok();
    let list_secs = started.elapsed().as_secs_f64();
    let (free, claimed) = app.store.project_volume(project, app.clock.now()).await?;
    Ok(Health {
        storage_reachable,
        checks: vec![
            ("ping_storage", storage_reachable, ping_secs),
            ("list_queues", listed, list_secs),
        ],
        free,
        claimed,
    })
}

/// A command answered with an outcome of another kind: a bug, reported without a panic.
fn unexpected(outcome: Outcome) -> Result<Reply, ApiError> {
    tracing::error!(?outcome, "command returned an unexpected outcome");
    Err(ApiError::Unavailable("Unexpected internal state.".into()))
}
