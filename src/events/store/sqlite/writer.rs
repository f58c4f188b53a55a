//! The single writer of an SQLite store. Commands queue up on a channel; the writer takes
//! as many as are waiting (up to `max_batch`), decides and applies them one after another in
//! one transaction, and commits once — one fsync for the whole batch (group commit). Replies
//! go out only after the commit, so an acknowledged write is durable.

use std::sync::Arc;

use sqlx::SqliteConnection;
use tokio::sync::{mpsc, watch};

use crate::commands::{load, Command, Committed};
use crate::error::{ApiError, StoreError};
use crate::events::bus::EventBus;
use crate::events::Envelope;
use crate::model::{Clock, Limits};
use crate::projections::sqlite as views;

use super::{log, retention};
use crate::events::store::Job;

pub struct Writer {
    pub conn: SqliteConnection,
    pub limits: Arc<Limits>,
    pub clock: Arc<dyn Clock>,
    pub max_batch: usize,
    /// Position the next appended event gets.
    pub next_seq: i64,
    /// Where committed events are announced.
    pub bus: EventBus,
    /// The database file (snapshots are written next to it).
    pub path: std::path::PathBuf,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl Writer {
    /// Serves jobs until told to stop (then drains what is queued) or every sender is gone;
    /// then closes the connection.
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
        if let Err(e) = sqlx::Connection::close(self.conn).await {
            tracing::warn!(error = %e, "closing the writer connection");
        }
    }

    async fn serve(&mut self, batch: &mut Vec<Job>) {
        let mut results = self.commit_batch(batch).await;
        // Log maintenance runs after the batch, outside any transaction.
        for (job, result) in batch.iter().zip(results.iter_mut()) {
            if let (Command::Prune { before }, Ok(_)) = (&job.command, &result) {
                let head = self.next_seq - 1;
                match retention::prune(&mut self.conn, &self.path, *before, head).await {
                    Ok(Some(p)) => {
                        tracing::info!(horizon = p.horizon, snapshot = p.snapshot, "pruned the log")
                    }
                    Ok(None) => {}
                    Err(e) => *result = Err(e.into()),
                }
            }
        }
        for (job, result) in batch.drain(..).zip(results) {
            // The requester may have gone away; the write stands regardless.
            let _ = job.reply.send(result);
        }
    }

    async fn commit_batch(&mut self, batch: &[Job]) -> Vec<Result<Committed, ApiError>> {
        let first_seq = self.next_seq;
        match self.try_commit_batch(batch).await {
            Ok(results) => results,
            Err(err) => {
                self.next_seq = first_seq;
                if let Err(e) = sqlx::query("ROLLBACK").execute(&mut self.conn).await {
                    tracing::warn!(error = %e, "rollback after a failed batch");
                }
                let api: ApiError = err.into();
                batch.iter().map(|_| Err(api.clone())).collect()
            }
        }
    }

    async fn try_commit_batch(
        &mut self,
        batch: &[Job],
    ) -> Result<Vec<Result<Committed, ApiError>>, StoreError> {
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut self.conn)
            .await?;
        let mut results = Vec::with_capacity(batch.len());
        let mut appended = Vec::new();
        for job in batch {
            let now = self.clock.now();
            let decided =
                load::decide(&mut self.conn, &self.limits, &job.scope, &job.command, now).await?;
            let decision = match decided {
                Ok(d) => d,
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            for new in decision.events {
                let env = Envelope {
                    seq: self.next_seq,
                    at: now,
                    project: new.project,
                    queue: new.queue,
                    client_id: job.scope.client_id.clone(),
                    request_id: job.scope.request_id.clone(),
                    event: new.event,
                };
                views::apply(&mut self.conn, &env).await?;
                self.next_seq += 1;
                appended.push(env);
            }
            results.push(Ok(Committed {
                outcome: decision.outcome,
                seq: self.next_seq - 1,
            }));
        }
        if !appended.is_empty() {
            log::append(&mut self.conn, &appended).await?;
            views::checkpoint(&mut self.conn, self.next_seq - 1).await?;
        }
        sqlx::query("COMMIT").execute(&mut self.conn).await?;
        self.metrics.committed(batch.len(), &appended);
        self.bus.publish(appended);
        Ok(results)
    }
}
