//! Events of claims: taking messages, renewing, releasing and expiring.

use serde::{Deserialize, Serialize};

use crate::model::{ClaimId, MessageId, Timestamp};

/// A message's state after being claimed: its claim count and (possibly extended) lifetime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimedMessage {
    pub id: MessageId,
    pub claim_count: i64,
    pub ttl: i64,
    pub expires_at: Timestamp,
}

/// A claim took these messages until `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesClaimed {
    pub claim_id: ClaimId,
    pub ttl: i64,
    pub grace: i64,
    pub expires_at: Timestamp,
    pub messages: Vec<ClaimedMessage>,
}

/// A message whose lifetime a renewal extended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtendedMessage {
    pub id: MessageId,
    pub ttl: i64,
    pub expires_at: Timestamp,
}

/// A claim was renewed to expire at `expires_at`; `extended` lists messages whose lifetime
/// grew to outlive it by the grace period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRenewed {
    pub claim_id: ClaimId,
    pub ttl: i64,
    pub grace: i64,
    pub expires_at: Timestamp,
    pub extended: Vec<ExtendedMessage>,
}

/// A claim was released by its holder; its messages are free again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimReleased {
    pub claim_id: ClaimId,
}

/// A claim ran out; its messages are free again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimExpired {
    pub claim_id: ClaimId,
}
