//! Read models folded from the event log, one module per subject (`queues`, `messages`,
//! `claims`, `subscriptions`, `history`), each with its fold steps and its queries in each
//! SQL dialect. This module holds the view types that commands and transports use;
//! [`fold`] the fold's rules, [`decision`] what a decision reads; `sqlite` and `postgres`
//! what each dialect shares.
//!
//! Views are time-aware: readers pass `now`, and expired messages or claims are never
//! returned even before the sweeper records their expiry.

pub mod catalogue;
pub mod claims;
pub mod decision;
pub mod fold;
pub mod history;
pub mod messages;
pub mod postgres;
pub mod queues;
pub mod sqlite;
pub mod subscriptions;

pub use decision::{ClaimState, Expired, HeldBy, QueueState, ReadModel};

use serde_json::value::RawValue;

use crate::model::{
    ClaimId, ClientId, MessageId, QueueMetadata, QueueName, SubscriptionId, Timestamp,
};

/// A queue as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueView {
    pub name: QueueName,
    pub metadata: QueueMetadata,
}

/// A stored message.
#[derive(Debug, Clone)]
pub struct MessageView {
    pub id: MessageId,
    pub marker: i64,
    /// The body as stored JSON text (returned verbatim).
    pub body: Box<RawValue>,
    pub ttl: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub delay_until: Timestamp,
    pub client_id: ClientId,
    pub checksum: Option<String>,
    /// The claim holding the message, if that claim is still live at read time.
    pub claim: Option<ClaimId>,
    pub claim_count: i64,
}

/// A live claim and the messages it holds.
#[derive(Debug, Clone)]
pub struct ClaimView {
    pub id: ClaimId,
    pub ttl: i64,
    /// Creation or last renewal.
    pub updated_at: Timestamp,
    pub messages: Vec<MessageView>,
}

impl ClaimView {
    /// A claim row's `(ttl, updated_at)` and the unexpired messages it holds; a claim that
    /// holds none is no longer live.
    pub fn of(
        id: &ClaimId,
        (ttl, updated_at): (i64, Timestamp),
        messages: Vec<MessageView>,
    ) -> Option<ClaimView> {
        (!messages.is_empty()).then(|| ClaimView {
            id: id.clone(),
            ttl,
            updated_at,
            messages,
        })
    }
}

/// Message counts of a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    pub total: i64,
    pub claimed: i64,
    /// (id, created) of the oldest and newest message, when the queue is not empty.
    pub oldest: Option<(MessageId, Timestamp)>,
    pub newest: Option<(MessageId, Timestamp)>,
}

/// A page of a listing in id order: the items after `marker`, at most `limit` of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub marker: Option<String>,
    pub limit: i64,
}

/// Which messages a listing shows (reference §5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageFilter {
    pub marker: Option<i64>,
    pub limit: i64,
    /// Hide messages posted by this client (`echo=false`).
    pub hide_client: Option<ClientId>,
    pub include_claimed: bool,
    pub include_delayed: bool,
}

/// Which queues a listing shows.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueFilter {
    pub marker: Option<String>,
    pub limit: i64,
    /// Substring the name must contain.
    pub name: Option<String>,
    /// Metadata keys that must hold these values.
    pub metadata: Vec<(String, serde_json::Value)>,
}

impl QueueFilter {
    /// Queues read at a time when the metadata filter drops some of them.
    const BATCH: i64 = 200;

    /// Rows to ask the table for at a time: the page itself, or a batch to filter by
    /// metadata.
    pub fn batch(&self) -> i64 {
        if self.metadata.is_empty() {
            self.limit
        } else {
            Self::BATCH
        }
    }

    /// Adds to `page` the queues of one batch (name and metadata, by name) that match;
    /// `after` becomes the last name read. Whether the page is complete: full, or the
    /// table has no more queues.
    pub fn collect(
        &self,
        page: &mut Vec<QueueView>,
        batch: Vec<(String, QueueMetadata)>,
        after: &mut String,
    ) -> bool {
        let exhausted = (batch.len() as i64) < Self::BATCH || self.metadata.is_empty();
        for (name, metadata) in batch {
            after.clone_from(&name);
            if self
                .metadata
                .iter()
                .all(|(k, v)| metadata.get(k) == Some(v))
            {
                page.push(QueueView {
                    name: QueueName::from_stored(name),
                    metadata,
                });
                if page.len() as i64 == self.limit {
                    return true;
                }
            }
        }
        exhausted
    }
}

/// A live subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionView {
    pub id: SubscriptionId,
    /// The queue it belongs to.
    pub source: QueueName,
    pub subscriber: String,
    pub ttl: i64,
    pub options: serde_json::Map<String, serde_json::Value>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub confirmed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn queue(name: &str, tier: i64) -> (String, QueueMetadata) {
        let metadata = json!({ "tier": tier })
            .as_object()
            .cloned()
            .unwrap_or_default();
        (name.to_owned(), QueueMetadata::from_stored(metadata))
    }

    /// A page of `limit` queues whose `tier` is `tier`.
    fn tier(tier: i64, limit: i64) -> QueueFilter {
        QueueFilter {
            marker: None,
            limit,
            name: None,
            metadata: vec![("tier".into(), json!(tier))],
        }
    }

    #[test]
    fn a_page_keeps_the_matching_queues_until_it_is_full() {
        let filter = tier(1, 2);
        assert_eq!(filter.batch(), 200);
        let (mut page, mut after) = (Vec::new(), String::new());
        let batch = vec![queue("a", 1), queue("b", 2), queue("c", 1), queue("d", 1)];
        assert!(
            filter.collect(&mut page, batch, &mut after),
            "the page is full"
        );
        let names: Vec<&str> = page.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(after, "c");
    }

    #[test]
    fn a_short_batch_ends_the_listing_and_a_full_one_asks_for_more() {
        let filter = tier(3, 10);
        let (mut page, mut after) = (Vec::new(), String::new());
        let full: Vec<_> = (0..200).map(|i| queue(&format!("q{i:03}"), 1)).collect();
        assert!(
            !filter.collect(&mut page, full, &mut after),
            "more may match"
        );
        assert_eq!(after, "q199");
        assert!(filter.collect(&mut page, vec![queue("r", 3)], &mut after));
        assert_eq!(page.len(), 1);
    }
}
