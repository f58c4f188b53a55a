//! The PostgreSQL backend: the multi-node store. Any number of stateless Cairn nodes share
//! one database. Each node has one writer (group commit; appends serialized across nodes by
//! the log lock, see [`writer`]), a reader pool, and a relay that feeds its event bus from
//! the shared log (see [`relay`]). Migrations run at start-up under sqlx's migration lock,
//! so nodes may start together.

pub(crate) mod log;
pub mod rebuild;
mod relay;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::ConnectOptions;
use tokio::sync::{mpsc, oneshot, watch, Mutex};

use super::batch::{Job, Task};
use super::StoreOptions;
use crate::commands::Committed;
use crate::error::{ApiError, StoreError};
use crate::events::bus::EventBus;
use crate::events::{Envelope, EventFilter};
use crate::model::{
    ClaimId, Clock, Limits, MessageId, ProjectId, QueueMetadata, QueueName, Timestamp,
};
use crate::projections::postgres::{claims, history, messages, queues, subscriptions};
use crate::projections::{
    ClaimView, MessageFilter, MessageView, QueueFilter, QueueStats, QueueView, SubscriptionView,
};
use crate::schema;

/// How long a request waits for a pooled connection before it gets a 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connection options from a `postgres://` URL, with the statement timeout applied.
pub fn connect_options(url: &str, options: &StoreOptions) -> Result<PgConnectOptions, StoreError> {
    let connect = PgConnectOptions::from_str(url)?;
    let timeout_ms = options.statement_timeout.as_millis().to_string();
    Ok(connect
        .options([("statement_timeout", timeout_ms.as_str())])
        .application_name("cairn")
        .disable_statement_logging())
}

/// A handle to an open PostgreSQL store; cheap to clone.
#[derive(Debug, Clone)]
pub struct PgStore {
    sender: mpsc::Sender<Job>,
    stop: Arc<watch::Sender<bool>>,
    readers: PgPool,
    bus: EventBus,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl PgStore {
    pub async fn open(
        url: &str,
        options: &StoreOptions,
        limits: Arc<Limits>,
        clock: Arc<dyn Clock>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<Self, StoreError> {
        let connect = connect_options(url, options)?;
        let readers = PgPoolOptions::new()
            .max_connections(options.readers.max(2))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(connect.clone())
            .await?;
        migrator().run(&readers).await?;
        let head = log::last_seq(&mut *readers.acquire().await?).await?;
        metrics.set_log_position(head);
        let bus = EventBus::default();
        let (to_relay, from_writer) = mpsc::channel(16);
        let (sender, receiver) = mpsc::channel(options.max_batch.max(1) * 4);
        let (stop, stopped) = watch::channel(false);
        let writer = writer::Writer {
            connect,
            conn: None,
            limits,
            clock,
            max_batch: options.max_batch.max(1),
            metrics,
            relay: to_relay,
        };
        let relay = relay::Relay {
            pool: readers.clone(),
            bus: bus.clone(),
            cursor: head,
            local: from_writer,
            metrics: writer.metrics.clone(),
        };
        let tasks = vec![
            tokio::spawn(writer.run(receiver, stopped.clone())),
            tokio::spawn(relay.run(stopped)),
        ];
        Ok(PgStore {
            sender,
            stop: Arc::new(stop),
            readers,
            bus,
            tasks: Arc::new(Mutex::new(tasks)),
        })
    }

    /// Hands a task to the writer and waits for its result.
    pub async fn run(&self, task: Task) -> Result<Committed, ApiError> {
        let (reply, answer) = oneshot::channel();
        let job = Job { task, reply };
        let closed = || ApiError::from(StoreError::Closed);
        self.sender.send(job).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Lets the writer finish the commands already queued, then closes every connection.
    pub async fn close(&self) {
        let _ = self.stop.send(true);
        for handle in self.tasks.lock().await.drain(..) {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "a store task failed");
            }
        }
        self.readers.close().await;
    }

    /// Events committed from now on, by any node.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Envelope>> {
        self.bus.subscribe()
    }

    /// Takes the session-level advisory lock `key` of this store's schema (advisory locks
    /// are per database; stores in other schemas of it have their own) on a connection of
    /// its own, if no other node holds it; the lock lasts as long as that connection.
    pub async fn try_lease(&self, key: i32) -> Result<Option<sqlx::PgConnection>, StoreError> {
        let mut conn = self.readers.acquire().await?.detach();
        let held: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext(current_schema()))")
                .bind(key)
                .fetch_one(&mut conn)
                .await?;
        if held {
            return Ok(Some(conn));
        }
        let _ = sqlx::Connection::close(conn).await;
        Ok(None)
    }

    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        log::last_seq(&mut *self.readers.acquire().await?).await
    }

    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.readers).await.is_ok()
    }

    pub async fn queue_metadata(
        &self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<Option<QueueMetadata>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        Ok(queues::state(&mut conn, project, queue)
            .await?
            .map(|s| s.metadata))
    }

    pub async fn total_volume(&self, now: Timestamp) -> Result<(i64, i64), StoreError> {
        messages::total_volume(&mut *self.readers.acquire().await?, now).await
    }

    pub async fn project_volume(
        &self,
        project: &ProjectId,
        now: Timestamp,
    ) -> Result<(i64, i64), StoreError> {
        messages::project_volume(&mut *self.readers.acquire().await?, project, now).await
    }

    pub async fn list_queues(
        &self,
        project: &ProjectId,
        filter: &QueueFilter,
    ) -> Result<Vec<QueueView>, StoreError> {
        queues::list(&mut *self.readers.acquire().await?, project, filter).await
    }

    pub async fn count_queues(&self, project: &ProjectId) -> Result<i64, StoreError> {
        queues::count(&mut *self.readers.acquire().await?, project).await
    }

    pub async fn queue_stats(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        now: Timestamp,
    ) -> Result<QueueStats, StoreError> {
        messages::stats(&mut *self.readers.acquire().await?, project, queue, now).await
    }

    pub async fn list_messages(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        filter: &MessageFilter,
        now: Timestamp,
    ) -> Result<Vec<MessageView>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        messages::list(&mut conn, project, queue, filter, now).await
    }

    pub async fn get_messages(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        ids: &[MessageId],
        now: Timestamp,
    ) -> Result<Vec<MessageView>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        messages::get_many(&mut conn, project, queue, ids, now).await
    }

    pub async fn get_claim(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        claim_id: &ClaimId,
        now: Timestamp,
    ) -> Result<Option<ClaimView>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        claims::get(&mut conn, project, queue, claim_id, now).await
    }

    pub async fn list_subscriptions(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        marker: Option<&str>,
        limit: i64,
        now: Timestamp,
    ) -> Result<Vec<SubscriptionView>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        subscriptions::list(&mut conn, project, queue, marker, limit, now).await
    }

    pub async fn get_subscription(
        &self,
        project: &ProjectId,
        queue: &QueueName,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<SubscriptionView>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        subscriptions::get(&mut conn, project, queue, id, now).await
    }

    /// A page of the project's event feed.
    pub async fn list_events(
        &self,
        project: &ProjectId,
        filter: &EventFilter,
    ) -> Result<Vec<Envelope>, StoreError> {
        log::list(&mut *self.readers.acquire().await?, project, filter).await
    }

    /// Up to `limit` events of every project after `after`, in log order.
    pub async fn log_range(&self, after: i64, limit: i64) -> Result<Vec<Envelope>, StoreError> {
        log::range(&mut *self.readers.acquire().await?, after, None, limit).await
    }

    /// A value of `log_meta` (0 when unset).
    pub async fn meta(&self, key: &str) -> Result<i64, StoreError> {
        crate::projections::postgres::read_checkpoint(&mut *self.readers.acquire().await?, key)
            .await
    }

    /// The log is never pruned on PostgreSQL (yet): it is always complete.
    pub async fn horizon(&self) -> Result<i64, StoreError> {
        Ok(0)
    }

    /// Every event that concerns the message, in order.
    pub async fn message_history(
        &self,
        project: &ProjectId,
        id: &MessageId,
    ) -> Result<Vec<Envelope>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        let seqs = history::positions(&mut conn, id).await?;
        log::at_positions(&mut conn, project, &seqs).await
    }
}

fn migrator() -> Migrator {
    schema::migrator(schema::POSTGRES)
}
