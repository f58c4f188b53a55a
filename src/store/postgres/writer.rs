//! The writer of one Cairn node on a shared PostgreSQL database. As on SQLite, commands
//! queue up on a channel and the writer commits as many as are waiting in one transaction
//! (group commit). Across nodes, every batch transaction first takes the log lock (a
//! transaction-scoped advisory lock), then reads the log's head: positions are therefore
//! gap-free, committed in order, and every decision sees every earlier commit of every node
//! — a message can never be handed to two live claims, and a sweep never records an expiry
//! twice. After the commit, a `NOTIFY` wakes the other nodes' relays.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::{mpsc, oneshot, watch};

use super::log;
use super::relay::{self, CHANNEL};
use crate::commands::Committed;
use crate::error::{ApiError, StoreError};
use crate::events::Envelope;
use crate::model::{Clock, Limits};
use crate::projections::postgres as views;
use crate::store::batch::{self, Backend, Job};

/// Key of the advisory lock that serializes appends to the log, across all nodes.
pub const LOG_LOCK: i64 = 0x6361_6972_6e5f_6c6f; // "cairn_lo"

/// Longest a batch's replies wait for its events to reach the bus.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the writer waits for a (re)connection before failing a batch.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Writer {
    pub connect: PgConnectOptions,
    /// The writer's own connection; `None` after a failure, re-opened for the next batch.
    pub conn: Option<PgConnection>,
    pub limits: Arc<Limits>,
    pub clock: Arc<dyn Clock>,
    pub max_batch: usize,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// This node's relay, which publishes each committed batch on the event bus.
    pub relay: mpsc::Sender<relay::Local>,
}

impl Writer {
    /// Serves jobs until told to stop (then drains what is queued) or every sender is gone.
    pub async fn run(mut self, mut jobs: mpsc::Receiver<Job>, mut stop: watch::Receiver<bool>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        loop {
            tokio::select! {
                biased;
                n = jobs.recv_many(&mut batch, self.max_batch) => {
                    if n == 0 {
                        break;
                    }
                    self.serve(&mut batch).await;
                }
                _ = stop.changed() => {
                    jobs.close();
                    while jobs.recv_many(&mut batch, self.max_batch).await > 0 {
                        self.serve(&mut batch).await;
                    }
                    break;
                }
            }
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }

    async fn serve(&mut self, batch: &mut Vec<Job>) {
        let results = match self.commit_batch(batch).await {
            Ok(results) => results,
            Err(err) => {
                // The connection may be broken, or the transaction aborted: start afresh.
                if let Some(conn) = self.conn.take() {
                    drop(conn.close_hard());
                }
                let api: ApiError = err.into();
                batch.iter().map(|_| Err(api.clone())).collect()
            }
        };
        for (job, result) in batch.drain(..).zip(results) {
            let _ = job.reply.send(result);
        }
    }

    async fn connection(&mut self) -> Result<&mut PgConnection, StoreError> {
        if self.conn.is_none() {
            let conn = tokio::time::timeout(CONNECT_TIMEOUT, self.connect.connect())
                .await
                .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))??;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    async fn commit_batch(
        &mut self,
        batch: &[Job],
    ) -> Result<Vec<Result<Committed, ApiError>>, StoreError> {
        let limits = self.limits.clone();
        let clock = self.clock.clone();
        let conn = self.connection().await?;
        let decided =
            batch::decide_batch(&mut Transaction(conn), batch, &limits, clock.as_ref()).await?;
        self.metrics.committed(batch.len(), &decided.appended);
        let t = decided.timing;
        self.metrics.batch_timed(t.waits(batch), t.apply, t.commit);
        if !decided.appended.is_empty() {
            // Replies wait until the events are on the bus (a subscription made after a
            // `201` must not be pushed what that request wrote). A stuck relay only delays.
            let (published, done) = oneshot::channel();
            let local = relay::Local {
                events: decided.appended,
                published,
            };
            if self.relay.send(local).await.is_ok() {
                let _ = tokio::time::timeout(PUBLISH_TIMEOUT, done).await;
            }
        }
        Ok(decided.results)
    }
}

/// The writer's connection as the batch loop sees it.
struct Transaction<'c>(&'c mut PgConnection);

impl Backend for Transaction<'_> {
    type Reads = PgConnection;

    fn reads(&mut self) -> &mut PgConnection {
        self.0
    }

    async fn begin(&mut self) -> Result<i64, StoreError> {
        sqlx::query("BEGIN").execute(&mut *self.0).await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK)
            .execute(&mut *self.0)
            .await?;
        Ok(log::last_seq(self.0).await? + 1)
    }

    async fn record(&mut self, env: &Envelope) -> Result<(), StoreError> {
        // The log rows go in at commit, in one statement.
        views::apply(self.0, env).await
    }

    async fn advance_checkpoint(&mut self, name: &str, seq: i64) -> Result<(), StoreError> {
        views::advance_checkpoint(self.0, name, seq).await
    }

    async fn commit(&mut self, appended: &[Envelope]) -> Result<(), StoreError> {
        if let Some(last) = appended.last() {
            log::append(self.0, appended).await?;
            views::checkpoint(self.0, last.seq).await?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(last.seq.to_string())
                .execute(&mut *self.0)
                .await?;
        }
        sqlx::query("COMMIT").execute(&mut *self.0).await?;
        Ok(())
    }
}
