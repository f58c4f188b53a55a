//! The one request model of every transport. A request is an action (what to do, with
//! validated arguments: one type per operation of the API, e.g. [`QueueCreate`]) plus a
//! [`Context`] (who asks), as in Zaqar's API layer. Transports decode their wire format
//! into an action, call [`execute`], and render the action's own typed reply; every rule —
//! validation, defaults, authorization, which store call answers — is here or below, once.

mod audit;
mod catalogue;
mod claims;
pub mod decode;
mod messages;
mod node;
mod queues;
mod subscriptions;
pub mod wait;

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};

pub use audit::{EventList, Events, FeedMarker, History, MessageHistory, HOME_POOL};
pub use catalogue::{
    Flavor, FlavorDelete, FlavorGet, FlavorList, FlavorPut, FlavorUpdate, PoolDelete, PoolGet,
    PoolList, PoolPut, PoolUpdate,
};
pub use claims::{ClaimCreate, ClaimDelete, ClaimGet, ClaimUpdate};
pub use messages::{
    BulkDeleted, MessageDelete, MessageDeleteMany, MessageGet, MessageGetMany, MessageList,
    MessagePost, Messages,
};
pub use node::{CheckHealth, Health, Ping, PoolHealth};
pub use queues::{
    QueueCreate, QueueDelete, QueueExists, QueueGet, QueueGetStats, QueueList, QueuePurge,
    QueueShare, QueueUpdate, Queues, Stats,
};
pub use subscriptions::{
    SubscriptionConfirm, SubscriptionCreate, SubscriptionDelete, SubscriptionGet, SubscriptionList,
    SubscriptionUpdate,
};

use crate::commands::{Catalogue, Command, Outcome, Scope, Target};
use crate::error::ApiError;
use crate::model::{ClaimId, ClientId, MessageId, ProjectId, QueueMetadata, QueueName};
use crate::model::{SubscriptionId, Timestamp};
use crate::projections::MessageView;
use crate::state::Core;
use crate::store::Store;

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

/// One operation of the API, with what it answers.
pub trait Action: Send {
    /// What the action answers; each transport renders it in its own format.
    type Reply;

    /// What the action is allowed by; `topics` when it acts on the project's topic
    /// namespace.
    fn guard(&self, topics: bool) -> Guard;

    /// Runs the action: reads are answered from the read models, writes are submitted as
    /// commands to the store's writer.
    fn run(self, on: &On<'_>) -> impl Future<Output = Result<Self::Reply, ApiError>> + Send;
}

/// What an action is allowed by: the policy rule that guards it (Zaqar's names, reference
/// §1.12), and the REST method and path with the same effect, which a pre-signed URL must
/// cover (a WebSocket frame is judged exactly as the REST request it equals).
#[derive(Debug, Clone, PartialEq)]
pub struct Guard {
    pub rule: &'static str,
    pub method: &'static str,
    pub path: String,
}

impl Guard {
    pub fn new(rule: &'static str, method: &'static str, path: String) -> Guard {
        Guard { rule, method, path }
    }

    /// An action on a queue (`/v2/queues/q`, or `/v2/topics/q`) or on what follows its
    /// path (`rest`).
    pub fn queue(
        rule: &'static str,
        method: &'static str,
        topics: bool,
        queue: &QueueName,
        rest: &str,
    ) -> Guard {
        let root = if topics { "/v2/topics" } else { "/v2/queues" };
        let path = format!("{root}/{}{rest}", queue.as_str());
        Guard { rule, method, path }
    }
}

/// An action's reply, and for writes the log position the request produced.
#[derive(Debug, Clone)]
pub struct Answer<R> {
    pub reply: R,
    /// Set for writes: the sequence number of the last event of the request (or the log
    /// head if it changed nothing), for correlating calls with the audit trail.
    pub seq: Option<i64>,
}

/// Authorizes and runs one action on behalf of `ctx`.
pub async fn execute<A: Action>(
    core: &Core,
    ctx: &Context,
    action: A,
) -> Result<Answer<A::Reply>, ApiError> {
    core.auth
        .authorize(action.guard(ctx.project.is_topics()).rule, &ctx.principal)?;
    let on = On {
        core,
        ctx,
        now: core.clock.now(),
        written: AtomicI64::new(NOTHING_WRITTEN),
    };
    let reply = action.run(&on).await?;
    let seq = on.written.load(Ordering::Relaxed);
    Ok(Answer {
        reply,
        seq: (seq != NOTHING_WRITTEN).then_some(seq),
    })
}

/// Marks "no write happened" in [`On::written`].
const NOTHING_WRITTEN: i64 = i64::MIN;

/// What an action runs against: the core state, the caller, the instant of the request,
/// and the log position its writes reach.
pub struct On<'a> {
    pub core: &'a Core,
    pub ctx: &'a Context,
    pub now: Timestamp,
    written: AtomicI64,
}

impl On<'_> {
    pub fn project(&self) -> &ProjectId {
        &self.ctx.project
    }

    /// Submits a command on behalf of the caller, waits until it is durable, and answers the
    /// reply its outcome carries.
    pub async fn submit<R: FromOutcome>(&self, command: Command) -> Result<R, ApiError> {
        R::from_outcome(self.commit(command).await?).or_else(unexpected)
    }

    async fn commit(&self, command: Command) -> Result<Outcome, ApiError> {
        let (pool, store) = match command.target() {
            Target::Creates(queue, flavor) => self.place(queue, flavor).await?,
            Target::Queue(queue) => self.core.pools.locate(self.project(), queue).await?,
            Target::Home => (None, self.core.store.clone()),
        };
        let dead_letters = command
            .dead_letter_queue()
            .filter(|_| self.core.pools.pooled());
        if let Some(queue) = dead_letters.and_then(|q| QueueName::new(q, self.project()).ok()) {
            self.place_beside(&queue, pool).await?;
        }
        let committed = store.submit(self.scope(), command).await?;
        self.written.store(committed.seq, Ordering::Relaxed);
        Ok(committed.outcome)
    }

    fn scope(&self) -> Scope {
        Scope {
            project: self.ctx.project.clone(),
            client_id: Some(self.ctx.client_id.clone()),
            request_id: Some(self.ctx.request_id.clone()),
        }
    }

    /// The store where the queue lives: its pool's, or the node's own.
    pub async fn store_of(&self, queue: &QueueName) -> Result<Store, ApiError> {
        Ok(self.core.pools.of(self.project(), queue).await?)
    }

    /// The pool and store of a queue that a write may create: placed on a pool first (by
    /// flavor and weight, in the node's own store) if it has no place yet.
    async fn place(
        &self,
        queue: &QueueName,
        flavor: Option<&str>,
    ) -> Result<(Option<String>, Store), ApiError> {
        let pools = &self.core.pools;
        if let Some(known) = pools.known(self.project(), queue).await? {
            return Ok(known);
        }
        let place = Catalogue::PlaceQueue {
            queue: queue.clone(),
            flavor: flavor.map(str::to_owned),
            draw: uuid::Uuid::new_v4().as_u128() as u64,
            beside: None,
        };
        let pool = self.placed(queue, place).await?;
        Ok((pool.clone(), pools.named(pool).await?))
    }

    /// Makes sure a dead-letter queue lives where the queue that names it does (`pool`), as
    /// dead-lettering moves messages within one store.
    async fn place_beside(&self, queue: &QueueName, pool: Option<String>) -> Result<(), ApiError> {
        let place = Catalogue::PlaceQueue {
            queue: queue.clone(),
            flavor: None,
            draw: 0,
            beside: Some(pool.clone()),
        };
        let placed = self.placed(queue, place).await?;
        match placed == pool {
            true => Ok(()),
            false => Err(ApiError::InvalidRequest(format!(
                "The dead letter queue {queue} lives in {}, not in the pool of its queue ({}).",
                placed.as_deref().unwrap_or("the default pool"),
                pool.as_deref().unwrap_or("the default pool"),
            ))),
        }
    }

    /// Runs a placement in the node's own store and remembers its outcome.
    async fn placed(
        &self,
        queue: &QueueName,
        place: Catalogue,
    ) -> Result<Option<String>, ApiError> {
        let pools = &self.core.pools;
        let committed = pools
            .home()
            .submit(self.scope(), Command::Catalogue(place))
            .await?;
        let pool = Option::<String>::from_outcome(committed.outcome).or_else(unexpected)?;
        pools.placed(self.project(), queue, pool.clone());
        Ok(pool)
    }

    /// Forgets the place of a queue just deleted, so that a queue of its name is placed anew.
    pub async fn unplace(&self, queue: &QueueName) -> Result<(), ApiError> {
        let pools = &self.core.pools;
        let unplace = Catalogue::UnplaceQueue {
            queue: queue.clone(),
        };
        pools
            .home()
            .submit(self.scope(), Command::Catalogue(unplace))
            .await?;
        pools.forget(self.project(), queue);
        Ok(())
    }

    /// Submits a command whose outcome carries nothing beyond success.
    pub async fn submit_done(&self, command: Command) -> Result<(), ApiError> {
        self.commit(command).await.map(drop)
    }

    /// A write that had nothing to do still answers with the log's head.
    pub async fn nothing_written(&self) -> Result<(), ApiError> {
        let head = self.core.store.last_seq().await?;
        self.written.store(head, Ordering::Relaxed);
        Ok(())
    }
}

/// A reply that one kind of command outcome carries.
pub trait FromOutcome: Sized {
    /// The reply, or the outcome back if it is of another kind.
    fn from_outcome(outcome: Outcome) -> Result<Self, Outcome>;
}

/// Implements [`FromOutcome`] for the reply each outcome variant carries.
macro_rules! from_outcome {
    ($($variant:ident => $reply:ty,)*) => {
        $(impl FromOutcome for $reply {
            fn from_outcome(outcome: Outcome) -> Result<Self, Outcome> {
                match outcome {
                    Outcome::$variant(reply) => Ok(reply),
                    other => Err(other),
                }
            }
        })*
    };
}

from_outcome!(
    QueueCreated => bool,
    Metadata => QueueMetadata,
    Posted => Vec<MessageId>,
    Popped => Vec<MessageView>,
    Claimed => Option<(ClaimId, Vec<MessageView>)>,
    SubscriptionCreated => SubscriptionId,
    Pool => Box<crate::model::Pool>,
    Placed => Option<String>,
);

/// A command answered with an outcome of another kind: a bug, reported without a panic.
fn unexpected<T>(outcome: Outcome) -> Result<T, ApiError> {
    tracing::error!(?outcome, "command returned an unexpected outcome");
    Err(ApiError::Unavailable("Unexpected internal state.".into()))
}

/// `queues` or `topics` policy rule, by namespace.
fn namespaced(topics: bool, queues: &'static str, topic: &'static str) -> &'static str {
    if topics {
        topic
    } else {
        queues
    }
}
