//! The single writer of an SQLite store, on a thread of its own with a synchronous
//! connection. Commands queue up on a channel; the writer takes as many as are waiting (up
//! to `max_batch`), decides and applies them one after another in one transaction, and
//! commits once — one fsync for the whole batch (group commit). Replies go out only after
//! the commit, so an acknowledged write is durable.
//!
//! The thread runs every statement of a batch itself: no statement is a hand-off to another
//! thread. Log maintenance (pruning), rare and file-heavy, runs between batches through the
//! async driver on the runtime.

use std::sync::Arc;

use futures_util::FutureExt;
use rusqlite::Connection;
use sqlx::SqliteConnection;
use tokio::sync::mpsc;

use crate::commands::{load, Command, Committed};
use crate::error::{ApiError, StoreError};
use crate::events::bus::EventBus;
use crate::events::store::Job;
use crate::events::Envelope;
use crate::model::{Clock, Limits};
use crate::projections::sqlite::fold;

use super::retention;

/// What the writer's channel carries.
pub enum Work {
    Job(Box<Job>),
    /// Finish what is queued, accept nothing more, and end.
    Stop,
}

pub struct Writer {
    pub conn: Connection,
    /// The async connection that log maintenance uses, between batches.
    pub maintenance: SqliteConnection,
    pub runtime: tokio::runtime::Handle,
    pub limits: Arc<Limits>,
    pub clock: Arc<dyn Clock>,
    pub max_batch: usize,
    /// Position the next appended event gets.
    pub next_seq: i64,
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
        if let Err((_, e)) = self.conn.close() {
            tracing::warn!(error = %e, "closing the writer connection");
        }
        if let Err(e) = self
            .runtime
            .block_on(sqlx::Connection::close(self.maintenance))
        {
            tracing::warn!(error = %e, "closing the maintenance connection");
        }
    }

    fn serve(&mut self, batch: &mut Vec<Job>) {
        let mut results = self.commit_batch(batch);
        // Log maintenance runs after the batch, outside any transaction.
        for (job, result) in batch.iter().zip(results.iter_mut()) {
            if let (Command::Prune { before, keep_after }, Ok(_)) = (&job.command, &result) {
                let head = self.next_seq - 1;
                let pruned = self.runtime.block_on(retention::prune(
                    &mut self.maintenance,
                    &self.path,
                    *before,
                    head,
                    keep_after,
                ));
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
    }

    fn commit_batch(&mut self, batch: &[Job]) -> Vec<Result<Committed, ApiError>> {
        let first_seq = self.next_seq;
        match self.try_commit_batch(batch) {
            Ok(results) => results,
            Err(err) => {
                self.next_seq = first_seq;
                if !self.conn.is_autocommit() {
                    if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                        tracing::warn!(error = %e, "rollback after a failed batch");
                    }
                }
                let api: ApiError = err.into();
                batch.iter().map(|_| Err(api.clone())).collect()
            }
        }
    }

    fn try_commit_batch(
        &mut self,
        batch: &[Job],
    ) -> Result<Vec<Result<Committed, ApiError>>, StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut results = Vec::with_capacity(batch.len());
        let mut appended = Vec::new();
        for job in batch {
            let now = self.clock.now();
            // The synchronous read model never waits, so the decision is ready at once.
            let decided = load::decide(&mut self.conn, &self.limits, &job.scope, &job.command, now)
                .now_or_never()
                .ok_or_else(|| StoreError::Corrupt("a decision did not complete".into()))??;
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
                // Into the log first: a later command of the batch may read a message's body
                // from its posting event (`projections::sqlite::bodies`).
                fold::append(&self.conn, &env)?;
                fold::apply(&self.conn, &env)?;
                self.next_seq += 1;
                appended.push(env);
            }
            if let Some((name, seq)) = job.command.checkpoint() {
                fold::advance_checkpoint(&self.conn, name, seq)?;
            }
            results.push(Ok(Committed {
                outcome: decision.outcome,
                seq: self.next_seq - 1,
            }));
        }
        if !appended.is_empty() {
            fold::checkpoint(&self.conn, self.next_seq - 1)?;
        }
        self.conn.execute_batch("COMMIT")?;
        self.metrics.committed(batch.len(), &appended);
        self.bus.publish(appended);
        Ok(results)
    }
}

/// Opens the writer's synchronous connection to an existing store.
pub fn connect(path: &std::path::Path, sync_full: bool) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if sync_full { "FULL" } else { "NORMAL" },
    )?;
    conn.pragma_update(
        None,
        "wal_autocheckpoint",
        super::checkpointer::SAFETY_NET_PAGES,
    )?;
    // A multi-row statement keeps a journal of the pages it changes, to undo itself alone
    // if a row fails; in memory, not in a temporary file written page by page.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}
