//! Events of messages: posting, the ways they leave a queue, and dead-lettering.

use serde::{Deserialize, Serialize};

use crate::model::{ClaimId, MessageBody, MessageId, QueueName, Timestamp};

/// One message as it was posted, with every derived fact fixed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostedMessage {
    pub id: MessageId,
    /// Per-queue position (the listing marker).
    pub marker: i64,
    pub body: MessageBody,
    pub ttl: i64,
    pub expires_at: Timestamp,
    /// The message is hidden from listings and claims until this instant.
    pub delay_until: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// A batch of messages was posted (atomically, in this order). The poster's client id is the
/// envelope's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesPosted {
    pub messages: Vec<PostedMessage>,
}

/// Messages were deleted by a client, singly (possibly under a claim) or in bulk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesDeleted {
    pub ids: Vec<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_id: Option<ClaimId>,
}

/// Messages were popped (removed and handed to the caller).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesPopped {
    pub ids: Vec<MessageId>,
}

/// Messages reached their expiry and were removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesExpired {
    pub ids: Vec<MessageId>,
}

/// A message claimed too often moved, unclaimed, to the dead-letter queue of the same project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDeadLettered {
    pub id: MessageId,
    pub to_queue: QueueName,
    /// Its marker in the dead-letter queue.
    pub marker: i64,
    pub ttl: i64,
    pub expires_at: Timestamp,
}
