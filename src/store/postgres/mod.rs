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
use super::{Services, StoreOptions};
use crate::commands::Committed;
use crate::error::{ApiError, StoreError};
use crate::events::bus::EventBus;
use crate::events::Envelope;
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
        services: Services,
    ) -> Result<Self, StoreError> {
        let connect = connect_options(url, options)?;
        let readers = PgPoolOptions::new()
            .max_connections(options.readers.max(2))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(connect.clone())
            .await?;
        migrator().run(&readers).await?;
        let head = log::last_seq(&mut *readers.acquire().await?).await?;
        services.metrics.set_log_position(head);
        let bus = EventBus::default();
        let (to_relay, from_writer) = mpsc::channel(16);
        let (sender, receiver) = mpsc::channel(options.max_batch.max(1) * 4);
        let (stop, stopped) = watch::channel(false);
        let writer = writer::Writer {
            connect,
            conn: None,
            limits: services.limits,
            clock: services.clock,
            max_batch: options.max_batch.max(1),
            metrics: services.metrics,
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
        let job = Job::new(task, reply);
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

    /// A connection of the reader pool.
    pub(super) async fn reader(
        &self,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, StoreError> {
        Ok(self.readers.acquire().await?)
    }

    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.readers).await.is_ok()
    }
}

fn migrator() -> Migrator {
    schema::migrator(schema::POSTGRES)
}
