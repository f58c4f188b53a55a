//! What a decision reads: the [`ReadModel`] trait, through which a command's decision sees
//! the read models inside the writer's transaction, and the rows it returns. Each backend
//! implements the trait (`sqlite::decide_reads`, `postgres`); the commands layer depends on
//! it, never the reverse.

use crate::error::StoreError;
use crate::model::{
    ClaimId, MessageId, ProjectId, QueueMetadata, QueueName, SubscriptionId, Timestamp,
};

use super::catalogue::{Entry, Kind, Listing};
use super::{MessageView, SubscriptionView};

/// What a write needs to know about a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueState {
    pub metadata: QueueMetadata,
    /// Marker the next posted message will get.
    pub next_marker: i64,
}

/// A claim as a renewal needs it: its messages' lifetimes.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimState {
    pub id: ClaimId,
    pub messages: Vec<(MessageId, Timestamp)>,
}

/// The claim state of a message a delete targets.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldBy {
    /// The claim last recorded on the message (possibly expired but not yet swept).
    pub claim: Option<ClaimId>,
    /// Whether that claim is still live.
    pub live: bool,
}

/// What a sweep found past its expiry.
#[derive(Debug, Clone, Default)]
pub struct Expired {
    pub claims: Vec<(ProjectId, QueueName, ClaimId)>,
    pub messages: Vec<(ProjectId, QueueName, MessageId)>,
    pub subscriptions: Vec<(ProjectId, QueueName, SubscriptionId)>,
}

/// The read-model queries a decision needs, as seen from inside the writer's transaction.
#[allow(async_fn_in_trait)] // implemented and called only inside this crate
pub trait ReadModel {
    /// The queue as a write needs it, or `None` if it does not exist.
    async fn queue_state(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<Option<QueueState>, StoreError>;
    /// How many queues the project holds.
    async fn queue_count(&mut self, project: &ProjectId) -> Result<i64, StoreError>;
    /// How many unexpired messages the queue holds.
    async fn live_messages(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        now: Timestamp,
    ) -> Result<i64, StoreError>;
    /// Whether the queue holds any message rows at all.
    async fn has_messages(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<bool, StoreError>;
    /// Whether the queue has any subscription rows.
    async fn has_subscriptions(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<bool, StoreError>;
    /// The claim state of the given unexpired messages.
    async fn held_by(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        ids: &[MessageId],
        now: Timestamp,
    ) -> Result<Vec<(MessageId, HeldBy)>, StoreError>;
    /// The oldest messages a claim or pop may take.
    async fn available(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        limit: i64,
        now: Timestamp,
    ) -> Result<Vec<MessageView>, StoreError>;
    /// A live claim with its messages' expiry instants.
    async fn live_claim(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &ClaimId,
        now: Timestamp,
    ) -> Result<Option<ClaimState>, StoreError>;
    /// Whether a claim row exists for this queue (live or not yet swept).
    async fn claim_exists(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &ClaimId,
    ) -> Result<bool, StoreError>;
    /// A live subscription by id.
    async fn subscription(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<SubscriptionView>, StoreError>;
    /// A live subscription of the queue with this subscriber, other than `except`.
    async fn subscription_of(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        subscriber: &str,
        except: Option<&SubscriptionId>,
        now: Timestamp,
    ) -> Result<Option<SubscriptionView>, StoreError>;
    /// What has expired by `now` and is not yet recorded, oldest first, `limit` of each.
    async fn expired(&mut self, now: Timestamp, limit: i64) -> Result<Expired, StoreError>;
    /// A row of the catalogue.
    async fn catalogue_entry(
        &mut self,
        kind: Kind,
        project: &ProjectId,
        name: &str,
    ) -> Result<Option<Entry>, StoreError>;
    /// A page of the project's catalogue rows of one kind.
    async fn catalogue(
        &mut self,
        project: &ProjectId,
        listing: &Listing,
    ) -> Result<Vec<Entry>, StoreError>;
    /// How many catalogue rows of one kind refer to `reference`.
    async fn count_referring(&mut self, kind: Kind, reference: &str) -> Result<i64, StoreError>;
}

/// Implements [`ReadModel`] for a dialect's connection type by calling the functions of the
/// same names in the dialect's modules of each read model (`queues`, `messages`, `claims`,
/// `subscriptions`) and its helpers for any table (`has_rows`, `expired_ids`), all in scope
/// where it is invoked: `read_model!(Connection)` for a synchronous driver,
/// `read_model!(PgConnection, .await)` for an asynchronous one.
macro_rules! read_model {
    ($conn:ty) => {
        $crate::projections::decision::read_model!(@impl $conn;);
    };
    ($conn:ty, .await) => {
        $crate::projections::decision::read_model!(@impl $conn; .await);
    };
    (@impl $conn:ty; $($await:tt)*) => {
        impl $crate::projections::ReadModel for $conn {
            async fn queue_state(
                &mut self,
                project: &ProjectId,
                queue: &QueueName,
            ) -> Result<Option<$crate::projections::QueueState>, StoreError> {
                queues::state(self, project, queue)$($await)*
            }

            async fn queue_count(&mut self, project: &ProjectId) -> Result<i64, StoreError> {
                queues::count(self, project)$($await)*
            }

            async fn live_messages(
                &mut self,
                project: &ProjectId,
                queue: &QueueName,
                now: Timestamp,
            ) -> Result<i64, StoreError> {
                messages::live_count(self, project, queue, now)$($await)*
            }

            async fn has_messages(
                &mut self,
                project: &ProjectId,
                queue: &QueueName,
            ) -> Result<bool, StoreError> {
                has_rows(self, "messages", project, queue)$($await)*
            }

            async fn has_subscriptions(
                &mut self,
                project: &ProjectId,
                queue: &QueueName,
            ) -> Result<bool, StoreError> {
                has_rows(self, "subscriptions", project, queue)$($await)*
            }

            async fn held_by(
                &mut self,
                project: &ProjectId,
                queue: &QueueName,
                ids: &[MessageId],
                now: Timestamp,
            ) -> Result<Vec<(MessageId, $crate::projections::HeldBy)>, StoreError> {
                messages::held_by(self, project, queue, ids, now)$($await)*
            }

            async fn available(
                &mut self,
                project: &ProjectId,
                queue: &QueueName,
                limit: i64,
                now: Timestamp,
            ) -> Result<Vec<$crate::projections::MessageView>, StoreError> {
                messages::available(self, project, queue, limit, now)$($await)*
            }

            async fn live_claim(
                &mut self,
                project: &ProjectId,
                queue: &QueueName,
                id: &ClaimId,
                now: Timestamp,
            ) -> Result<Option<$crate::projections::ClaimState>, StoreError> {
                claims::live_state(self, project, queue, id, now)$($await)*
            }

            async fn claim_exists(
                &mut self,
                project: &ProjectId,
                queue: &QueueName,
                id: &ClaimId,
            ) -> Result<bool, StoreError> {
                claims::exists(self, project, queue, id)$($await)*
            }

            async fn subscription(
                &mut self,
                project: &ProjectId,
                queue: &QueueName,
                id: &str,
                now: Timestamp,
            ) -> Result<Option<$crate::projections::SubscriptionView>, StoreError> {
                subscriptions::get(self, project, queue, id, now)$($await)*
            }

            async fn subscription_of(
                &mut self,
                project: &ProjectId,
                queue: &QueueName,
                subscriber: &str,
                except: Option<&SubscriptionId>,
                now: Timestamp,
            ) -> Result<Option<$crate::projections::SubscriptionView>, StoreError> {
                subscriptions::by_subscriber(self, project, queue, subscriber, except, now)
                    $($await)*
            }

            async fn expired(
                &mut self,
                now: Timestamp,
                limit: i64,
            ) -> Result<$crate::projections::Expired, StoreError> {
                Ok($crate::projections::Expired {
                    claims: expired_ids(self, "claims", now, limit, ClaimId::from_stored)
                        $($await)*?,
                    messages: expired_ids(self, "messages", now, limit, MessageId::from_stored)
                        $($await)*?,
                    subscriptions: expired_ids(
                        self,
                        "subscriptions",
                        now,
                        limit,
                        SubscriptionId::from_stored,
                    )$($await)*?,
                })
            }

            async fn catalogue_entry(
                &mut self,
                kind: $crate::projections::catalogue::Kind,
                project: &ProjectId,
                name: &str,
            ) -> Result<Option<$crate::projections::catalogue::Entry>, StoreError> {
                catalogue::get(self, kind, project, name)$($await)*
            }

            async fn catalogue(
                &mut self,
                project: &ProjectId,
                listing: &$crate::projections::catalogue::Listing,
            ) -> Result<Vec<$crate::projections::catalogue::Entry>, StoreError> {
                catalogue::list(self, project, listing)$($await)*
            }

            async fn count_referring(
                &mut self,
                kind: $crate::projections::catalogue::Kind,
                reference: &str,
            ) -> Result<i64, StoreError> {
                catalogue::count_referring(self, kind, reference)$($await)*
            }
        }
    };
}

pub(crate) use read_model;
