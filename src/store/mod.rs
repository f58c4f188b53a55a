//! The store: one event log plus the inline read models, behind a closed enum of backends
//! chosen by URL (`sqlite://PATH` for one machine, `postgres://…` for many nodes on one
//! database). Handlers see only [`Store`]: `submit` runs a command through the backend's
//! writer (group commit), and the query methods read the projections through a reader pool.

pub mod batch;
pub mod follow;
pub mod pools;
pub mod postgres;
mod reads;
pub mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;

use crate::commands::{Command, Committed, Outcome, Scope};
use crate::error::{ApiError, StoreError};
use crate::model::{Clock, Limits, ProjectId, Timestamp};
use batch::Task;

/// The `log_meta` key of the notification engine's checkpoint.
pub const NOTIFIER_CHECKPOINT: &str = "notifier";

/// The `log_meta` key of the Kafka relay's checkpoint: every event up to it is committed in
/// the topic (a lower bound; the topic itself is the truth).
pub const RELAY_CHECKPOINT: &str = "kafka_relay";

/// The work that one node of a cluster does at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Singleton {
    /// The notification engine.
    Notifier,
    /// The Kafka relay.
    Relay,
}

impl Singleton {
    /// The PostgreSQL advisory lock held by the node that runs it.
    fn lock(self) -> i32 {
        match self {
            Singleton::Notifier => 0x6361_6902,
            Singleton::Relay => 0x6361_6903,
        }
    }
}

/// The right to run a cluster-wide singleton: always held on SQLite (one process), held
/// through an advisory lock's connection on PostgreSQL.
pub enum Lease {
    Local,
    Postgres(sqlx::PgConnection),
}

impl Lease {
    /// Resolves when the lease is lost (the lock's connection broke); never on SQLite.
    pub async fn lost(&mut self) {
        match self {
            Lease::Local => std::future::pending().await,
            Lease::Postgres(conn) => loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let alive = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    sqlx::query("SELECT 1").execute(&mut *conn),
                )
                .await;
                if !matches!(alive, Ok(Ok(_))) {
                    return;
                }
            },
        }
    }
}

/// Where the store lives, parsed from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, as a `postgres://` URL.
    Postgres(String),
}

impl std::str::FromStr for StoreUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once("://") {
            Some(("sqlite", path)) if !path.is_empty() => Ok(StoreUrl::Sqlite(path.into())),
            Some(("postgres" | "postgresql", rest)) if !rest.is_empty() => {
                Ok(StoreUrl::Postgres(s.to_owned()))
            }
            _ => Err(format!(
                "unsupported store URL {s:?}; expected sqlite://PATH or postgres://USER@HOST/DB"
            )),
        }
    }
}

/// Shown in logs and errors without any password.
impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StoreUrl::Postgres(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                match rest.split_once('@') {
                    Some((user, host)) if user.contains(':') => {
                        let user = user.split(':').next().unwrap_or_default();
                        write!(f, "{scheme}://{user}:***@{host}")
                    }
                    _ => f.write_str(url),
                }
            }
        }
    }
}

/// Tuning shared by all backends.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most commands committed in one transaction.
    pub max_batch: usize,
    /// Connections in the reader pool.
    pub readers: u32,
    /// SQLite `synchronous=FULL` (true) or `NORMAL`.
    pub sync_full: bool,
    /// PostgreSQL: the longest a statement may run before the server cancels it.
    pub statement_timeout: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_batch: 256,
            readers: 4,
            sync_full: true,
            statement_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// What a long store operation (a replay, a verify) reports as it goes.
pub trait Progress {
    /// There are `n` more events to go through.
    fn total(&mut self, n: u64);
    /// `n` more events are done.
    fn done(&mut self, n: u64);
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn total(&mut self, _: u64) {}
    fn done(&mut self, _: u64) {}
}

/// What a store's writer uses from the rest of the node: the limits its decisions apply,
/// the clock, and the metrics it counts into.
#[derive(Clone)]
pub struct Services {
    pub limits: Arc<Limits>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The storage backends.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens (creating if needed) the store and applies its migrations.
    pub async fn open(
        url: &StoreUrl,
        options: &StoreOptions,
        services: Services,
    ) -> Result<Store, StoreError> {
        match url {
            StoreUrl::Sqlite(path) => Ok(Store::Sqlite(
                sqlite::SqliteStore::open(path, options, services).await?,
            )),
            StoreUrl::Postgres(url) => Ok(Store::Postgres(
                postgres::PgStore::open(url, options, services).await?,
            )),
        }
    }

    /// Runs a command to completion: decided, appended and durable, or rejected.
    pub async fn submit(&self, scope: Scope, command: Command) -> Result<Committed, ApiError> {
        self.run(Task::Command(scope, command)).await
    }

    /// Hands a task to the backend's writer and waits for its result.
    async fn run(&self, task: Task) -> Result<Committed, ApiError> {
        match self {
            Store::Sqlite(s) => s.run(task).await,
            Store::Postgres(s) => s.run(task).await,
        }
    }

    /// The lease of a singleton, if this node may take it now.
    pub async fn lease(&self, singleton: Singleton) -> Result<Option<Lease>, StoreError> {
        match self {
            Store::Sqlite(_) => Ok(Some(Lease::Local)),
            Store::Postgres(s) => Ok(s.try_lease(singleton.lock()).await?.map(Lease::Postgres)),
        }
    }

    /// Waits for the writer to finish its work and closes the connections.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.close().await,
        }
    }

    /// Prunes the events recorded before `before`, snapshotting the read models first.
    pub async fn prune(&self, before: Timestamp) -> Result<(), ApiError> {
        self.prune_keeping(before, Vec::new()).await
    }

    /// [`Store::prune`], keeping every event after the checkpoints named in `keep_after`
    /// (the consumers that still need them).
    pub async fn prune_keeping(
        &self,
        before: Timestamp,
        keep_after: Vec<&'static str>,
    ) -> Result<(), ApiError> {
        let prune = Task::Prune { before, keep_after };
        self.run(prune).await.map(|_| ())
    }

    /// Records a consumer's checkpoint ([`Store::checkpoint`] reads it back); it never moves
    /// backwards.
    pub async fn advance_checkpoint(&self, name: &'static str, seq: i64) -> Result<(), ApiError> {
        self.run(Task::AdvanceCheckpoint { name, seq })
            .await
            .map(|_| ())
    }

    /// Records the expiries due now (the background sweeper calls this periodically): one
    /// bounded sweep per writer transaction, each batched with the requests queued beside it,
    /// until one finds nothing more due, `go_on` says to stop (at shutdown), or
    /// [`MAX_SWEEPS`] have run (the next call goes on). Returns the sweeps run.
    pub async fn sweep(&self, go_on: impl Fn() -> bool) -> Result<usize, ApiError> {
        for sweeps in 1..=MAX_SWEEPS {
            let swept = self.submit(maintenance_scope(), Command::Sweep).await?;
            if !matches!(swept.outcome, Outcome::Swept(true)) || !go_on() {
                return Ok(sweeps);
            }
        }
        tracing::info!(
            sweeps = MAX_SWEEPS,
            "more expiries due; the next sweep goes on"
        );
        Ok(MAX_SWEEPS)
    }
}

/// Most sweeps one [`Store::sweep`] runs: up to this many times
/// [`crate::commands::load::SWEEP_BATCH`] expiries of each kind.
const MAX_SWEEPS: usize = 1_000;

/// The scope of the expiry sweep: no project's request.
fn maintenance_scope() -> Scope {
    Scope {
        project: ProjectId::new(Some("-")).expect("non-empty"),
        client_id: None,
        request_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend() {
        assert_eq!(
            "sqlite://data/cairn.db".parse(),
            Ok(StoreUrl::Sqlite("data/cairn.db".into()))
        );
        let pg = "postgres://cairn@db:5432/cairn";
        assert_eq!(pg.parse(), Ok(StoreUrl::Postgres(pg.into())));
        assert!("postgres://".parse::<StoreUrl>().is_err());
        assert!("mysql://x/y".parse::<StoreUrl>().is_err());
    }

    #[test]
    fn passwords_never_reach_the_logs() {
        let url = StoreUrl::Postgres("postgresql://cairn:s3cret@db/cairn?sslmode=require".into());
        assert_eq!(
            url.to_string(),
            "postgresql://cairn:***@db/cairn?sslmode=require"
        );
        let url = StoreUrl::Postgres("postgres://cairn@db/cairn".into());
        assert_eq!(url.to_string(), "postgres://cairn@db/cairn");
    }
}
