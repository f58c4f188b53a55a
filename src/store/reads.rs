//! What a store answers from its read models and its log, for either backend: each read is
//! written once here and runs the query of the backend's dialect (`projections::sqlite` or
//! `projections::postgres`, whose modules have the same names), on a connection of the
//! backend's reader pool.

use std::sync::Arc;

use super::{postgres, sqlite, Store};
use crate::error::StoreError;
use crate::events::{Envelope, EventFilter};
use crate::model::{ClaimId, MessageId, ProjectId, QueueMetadata, QueueName, Timestamp};
use crate::projections::{
    ClaimView, MessageFilter, MessageView, QueueFilter, QueueStats, QueueView, SubscriptionView,
};

/// Runs `$body` with `$conn`, a pooled reader connection, and `$views` and `$log`, the
/// backend's projections and log modules.
macro_rules! on_reader {
    ($store:expr, |$conn:ident, $views:ident, $log:ident| $body:expr) => {
        match $store {
            Store::Sqlite(s) => {
                #[allow(unused_imports)]
                use crate::projections::sqlite as $views;
                #[allow(unused_imports)]
                use sqlite::log as $log;
                let mut $conn = s.reader().await?;
                $body
            }
            Store::Postgres(s) => {
                #[allow(unused_imports)]
                use crate::projections::postgres as $views;
                #[allow(unused_imports)]
                use postgres::log as $log;
                let mut $conn = s.reader().await?;
                $body
            }
        }
    };
}

impl Store {
    /// A live feed of the events committed from now on (see [`crate::events::bus`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Envelope>> {
        match self {
            Store::Sqlite(s) => s.subscribe(),
            Store::Postgres(s) => s.subscribe(),
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        match self {
            Store::Sqlite(s) => s.ping().await,
            Store::Postgres(s) => s.ping().await,
        }
    }

    /// Position of the last event in the log.
    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        on_reader!(self, |c, views, log| log::last_seq(&mut c).await)
    }

    /// Up to `limit` events of every project after position `after`, in log order.
    pub async fn log_range(&self, after: i64, limit: i64) -> Result<Vec<Envelope>, StoreError> {
        match self {
            Store::Sqlite(s) => sqlite::log::range(&mut *s.reader().await?, after, limit).await,
            Store::Postgres(s) => {
                postgres::log::range(&mut *s.reader().await?, after, None, limit).await
            }
        }
    }

    /// A consumer's checkpoint ([`super::NOTIFIER_CHECKPOINT`]: every delivery due for
    /// events up to it is resolved; [`super::RELAY_CHECKPOINT`]: every event up to it is in
    /// Kafka).
    pub async fn checkpoint(&self, name: &str) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(s) => sqlite::retention::meta(&mut *s.reader().await?, name).await,
            Store::Postgres(s) => {
                let mut c = s.reader().await?;
                crate::projections::postgres::read_checkpoint(&mut c, name).await
            }
        }
    }

    /// The last pruned log position (0 if the log is complete; the log is never pruned on
    /// PostgreSQL yet).
    pub async fn horizon(&self) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(s) => sqlite::retention::meta(&mut *s.reader().await?, "horizon").await,
            Store::Postgres(_) => Ok(0),
        }
    }

    /// A page of the project's event feed.
    pub async fn list_events(
        &self,
        project: &ProjectId,
        filter: &EventFilter,
    ) -> Result<Vec<Envelope>, StoreError> {
        on_reader!(self, |c, views, log| log::list(&mut c, project, filter)
            .await)
    }

    /// Every retained event that concerns the message, in order.
    pub async fn message_history(
        &self,
        project: &ProjectId,
        id: &MessageId,
    ) -> Result<Vec<Envelope>, StoreError> {
        on_reader!(self, |c, views, log| {
            let seqs = views::history::positions(&mut c, id).await?;
            log::at_positions(&mut c, project, &seqs).await
        })
    }

    pub async fn queue_metadata(
        &self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<Option<QueueMetadata>, StoreError> {
        on_reader!(self, |c, views, log| {
            let state = views::queues::state(&mut c, project, queue).await?;
            Ok(state.map(|s| s.metadata))
        })
    }

    /// (free, claimed) counts of unexpired messages in the whole store.
    pub async fn total_volume(&self, now: Timestamp) -> Result<(i64, i64), StoreError> {
        on_reader!(self, |c, views, log| views::messages::total_volume(
            &mut c, now
        )
        .await)
    }

    /// (free, claimed) message counts over a whole project.
    pub async fn project_volume(
        &self,
        project: &ProjectId,
        now: Timestamp,
    ) -> Result<(i64, i64), StoreError> {
        on_reader!(self, |c, views, log| views::messages::project_volume(
            &mut c, project, now
        )
        .await)
    }

    pub async fn list_queues(
        &self,
        project: &ProjectId,
        filter: &QueueFilter,
    ) -> Result<Vec<QueueView>, StoreError> {
        on_reader!(self, |c, views, log| views::queues::list(
            &mut c, project, filter
        )
        .await)
    }

    pub async fn count_queues(&self, project: &ProjectId) -> Result<i64, StoreError> {
        on_reader!(self, |c, views, log| views::queues::count(&mut c, project)
            .await)
    }

    pub async fn queue_stats(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        now: Timestamp,
    ) -> Result<QueueStats, StoreError> {
        on_reader!(self, |c, views, log| views::messages::stats(
            &mut c, project, queue, now
        )
        .await)
    }

    pub async fn list_messages(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        filter: &MessageFilter,
        now: Timestamp,
    ) -> Result<Vec<MessageView>, StoreError> {
        on_reader!(self, |c, views, log| {
            views::messages::list(&mut c, project, queue, filter, now).await
        })
    }

    pub async fn get_messages(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        ids: &[MessageId],
        now: Timestamp,
    ) -> Result<Vec<MessageView>, StoreError> {
        on_reader!(self, |c, views, log| {
            views::messages::get_many(&mut c, project, queue, ids, now).await
        })
    }

    pub async fn get_claim(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        claim_id: &ClaimId,
        now: Timestamp,
    ) -> Result<Option<ClaimView>, StoreError> {
        on_reader!(self, |c, views, log| {
            views::claims::get(&mut c, project, queue, claim_id, now).await
        })
    }

    pub async fn list_subscriptions(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        marker: Option<&str>,
        limit: i64,
        now: Timestamp,
    ) -> Result<Vec<SubscriptionView>, StoreError> {
        on_reader!(self, |c, views, log| {
            views::subscriptions::list(&mut c, project, queue, marker, limit, now).await
        })
    }

    pub async fn get_subscription(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<SubscriptionView>, StoreError> {
        on_reader!(self, |c, views, log| {
            views::subscriptions::get(&mut c, project, queue, id, now).await
        })
    }
}
