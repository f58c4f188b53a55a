//! The event log's vocabulary: what happened, in the past tense, with absolute facts (ids,
//! markers, expiry instants) so that replaying the log never re-evaluates a business rule.
//!
//! Each event is wrapped in an [`Envelope`] that carries its global sequence number, time,
//! project, queue and the client/request that caused it. Events are stored as JSON whose
//! `type` tag is derived by serde from the variant name; [`SCHEMA_VERSION`] is recorded
//! beside each one so later versions can upcast old payloads. [`follow`] reads the log for
//! the consumers that run beside the server.

pub mod bus;
pub mod catalogue;
pub mod claim;
pub mod message;
pub mod notification;
pub mod queue;
pub mod subscription;

use serde::Serialize;

pub use catalogue::{
    FlavorCreated, FlavorDeleted, PoolCreated, PoolDeleted, PoolUpdated, QueuePlaced, QueueUnplaced,
};
pub use claim::{
    ClaimExpired, ClaimReleased, ClaimRenewed, ClaimedMessage, ExtendedMessage, MessagesClaimed,
};
pub use message::{
    MessageDeadLettered, MessagesDeleted, MessagesExpired, MessagesPopped, MessagesPosted,
    PostedMessage,
};
pub use notification::{
    Delivery, NotificationAbandoned, NotificationDelivered, NotificationFailed, NotificationKind,
};
pub use queue::{QueueCreated, QueueDeleted, QueueMetadataUpdated, QueuePurged};
pub use subscription::{
    SubscriptionConfirmationRequested, SubscriptionConfirmed, SubscriptionCreated,
    SubscriptionDeleted, SubscriptionUpdated, SubscriptionsExpired, SubscriptionsPurged,
};

use crate::model::{ClientId, ProjectId, QueueName, Timestamp};

/// Version of the event payload schema written by this build.
pub const SCHEMA_VERSION: i64 = 1;

macro_rules! events {
    ($($variant:ident),* $(,)?) => {
        /// Every kind of event Cairn records. Stored payloads are decoded by their kind
        /// ([`Event::from_stored`]): a message body is kept as JSON text, which serde cannot
        /// take from the buffered document that decoding by the `type` tag would need.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "type")]
        pub enum Event {
            $($variant($variant),)*
        }

        impl Event {
            /// The stored type name (the serde tag), for indexing and filtering.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Event::$variant(_) => stringify!($variant),)*
                }
            }

            /// Decodes a stored payload whose type name (`kind`) is known, straight into its
            /// variant: no buffering of the document to find the tag first.
            pub fn from_stored(kind: &str, payload: &str) -> serde_json::Result<Self> {
                match kind {
                    $(stringify!($variant) => serde_json::from_str(payload).map(Event::$variant),)*
                    _ => Err(serde::de::Error::custom(format!("unknown event kind {kind:?}"))),
                }
            }
        }

        /// An event's own fields, serialized without the `type` tag (for documents that
        /// carry the type beside them: the Kafka record).
        pub struct Fields<'a>(pub &'a Event);

        impl Serialize for Fields<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.0 {
                    $(Event::$variant(e) => e.serialize(s),)*
                }
            }
        }

        $(impl From<$variant> for Event {
            fn from(e: $variant) -> Self {
                Event::$variant(e)
            }
        })*
    };
}

events!(
    QueueCreated,
    QueueMetadataUpdated,
    QueueDeleted,
    QueuePurged,
    MessagesPosted,
    MessagesDeleted,
    MessagesPopped,
    MessagesExpired,
    MessageDeadLettered,
    MessagesClaimed,
    ClaimRenewed,
    ClaimReleased,
    ClaimExpired,
    SubscriptionCreated,
    SubscriptionUpdated,
    SubscriptionConfirmed,
    SubscriptionDeleted,
    SubscriptionsPurged,
    SubscriptionsExpired,
    SubscriptionConfirmationRequested,
    NotificationDelivered,
    NotificationFailed,
    NotificationAbandoned,
    PoolCreated,
    PoolUpdated,
    PoolDeleted,
    FlavorCreated,
    FlavorDeleted,
    QueuePlaced,
    QueueUnplaced,
);

/// An event decided by a command, before the log assigns its position.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub project: ProjectId,
    pub queue: QueueName,
    pub event: Event,
}

impl NewEvent {
    pub fn new(project: &ProjectId, queue: &QueueName, event: impl Into<Event>) -> Self {
        NewEvent {
            project: project.clone(),
            queue: queue.clone(),
            event: event.into(),
        }
    }
}

/// An event as recorded in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Global, gap-free log position.
    pub seq: i64,
    pub at: Timestamp,
    pub project: ProjectId,
    pub queue: QueueName,
    /// The client whose request caused the event (none for background work).
    pub client_id: Option<ClientId>,
    /// The request that caused the event (`x-openstack-request-id`).
    pub request_id: Option<String>,
    pub event: Event,
}

/// Which events a feed request wants (always within one project).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventFilter {
    /// Only events after this log position.
    pub after: i64,
    pub limit: i64,
    pub queue: Option<QueueName>,
    /// Only these event types (serde tags, e.g. `MessagesPosted`).
    pub kinds: Option<Vec<String>>,
    /// Only events recorded at or after this instant.
    pub since: Option<Timestamp>,
    /// Only events recorded before this instant.
    pub until: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_float_in_a_payload_reads_back_exactly_as_written() {
        // Found by fuzzing: without exact float parsing, 6.0666666666666664e50 read back as
        // 6.066666666666667e50, so a replay could rebuild metadata other than the live one.
        let stored = r#"{"metadata": {"x": 606666666666666666666666666666666666666666666666666}}"#;
        let event = Event::from_stored("QueueCreated", stored).expect("a payload");
        let written = serde_json::to_string(&Fields(&event)).expect("it serializes");
        let again = Event::from_stored("QueueCreated", &written).expect("it reads back");
        assert_eq!(again, event, "{written}");
    }
}
