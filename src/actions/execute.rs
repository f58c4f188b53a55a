//! Running a request: reads are answered from the read models, writes are submitted as
//! commands to the store's writer (which reports the log position they produced).

use std::sync::atomic::{AtomicI64, Ordering};

use super::{Action, Answer, Context, Health, ListMessages, Reply, Request};
use crate::commands::{Command, Outcome, Scope};
use crate::error::ApiError;
use crate::model::{ClaimId, MessageId, ProjectId, SubscriptionId};
use crate::projections::{MessageFilter, QueueFilter};
use crate::state::Core;

/// Runs one request.
pub async fn execute(app: &Core, req: Request) -> Result<Answer, ApiError> {
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

async fn run(app: &Core, req: Request, written: &AtomicI64) -> Result<Reply, ApiError> {
    let Request { ctx, action } = req;
    app.auth
        .authorize(action.rule(ctx.project.is_topics()), &ctx.principal)?;
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
        Action::QueueShare {
            paths,
            methods,
            expires,
            ..
        } => {
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
            let url = app
                .auth
                .share(&paths, &methods, project.as_str(), expires)?;
            Ok(Reply::Shared(url))
        }
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

async fn list_messages(app: &Core, ctx: &Context, list: ListMessages) -> Result<Reply, ApiError> {
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

async fn health(app: &Core, project: &ProjectId) -> Result<Health, ApiError> {
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
        event_stream: app.metrics.relay(),
    })
}

/// A command answered with an outcome of another kind: a bug, reported without a panic.
fn unexpected(outcome: Outcome) -> Result<Reply, ApiError> {
    tracing::error!(?outcome, "command returned an unexpected outcome");
    Err(ApiError::Unavailable("Unexpected internal state.".into()))
}
