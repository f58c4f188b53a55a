//! Events of subscriptions (notification targets of a queue).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{SubscriptionId, Timestamp};

/// A subscriber was registered on the queue until `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionCreated {
    pub id: SubscriptionId,
    pub subscriber: String,
    pub ttl: i64,
    pub options: Map<String, Value>,
    pub expires_at: Timestamp,
}

/// A subscription's subscriber, TTL or options changed (the full new values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionUpdated {
    pub id: SubscriptionId,
    pub subscriber: String,
    pub ttl: i64,
    pub options: Map<String, Value>,
    pub expires_at: Timestamp,
}

/// A subscription was confirmed (or unconfirmed) by its subscriber.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionConfirmed {
    pub id: SubscriptionId,
    pub confirmed: bool,
}

/// A client created an unconfirmed subscription again: its confirmation request is sent
/// anew (only recorded when confirmation is required).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionConfirmationRequested {
    pub id: SubscriptionId,
}

/// A subscription was deleted by a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionDeleted {
    pub id: SubscriptionId,
}

/// Every subscription of the queue was removed by a purge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionsPurged {}

/// Subscriptions reached their expiry and were removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionsExpired {
    pub ids: Vec<SubscriptionId>,
}
