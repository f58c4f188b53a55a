//! The SQLite backend: one database file in WAL mode, written by a single writer task
//! (group commit, `synchronous=FULL` by default) and read through a separate pool.

mod checkpointer;
pub(crate) mod log;
pub mod rebuild;
pub mod retention;
mod writer;

/// The writer's connection settings and its checkpointer, also used by
/// `examples/raw_sqlite` so that its raw limit runs under the server's arrangement.
pub use checkpointer::Checkpointer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::batch::{Job, Task};
use super::StoreOptions;
use crate::commands::Committed;
use crate::error::{ApiError, StoreError};
use crate::events::bus::EventBus;
use crate::model::{
    ClaimId, Clock, Limits, MessageId, ProjectId, QueueMetadata, QueueName, Timestamp,
};
use crate::projections::sqlite::{claims, history, messages, queues, subscriptions};
use crate::projections::{
    ClaimView, MessageFilter, MessageView, QueueFilter, QueueStats, QueueView, SubscriptionView,
};
use crate::schema;

/// A handle to an open SQLite store; cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    sender: mpsc::Sender<writer::Work>,
    readers: SqlitePool,
    bus: EventBus,
    done: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl SqliteStore {
    pub async fn open(
        path: &Path,
        options: &StoreOptions,
        limits: Arc<Limits>,
        clock: Arc<dyn Clock>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Corrupt(format!("cannot create {dir:?}: {e}")))?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if options.sync_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(Duration::from_secs(10))
            .disable_statement_logging();
        let mut conn: SqliteConnection = connect.connect().await?;
        migrator().run_direct(&mut conn).await?;
        let next_seq = log::last_seq(&mut conn).await? + 1;
        let readers = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .connect_with(connect)
            .await?;
        let (sender, receiver) = mpsc::channel(options.max_batch.max(1) * 4);
        let bus = EventBus::default();
        let writer = writer::Writer {
            tx: writer::Transaction {
                conn: connect_writer(path, options.sync_full)?,
                next_seq,
            },
            checkpointer: checkpointer::Checkpointer::start(path, options.sync_full)?,
            maintenance: conn,
            runtime: tokio::runtime::Handle::current(),
            limits,
            clock,
            max_batch: options.max_batch.max(1),
            bus: bus.clone(),
            path: path.to_path_buf(),
            metrics,
        };
        let handle = tokio::task::spawn_blocking(move || writer.run(receiver));
        Ok(SqliteStore {
            sender,
            readers,
            bus,
            done: Arc::new(Mutex::new(Some(handle))),
        })
    }

    /// Hands a task to the writer and waits for its result.
    pub async fn run(&self, task: Task) -> Result<Committed, ApiError> {
        let (reply, answer) = oneshot::channel();
        let job = Job { task, reply };
        let closed = || ApiError::from(StoreError::Closed);
        let job = writer::Work::Job(Box::new(job));
        self.sender.send(job).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Lets the writer finish the commands already queued, then closes every connection.
    pub async fn close(&self) {
        let _ = self.sender.send(writer::Work::Stop).await;
        if let Some(handle) = self.done.lock().await.take() {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "the writer task failed");
            }
        }
        self.readers.close().await;
    }

    /// Events committed from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<crate::events::Envelope>> {
        self.bus.subscribe()
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
        claims::get(
            &mut *self.readers.acquire().await?,
            project,
            queue,
            claim_id,
            now,
        )
        .await
    }
}

impl SqliteStore {
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
}

impl SqliteStore {
    /// A page of the project's event feed.
    pub async fn list_events(
        &self,
        project: &ProjectId,
        filter: &crate::events::EventFilter,
    ) -> Result<Vec<crate::events::Envelope>, StoreError> {
        log::list(&mut *self.readers.acquire().await?, project, filter).await
    }

    /// Up to `limit` events of every project after `after`, in log order.
    pub async fn log_range(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<crate::events::Envelope>, StoreError> {
        log::range(&mut *self.readers.acquire().await?, after, limit).await
    }

    /// A value of `log_meta` (0 when unset).
    pub async fn meta(&self, key: &str) -> Result<i64, StoreError> {
        retention::meta(&mut *self.readers.acquire().await?, key).await
    }

    /// The last pruned log position (0 if the log is complete).
    pub async fn horizon(&self) -> Result<i64, StoreError> {
        retention::meta(&mut *self.readers.acquire().await?, "horizon").await
    }

    /// Every retained event that concerns the message, in order.
    pub async fn message_history(
        &self,
        project: &ProjectId,
        id: &MessageId,
    ) -> Result<Vec<crate::events::Envelope>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        let seqs = history::positions(&mut conn, id).await?;
        log::at_positions(&mut conn, project, &seqs).await
    }
}

fn migrator() -> Migrator {
    schema::migrator(schema::SQLITE)
}

/// Opens the writer's synchronous connection to an existing store.
pub fn connect_writer(
    path: &std::path::Path,
    sync_full: bool,
) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if sync_full { "FULL" } else { "NORMAL" },
    )?;
    conn.pragma_update(None, "wal_autocheckpoint", checkpointer::SAFETY_NET_PAGES)?;
    // A multi-row statement keeps a journal of the pages it changes, to undo itself alone
    // if a row fails; in memory, not in a temporary file written page by page.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}
