//! The SQLite backend: one database file in WAL mode, written by a single writer task
//! (group commit, `synchronous=FULL` by default) and read through a separate pool.

mod checkpointer;
pub(crate) mod log;
mod readers;
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
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::batch::{Job, Task};
use super::{Services, StoreOptions};
use crate::commands::Committed;
use crate::error::{ApiError, StoreError};
use crate::events::bus::EventBus;
use crate::schema;

/// A handle to an open SQLite store; cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    sender: mpsc::Sender<writer::Work>,
    readers: readers::Readers,
    bus: EventBus,
    done: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl SqliteStore {
    pub async fn open(
        path: &Path,
        options: &StoreOptions,
        services: Services,
    ) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Corrupt(format!("cannot create {dir:?}: {e}")))?;
        }
        migrate(path, true, options.sync_full).await?;
        let path_owned = path.to_path_buf();
        tokio::task::spawn_blocking(move || rebuild::catch_up(&path_owned))
            .await
            .map_err(|e| StoreError::Corrupt(format!("catching up the read models: {e}")))??;
        let conn = connect_writer(path, options.sync_full)?;
        let next_seq = log::head(&conn)? + 1;
        let readers = readers::Readers::new(path, options.readers as usize);
        let (sender, receiver) = mpsc::channel(options.max_batch.max(1) * 4);
        let bus = EventBus::default();
        let writer = writer::Writer {
            tx: writer::Transaction { conn, next_seq },
            checkpointer: checkpointer::Checkpointer::start(
                path,
                options.sync_full,
                services.metrics.clone(),
            )?,
            limits: services.limits,
            clock: services.clock,
            max_batch: options.max_batch.max(1),
            bus: bus.clone(),
            path: path.to_path_buf(),
            metrics: services.metrics,
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
        let job = Job::new(task, reply);
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
        self.readers.close();
    }

    /// Events committed from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<crate::events::Envelope>> {
        self.bus.subscribe()
    }

    /// Runs `read` on a connection of the reader pool.
    pub(super) async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.readers.read(read).await
    }

    pub async fn ping(&self) -> bool {
        let ping = |c: &rusqlite::Connection| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?);
        self.read(ping).await.is_ok()
    }
}

fn migrator() -> Migrator {
    schema::migrator(schema::SQLITE)
}

/// Brings the store at `path` (created if `create`) to this binary's schema.
pub async fn migrate(path: &Path, create: bool, sync_full: bool) -> Result<(), StoreError> {
    let mut conn: SqliteConnection = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(if sync_full {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        })
        .busy_timeout(Duration::from_secs(30))
        .disable_statement_logging()
        .connect()
        .await?;
    migrator().run_direct(&mut conn).await?;
    Ok(sqlx::Connection::close(conn).await?)
}

/// Opens the writer's synchronous connection to an existing store.
pub fn connect_writer(
    path: &std::path::Path,
    sync_full: bool,
) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(checkpointer::WRITER_PATIENCE)?;
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
