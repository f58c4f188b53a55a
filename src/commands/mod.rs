//! The write side. Every state change is a [`Command`]; the store's writer loads the state a
//! command needs (from the read models, inside its transaction) and calls the pure `decide`
//! function of the command's subject, which returns the events to append and the
//! [`Outcome`] to report. Decide functions hold every business rule and do no I/O; the clock
//! reading and generated ids are inputs, so they are tested as given/when/then.

pub mod catalogue;
pub mod claim;
pub mod load;
pub mod message;
pub mod notification;
pub mod queue;
pub mod subscription;
pub mod sweep;
#[cfg(test)]
mod testing;

use crate::events::NewEvent;
use crate::model::{
    ClaimId, ClientId, MessageId, ProjectId, QueueMetadata, QueueName, SubscriptionId,
};
use crate::projections::MessageView;

pub use catalogue::{Catalogue, CatalogueState};
pub use claim::{ClaimMessages, RenewClaim};
pub use message::{DeleteMessage, DeleteMessages, PopMessages, PostMessages};
pub use notification::{NotificationOutcome, RecordNotifications};
pub use queue::PatchOp;
pub use subscription::{CreateSubscription, UpdateSubscription};

/// Who asked: the project every event is scoped by, and the caller for the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub project: ProjectId,
    pub client_id: Option<ClientId>,
    pub request_id: Option<String>,
}

/// A request to change state, validated at construction.
#[derive(Debug, Clone)]
pub enum Command {
    CreateQueue {
        queue: QueueName,
        metadata: QueueMetadata,
    },
    UpdateQueue {
        queue: QueueName,
        ops: Vec<PatchOp>,
    },
    DeleteQueue {
        queue: QueueName,
    },
    PurgeQueue {
        queue: QueueName,
        messages: bool,
        subscriptions: bool,
    },
    PostMessages(PostMessages),
    DeleteMessage(DeleteMessage),
    DeleteMessages(DeleteMessages),
    PopMessages(PopMessages),
    ClaimMessages(ClaimMessages),
    RenewClaim(RenewClaim),
    ReleaseClaim {
        queue: QueueName,
        claim_id: ClaimId,
    },
    CreateSubscription(CreateSubscription),
    UpdateSubscription(UpdateSubscription),
    ConfirmSubscription {
        queue: QueueName,
        id: String,
        confirmed: bool,
    },
    DeleteSubscription {
        queue: QueueName,
        id: SubscriptionId,
    },
    /// Record what the notification engine did, and how far it has got.
    RecordNotifications(RecordNotifications),
    /// Record the expiry of messages and claims whose time has passed.
    Sweep,
    /// Change the catalogue of pools and flavors.
    Catalogue(Catalogue),
}

/// Where a command runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Target<'a> {
    /// In the store of the queue it acts on, which it may create: placed first if it has no
    /// place yet, on a pool of the flavor it asks for.
    Creates(&'a QueueName, Option<&'a str>),
    /// In the store of the queue it acts on.
    Queue(&'a QueueName),
    /// In the node's own store.
    Home,
}

impl Command {
    /// The dead-letter queue a queue's new metadata names, which must live where the queue
    /// does.
    pub fn dead_letter_queue(&self) -> Option<&str> {
        use crate::model::metadata::DEAD_LETTER_QUEUE;
        let named = match self {
            Command::CreateQueue { metadata, .. } => metadata.get(DEAD_LETTER_QUEUE),
            Command::UpdateQueue { ops, .. } => ops.iter().rev().find_map(|op| match op {
                PatchOp::Add { key, value } | PatchOp::Replace { key, value }
                    if key == DEAD_LETTER_QUEUE =>
                {
                    Some(value)
                }
                _ => None,
            }),
            _ => None,
        };
        named?.as_str()
    }

    /// Where the command runs.
    pub fn target(&self) -> Target<'_> {
        match self {
            Command::CreateQueue { queue, metadata } => Target::Creates(
                queue,
                metadata.get("_flavor").and_then(serde_json::Value::as_str),
            ),
            Command::PostMessages(cmd) => Target::Creates(&cmd.queue, None),
            Command::UpdateQueue { queue, .. }
            | Command::DeleteQueue { queue }
            | Command::PurgeQueue { queue, .. }
            | Command::ReleaseClaim { queue, .. }
            | Command::ConfirmSubscription { queue, .. }
            | Command::DeleteSubscription { queue, .. } => Target::Queue(queue),
            Command::DeleteMessage(cmd) => Target::Queue(&cmd.queue),
            Command::DeleteMessages(cmd) => Target::Queue(&cmd.queue),
            Command::PopMessages(cmd) => Target::Queue(&cmd.queue),
            Command::ClaimMessages(cmd) => Target::Queue(&cmd.queue),
            Command::RenewClaim(cmd) => Target::Queue(&cmd.queue),
            Command::CreateSubscription(cmd) => Target::Queue(&cmd.queue),
            Command::UpdateSubscription(cmd) => Target::Queue(&cmd.queue),
            Command::RecordNotifications(_) | Command::Sweep | Command::Catalogue(_) => {
                Target::Home
            }
        }
    }
}

/// What a command reports back once its events are durable.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Queue create: `true` if it was created, `false` if it already existed.
    QueueCreated(bool),
    /// The queue's metadata after an update.
    Metadata(QueueMetadata),
    /// Messages posted, in request order.
    Posted(Vec<MessageId>),
    /// Messages removed by a pop.
    Popped(Vec<MessageView>),
    /// A claim and its messages; `None` if nothing could be claimed.
    Claimed(Option<(ClaimId, Vec<MessageView>)>),
    /// The id of the new (or identical unconfirmed) subscription.
    SubscriptionCreated(SubscriptionId),
    /// Where a queue lives: a pool, or the node's own store (`None`).
    Placed(Option<String>),
    /// A pool as changed.
    Pool(Box<crate::model::Pool>),
    /// An expiry sweep: `true` if it stopped at its limit, so more may be due.
    Swept(bool),
    /// Nothing to report beyond success.
    Done,
}

/// A command's outcome once durable, with the log position it leaves behind (its last event,
/// or the head of the log if it produced none).
#[derive(Debug, Clone)]
pub struct Committed {
    pub outcome: Outcome,
    pub seq: i64,
}

/// Events to append and the outcome to report.
#[derive(Debug, Clone)]
pub struct Decision {
    pub events: Vec<NewEvent>,
    pub outcome: Outcome,
}

impl Decision {
    pub fn new(events: Vec<NewEvent>, outcome: Outcome) -> Self {
        Decision { events, outcome }
    }

    /// No events; success.
    pub fn nothing() -> Self {
        Decision::new(Vec::new(), Outcome::Done)
    }
}
