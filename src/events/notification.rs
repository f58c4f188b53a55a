//! Events of notification delivery: every attempt to notify a subscriber is recorded, so a
//! message's history shows who was told about it, when, and what happened on failure.
//!
//! The envelope's project and queue are the subscription's; a confirmation request (sent
//! when a subscription is created under `--require-confirmation`) carries no message id.

use serde::{Deserialize, Serialize};

use crate::model::{MessageId, QueueName, SubscriptionId, Timestamp};

/// What a notification carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationKind {
    /// A posted message (`Message_Type: Notification`).
    Notification,
    /// A request to confirm a new subscription.
    SubscriptionConfirmation,
    /// The notice that a subscription was unconfirmed.
    UnsubscribeConfirmation,
}

/// A subscriber accepted notifications (a 2xx answer, or the mail relay took the mail):
/// the deliveries to one subscription recorded together, in the order they were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationDelivered {
    pub subscription_id: SubscriptionId,
    pub subscriber: String,
    pub kind: NotificationKind,
    pub deliveries: Vec<Delivery>,
}

/// One accepted notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The message it carried (none for a confirmation request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The HTTP status (the SMTP reply code for a mail).
    pub status: u16,
}

impl NotificationDelivered {
    /// The messages it names.
    pub fn message_ids(&self) -> impl Iterator<Item = &MessageId> {
        self.deliveries.iter().filter_map(|d| d.message_id.as_ref())
    }
}

/// One attempt failed; `retry_at` says when the next one is due (none: this was the last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationFailed {
    pub subscription_id: SubscriptionId,
    pub subscriber: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    pub kind: NotificationKind,
    pub attempt: u32,
    /// The HTTP status or SMTP reply code, when the subscriber answered at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the attempt failed (timeout, connection refused, forbidden address, …).
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
}

/// The retry policy ran out: the notification will not be sent again. With a dead-letter
/// queue configured, the notification was posted there (in the same transaction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationAbandoned {
    pub subscription_id: SubscriptionId,
    pub subscriber: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    pub kind: NotificationKind,
    pub attempts: u32,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue: Option<QueueName>,
}
