//! What a store answers from its read models and its log, for either backend: each read
//! names the query of each dialect (`projections::sqlite` or `projections::postgres`, whose
//! modules have the same names) and runs it on a connection of the backend's reader pool.

use std::sync::Arc;

use super::{postgres, sqlite, Store};
use crate::error::StoreError;
use crate::events::{Envelope, EventFilter};
use crate::model::{ClaimId, MessageId, ProjectId, QueueMetadata, QueueName, Timestamp};
use crate::projections::catalogue::{self, Entry, Kind, Listing};
use crate::projections::{claims, history, messages, queues, subscriptions};
use crate::projections::{
    ClaimView, MessageFilter, MessageView, Page, QueueFilter, QueueStats, QueueView,
    SubscriptionView,
};

/// Runs a read on the backend's reader pool. The SQLite arm runs `$sqlite` (a synchronous
/// closure over a connection, on a blocking thread: its arguments are owned copies); the
/// PostgreSQL arm awaits `$postgres` with `$conn`, a pooled connection.
macro_rules! on_reader {
    ($store:expr, sqlite: $sqlite:expr, postgres: |$conn:ident| $postgres:expr) => {
        match $store {
            Store::Sqlite(s) => s.read($sqlite).await,
            Store::Postgres(s) => {
                let mut $conn = s.reader().await?;
                $postgres
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
        on_reader!(self,
            sqlite: sqlite::log::head,
            postgres: |c| postgres::log::last_seq(&mut c).await)
    }

    /// Up to `limit` events of every project after position `after`, in log order.
    pub async fn log_range(&self, after: i64, limit: i64) -> Result<Vec<Envelope>, StoreError> {
        on_reader!(self,
            sqlite: move |c| sqlite::log::range(c, after, limit),
            postgres: |c| postgres::log::range(&mut c, after, None, limit).await)
    }

    /// A consumer's checkpoint ([`super::NOTIFIER_CHECKPOINT`]: every delivery due for
    /// events up to it is resolved; [`super::RELAY_CHECKPOINT`]: every event up to it is in
    /// Kafka).
    pub async fn checkpoint(&self, name: &str) -> Result<i64, StoreError> {
        let key = name.to_owned();
        on_reader!(self,
            sqlite: move |c| sqlite::retention::meta(c, &key),
            postgres: |c| crate::projections::postgres::read_checkpoint(&mut c, name).await)
    }

    /// The last pruned log position (0 if the log is complete; the log is never pruned on
    /// PostgreSQL yet).
    pub async fn horizon(&self) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(s) => s.read(|c| sqlite::retention::meta(c, "horizon")).await,
            Store::Postgres(_) => Ok(0),
        }
    }

    /// A page of the project's event feed.
    pub async fn list_events(
        &self,
        project: &ProjectId,
        filter: &EventFilter,
    ) -> Result<Vec<Envelope>, StoreError> {
        let (p, f) = (project.clone(), filter.clone());
        on_reader!(self,
            sqlite: move |c| sqlite::log::list(c, &p, &f),
            postgres: |c| postgres::log::list(&mut c, project, filter).await)
    }

    /// Every retained event that concerns the message, in order.
    pub async fn message_history(
        &self,
        project: &ProjectId,
        id: &MessageId,
    ) -> Result<Vec<Envelope>, StoreError> {
        let (p, i) = (project.clone(), id.clone());
        on_reader!(self,
        sqlite: move |c| {
            let seqs = history::sqlite::positions(c, &i)?;
            sqlite::log::at_positions(c, &p, &seqs)
        },
        postgres: |c| {
            let seqs = history::postgres::positions(&mut c, id).await?;
            postgres::log::at_positions(&mut c, project, &seqs).await
        })
    }

    pub async fn queue_metadata(
        &self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<Option<QueueMetadata>, StoreError> {
        let (p, q) = (project.clone(), queue.clone());
        let state = on_reader!(self,
            sqlite: move |c| queues::sqlite::state(c, &p, &q),
            postgres: |c| queues::postgres::state(&mut c, project, queue).await)?;
        Ok(state.map(|s| s.metadata))
    }

    /// (free, claimed) counts of unexpired messages in the whole store.
    pub async fn total_volume(&self, now: Timestamp) -> Result<(i64, i64), StoreError> {
        on_reader!(self,
            sqlite: move |c| messages::sqlite::total_volume(c, now),
            postgres: |c| messages::postgres::total_volume(&mut c, now).await)
    }

    /// (free, claimed) message counts over a whole project.
    pub async fn project_volume(
        &self,
        project: &ProjectId,
        now: Timestamp,
    ) -> Result<(i64, i64), StoreError> {
        let p = project.clone();
        on_reader!(self,
            sqlite: move |c| messages::sqlite::project_volume(c, &p, now),
            postgres: |c| messages::postgres::project_volume(&mut c, project, now).await)
    }

    pub async fn list_queues(
        &self,
        project: &ProjectId,
        filter: &QueueFilter,
    ) -> Result<Vec<QueueView>, StoreError> {
        let (p, f) = (project.clone(), filter.clone());
        on_reader!(self,
            sqlite: move |c| queues::sqlite::list(c, &p, &f),
            postgres: |c| queues::postgres::list(&mut c, project, filter).await)
    }

    pub async fn count_queues(&self, project: &ProjectId) -> Result<i64, StoreError> {
        let p = project.clone();
        on_reader!(self,
            sqlite: move |c| queues::sqlite::count(c, &p),
            postgres: |c| queues::postgres::count(&mut c, project).await)
    }

    pub async fn queue_stats(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        now: Timestamp,
    ) -> Result<QueueStats, StoreError> {
        let (p, q) = (project.clone(), queue.clone());
        on_reader!(self,
            sqlite: move |c| messages::sqlite::stats(c, &p, &q, now),
            postgres: |c| messages::postgres::stats(&mut c, project, queue, now).await)
    }

    pub async fn list_messages(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        filter: &MessageFilter,
        now: Timestamp,
    ) -> Result<Vec<MessageView>, StoreError> {
        let (p, q, f) = (project.clone(), queue.clone(), filter.clone());
        on_reader!(self,
            sqlite: move |c| messages::sqlite::list(c, &p, &q, &f, now),
            postgres: |c| messages::postgres::list(&mut c, project, queue, filter, now).await)
    }

    pub async fn get_messages(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        ids: &[MessageId],
        now: Timestamp,
    ) -> Result<Vec<MessageView>, StoreError> {
        let (p, q, i) = (project.clone(), queue.clone(), ids.to_vec());
        on_reader!(self,
            sqlite: move |c| messages::sqlite::get_many(c, &p, &q, &i, now),
            postgres: |c| messages::postgres::get_many(&mut c, project, queue, ids, now).await)
    }

    pub async fn get_claim(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        claim_id: &ClaimId,
        now: Timestamp,
    ) -> Result<Option<ClaimView>, StoreError> {
        let (p, q, i) = (project.clone(), queue.clone(), claim_id.clone());
        on_reader!(self,
            sqlite: move |c| claims::sqlite::get(c, &p, &q, &i, now),
            postgres: |c| claims::postgres::get(&mut c, project, queue, claim_id, now).await)
    }

    pub async fn list_subscriptions(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        page: &Page,
        now: Timestamp,
    ) -> Result<Vec<SubscriptionView>, StoreError> {
        let (p, q, g) = (project.clone(), queue.clone(), page.clone());
        on_reader!(self,
            sqlite: move |c| subscriptions::sqlite::list(c, &p, &q, &g, now),
            postgres: |c| subscriptions::postgres::list(&mut c, project, queue, page, now).await)
    }

    /// A row of the catalogue.
    pub async fn catalogue_entry(
        &self,
        kind: Kind,
        project: &ProjectId,
        name: &str,
    ) -> Result<Option<Entry>, StoreError> {
        let (p, n) = (project.clone(), name.to_owned());
        on_reader!(self,
            sqlite: move |c| catalogue::sqlite::get(c, kind, &p, &n),
            postgres: |c| catalogue::postgres::get(&mut c, kind, project, name).await)
    }

    /// A page of the project's catalogue rows of one kind (pools: the catalogue's project).
    pub async fn catalogue(
        &self,
        project: &ProjectId,
        listing: &Listing,
    ) -> Result<Vec<Entry>, StoreError> {
        let (p, l) = (project.clone(), listing.clone());
        on_reader!(self,
            sqlite: move |c| catalogue::sqlite::list(c, &p, &l),
            postgres: |c| catalogue::postgres::list(&mut c, project, listing).await)
    }

    pub async fn get_subscription(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<SubscriptionView>, StoreError> {
        let (p, q, i) = (project.clone(), queue.clone(), id.to_owned());
        on_reader!(self,
            sqlite: move |c| subscriptions::sqlite::get(c, &p, &q, &i, now),
            postgres: |c| subscriptions::postgres::get(&mut c, project, queue, id, now).await)
    }
}
