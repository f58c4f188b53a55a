//! The single writer of an SQLite store, on a thread of its own with a synchronous
//! connection. Commands queue up on a channel; the writer takes as many as are waiting (up
//! to `max_batch`), decides and applies them one after another in one transaction, and
//! commits once — one fsync for the whole batch (group commit). Replies go out only after
//! the commit, so an acknowledged write is durable.
//!
//! The thread runs every statement of a batch itself: no statement is a hand-off to another
//! thread. Log maintenance (pruning), rare and file-heavy, runs on the same connection
//! between batches.

use std::sync::Arc;

use futures_util::FutureExt;
use rusqlite::Connection;
use tokio::sync::mpsc;

use crate::commands::Committed;
use crate::error::{ApiError, StoreError};
use crate::events::bus::EventBus;
use crate::events::Envelope;
use crate::model::{Clock, Limits};
use crate::projections::sqlite::fold;
use crate::store::batch::{self, Backend, Job, Task};

use super::retention;

/// What the writer's channel carries.
pub enum Work {
    Job(Box<Job>),
    /// Finish what is queued, accept nothing more, and end.
    Stop,
}

pub struct Writer {
    /// The synchronous connection every batch runs on.
    pub tx: Transaction,
    pub limits: Arc<Limits>,
    pub clock: Arc<dyn Clock>,
    pub max_batch: usize,
    /// Where committed events are announced.
    pub bus: EventBus,
    /// The database file (snapshots are written next to it).
    pub path: std::path::PathBuf,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Copies the WAL into the database off this thread.
    pub checkpointer: super::checkpointer::Checkpointer,
}

impl Writer {
    /// Serves jobs until told to stop (then drains what is queued) or every sender is gone;
    /// then closes the connections. Blocks: run it on a blocking thread.
    pub fn run(mut self, mut work: mpsc::Receiver<Work>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(first) = work.blocking_recv() {
            match first {
                Work::Job(job) => batch.push(*job),
                Work::Stop => work.close(),
            }
            while batch.len() < self.max_batch {
                match work.try_recv() {
                    Ok(Work::Job(job)) => batch.push(*job),
                    Ok(Work::Stop) => work.close(),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.serve(&mut batch);
            }
        }
        self.checkpointer.stop();
        if let Err((_, e)) = self.tx.conn.close() {
            tracing::warn!(error = %e, "closing the writer connection");
        }
    }

    fn serve(&mut self, batch: &mut Vec<Job>) {
        let mut results = self.commit_batch(batch);
        // Log maintenance runs after the batch, outside any transaction.
        for (job, result) in batch.iter().zip(results.iter_mut()) {
            if let (Task::Prune { before, keep_after }, Ok(_)) = (&job.task, &result) {
                let head = self.tx.next_seq - 1;
                let pruned = retention::prune(&self.tx.conn, &self.path, *before, head, keep_after);
                match pruned {
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
        // After the replies: the batch is acknowledged before the log starts over.
        if let Err(e) = self.checkpointer.restart_if_due(&self.tx.conn) {
            tracing::warn!(error = %e, "starting the WAL over failed");
        }
    }

    fn commit_batch(&mut self, batch: &[Job]) -> Vec<Result<Committed, ApiError>> {
        let limits = self.limits.clone();
        let clock = self.clock.clone();
        // Every step of the SQLite backend is synchronous, so the batch is done at once.
        let decided = batch::decide_batch(&mut self.tx, batch, &limits, clock.as_ref())
            .now_or_never()
            .unwrap_or_else(|| Err(StoreError::Corrupt("a batch did not complete".into())));
        match decided {
            Ok(decided) => {
                self.metrics.committed(batch.len(), &decided.appended);
                let t = decided.timing;
                self.metrics.batch_timed(t.waits(batch), t.apply, t.commit);
                self.bus.publish(decided.appended);
                decided.results
            }
            Err(err) => {
                self.tx.rollback();
                let api: ApiError = err.into();
                batch.iter().map(|_| Err(api.clone())).collect()
            }
        }
    }
}

/// The writer's connection as the batch loop sees it.
pub struct Transaction {
    pub conn: Connection,
    /// Position the next appended event gets.
    pub next_seq: i64,
}

impl Transaction {
    fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "rollback after a failed batch");
            }
        }
    }
}

impl Backend for Transaction {
    type Reads = Connection;

    fn reads(&mut self) -> &mut Connection {
        &mut self.conn
    }

    async fn begin(&mut self) -> Result<i64, StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(self.next_seq)
    }

    async fn record(&mut self, env: &Envelope) -> Result<(), StoreError> {
        // Into the log first: a later command of the batch may read a message's body from
        // its posting event (`projections::sqlite::bodies`).
        fold::append(&self.conn, env)?;
        fold::apply(&self.conn, env)
    }

    async fn advance_checkpoint(&mut self, name: &str, seq: i64) -> Result<(), StoreError> {
        fold::advance_checkpoint(&self.conn, name, seq)
    }

    async fn commit(&mut self, appended: &[Envelope]) -> Result<(), StoreError> {
        if let Some(last) = appended.last() {
            fold::checkpoint(&self.conn, last.seq)?;
        }
        self.conn.execute_batch("COMMIT")?;
        if let Some(last) = appended.last() {
            self.next_seq = last.seq + 1;
        }
        Ok(())
    }
}
