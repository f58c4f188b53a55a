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

use super::{log, relay};
use crate::commands::{load, Committed};
use crate::error::{ApiError, StoreError};
use crate::events::store::Job;
use crate::events::Envelope;
use crate::model::{Clock, Limits};
use crate::projections::postgres as views;

/// Key of the advisory lock that serializes appends to the log, across all nodes.
pub const LOG_LOCK: i64 = 0x6361_6972_6e5f_6c6f; // "cairn_lo"

/// The channel on which committed log positions are announced.
pub const CHANNEL: &str = "cairn_events";

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
        sqlx::query("BEGIN").execute(&mut *conn).await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK)
            .execute(&mut *conn)
            .await?;
        let mut next_seq = log::last_seq(conn).await? + 1;
        let mut results = Vec::with_capacity(batch.len());
        let mut appended = Vec::new();
        for job in batch {
            let now = clock.now();
            let decision =
                match load::decide(&mut *conn, &limits, &job.scope, &job.command, now).await? {
                    Ok(d) => d,
                    Err(e) => {
                        results.push(Err(e));
                        continue;
                    }
                };
            for new in decision.events {
                let env = Envelope {
                    seq: next_seq,
                    at: now,
                    project: new.project,
                    queue: new.queue,
                    client_id: job.scope.client_id.clone(),
                    request_id: job.scope.request_id.clone(),
                    event: new.event,
                };
                views::apply(conn, &env).await?;
                next_seq += 1;
                appended.push(env);
            }
            if let Some((name, seq)) = job.command.checkpoint() {
                views::advance_checkpoint(conn, name, seq).await?;
            }
            results.push(Ok(Committed {
                outcome: decision.outcome,
                seq: next_seq - 1,
            }));
        }
        if let Some(last) = appended.last() {
            log::append(conn, &appended).await?;
            views::checkpoint(conn, last.seq).await?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(last.seq.to_string())
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query("COMMIT").execute(&mut *conn).await?;
        self.metrics.committed(batch.len(), &appended);
        if !appended.is_empty() {
            // Replies wait until the events are on the bus (a subscription made after a
            // `201` must not be pushed what that request wrote). A stuck relay only delays.
            let (published, done) = oneshot::channel();
            let local = relay::Local {
                events: appended,
                published,
            };
            if self.relay.send(local).await.is_ok() {
                let _ = tokio::time::timeout(PUBLISH_TIMEOUT, done).await;
            }
        }
        Ok(results)
    }
}
