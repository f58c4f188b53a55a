//! The single writer of an SQLite store. Commands queue up on a channel; the writer takes
//! as many as are waiting (up to `max_batch`), decides and applies them one after another in
//! one transaction, and commits once — one fsync for the whole batch (group commit). Replies
//! go out only after the commit, so an acknowledged write is durable.

use std::sync::Arc;

use sqlx::SqliteConnection;
use tokio::sync::{mpsc, oneshot, watch};

use crate::commands::{self, sweep::Expired, Command, Committed, Decision, Scope};
use crate::error::{ApiError, StoreError};
use crate::events::bus::EventBus;
use crate::events::Envelope;
use crate::model::{Clock, Limits, QueueName, Timestamp};
use crate::projections::sqlite::{self as views, claims, messages, queues, subscriptions};

use super::{log, retention};

/// Most expired messages (and claims) one sweep records.
const SWEEP_BATCH: i64 = 1000;

/// A command waiting for the writer, with the channel to answer on.
pub struct Job {
    pub scope: Scope,
    pub command: Command,
    pub reply: oneshot::Sender<Result<Committed, ApiError>>,
}

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
            let decision = match self.decide(&job.scope, &job.command, now).await? {
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
                log::append(&mut self.conn, &env).await?;
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
            views::checkpoint(&mut self.conn, self.next_seq - 1).await?;
        }
        sqlx::query("COMMIT").execute(&mut self.conn).await?;
        self.metrics.committed(batch.len(), &appended);
        self.bus.publish(appended);
        Ok(results)
    }

    /// Loads what the command needs from the read models and lets its subject decide.
    async fn decide(
        &mut self,
        scope: &Scope,
        command: &Command,
        now: Timestamp,
    ) -> Result<Result<Decision, ApiError>, StoreError> {
        let c = &mut self.conn;
        let p = &scope.project;
        let limits = &*self.limits;
        Ok(match command {
            Command::CreateQueue { queue, metadata } => {
                let exists = queues::state(c, p, queue).await?.is_some();
                Ok(commands::queue::create(exists, p, queue, metadata))
            }
            Command::UpdateQueue { queue, ops } => {
                let state = queues::state(c, p, queue).await?;
                let current = state.as_ref().map(|s| &s.metadata);
                commands::queue::update(current, p, queue, ops, limits)
            }
            Command::DeleteQueue { queue } => {
                let exists = queues::state(c, p, queue).await?.is_some();
                Ok(commands::queue::delete(exists, p, queue))
            }
            Command::PurgeQueue {
                queue,
                messages: purge_messages,
                subscriptions: purge_subscriptions,
            } => {
                let purge = commands::queue::Purge {
                    has_messages: messages::any(c, p, queue).await?,
                    has_subscriptions: subscriptions::any(c, p, queue).await?,
                    messages: *purge_messages,
                    subscriptions: *purge_subscriptions,
                };
                Ok(commands::queue::purge(purge, p, queue))
            }
            Command::PostMessages(cmd) => {
                let state = queues::state(c, p, &cmd.queue).await?;
                commands::message::post(state.as_ref(), p, cmd, now, limits)
            }
            Command::DeleteMessage(cmd) => {
                let ids: Vec<_> = cmd.id.iter().cloned().collect();
                let held = messages::held_by(c, p, &cmd.queue, &ids, now).await?;
                let given_claim_live = match &cmd.claim_id {
                    Some(claim) => claims::live_state(c, p, &cmd.queue, claim, now)
                        .await?
                        .is_some(),
                    None => false,
                };
                let target = held.first().map(|(_, h)| h);
                commands::message::delete_one(target, given_claim_live, p, cmd)
            }
            Command::DeleteMessages(cmd) => {
                let held = messages::held_by(c, p, &cmd.queue, &cmd.ids, now).await?;
                commands::message::delete_many(&held, p, cmd)
            }
            Command::PopMessages(cmd) => {
                let available = messages::available(c, p, &cmd.queue, cmd.count, now).await?;
                Ok(commands::message::pop(available, p, cmd))
            }
            Command::ClaimMessages(cmd) => {
                let state = queues::state(c, p, &cmd.queue).await?;
                let mut candidates = Vec::new();
                let mut dead_letter_queue = None;
                let mut dlq_state = None;
                if let Some(state) = &state {
                    candidates = messages::available(c, p, &cmd.queue, cmd.limit, now).await?;
                    let dl = state.metadata.dead_letter();
                    if let Some(name) = dl.and_then(|d| QueueName::new(&d.queue, p).ok()) {
                        dlq_state = queues::state(c, p, &name).await?;
                        dead_letter_queue = Some(name);
                    }
                }
                let input = commands::claim::ClaimInput {
                    queue: state.as_ref(),
                    candidates,
                    dead_letter_queue: dead_letter_queue.map(|n| (n, dlq_state.as_ref())),
                };
                Ok(commands::claim::claim(input, p, cmd, now))
            }
            Command::RenewClaim(cmd) => {
                let state = match &cmd.claim_id {
                    Some(id) => claims::live_state(c, p, &cmd.queue, id, now).await?,
                    None => None,
                };
                commands::claim::renew(state.as_ref(), p, cmd, now)
            }
            Command::ReleaseClaim { queue, claim_id } => {
                let exists = claims::exists(c, p, queue, claim_id).await?;
                Ok(commands::claim::release(exists, p, queue, claim_id))
            }
            Command::CreateSubscription(cmd) => {
                let subscriber = cmd.spec.subscriber.as_deref().unwrap_or("");
                let input = commands::subscription::CreateInput {
                    queue_exists: queues::state(c, p, &cmd.queue).await?.is_some(),
                    same_subscriber: subscriptions::by_subscriber(
                        c, p, &cmd.queue, subscriber, None, now,
                    )
                    .await?,
                };
                commands::subscription::create(input, p, cmd, now, limits)
            }
            Command::UpdateSubscription(cmd) => {
                let current = subscriptions::get(c, p, &cmd.queue, &cmd.id, now).await?;
                let duplicate = match (&current, &cmd.spec.subscriber) {
                    (Some(cur), Some(subscriber)) => subscriptions::by_subscriber(
                        c,
                        p,
                        &cmd.queue,
                        subscriber,
                        Some(&cur.id),
                        now,
                    )
                    .await?
                    .is_some(),
                    _ => false,
                };
                commands::subscription::update(current.as_ref(), duplicate, p, cmd, now)
            }
            Command::ConfirmSubscription {
                queue,
                id,
                confirmed,
            } => {
                let current = subscriptions::get(c, p, queue, id, now).await?;
                commands::subscription::confirm(current.as_ref(), p, queue, id, *confirmed)
            }
            Command::DeleteSubscription { queue, id } => {
                let exists = subscriptions::get(c, p, queue, id.as_str(), now)
                    .await?
                    .is_some();
                Ok(commands::subscription::delete(exists, p, queue, id))
            }
            Command::Prune { .. } => Ok(Decision::nothing()),
            Command::Sweep => {
                let expired = Expired {
                    claims: claims::expired(c, now, SWEEP_BATCH).await?,
                    messages: messages::expired(c, now, SWEEP_BATCH).await?,
                    subscriptions: subscriptions::expired(c, now, SWEEP_BATCH).await?,
                };
                Ok(commands::sweep::sweep(expired))
            }
        })
    }
}
