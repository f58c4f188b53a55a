//! The group-commit batch, written once for every backend: what a writer is asked to do
//! ([`Job`]), and [`decide_batch`], which runs a batch of jobs in one transaction — each
//! command decided against the read models as the earlier ones of the batch left them, its
//! events given their log positions, recorded and folded — and commits once, timing
//! each phase ([`Timing`]). A backend supplies only the steps that differ ([`Backend`]).

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::commands::{load, Command, Committed, Outcome, Scope};
use crate::error::{ApiError, StoreError};
use crate::events::Envelope;
use crate::model::{Clock, Limits, Timestamp};

use super::NOTIFIER_CHECKPOINT;

/// What a writer is asked to do: a command, or upkeep of the log that appends nothing.
#[derive(Debug)]
pub enum Task {
    /// A command on behalf of `scope`.
    Command(Scope, Command),
    /// Record how far a consumer of the log has got; a checkpoint never moves backwards.
    AdvanceCheckpoint { name: &'static str, seq: i64 },
    /// Drop the events recorded before `before`, after snapshotting the read models; keep
    /// those after the checkpoints named in `keep_after` (consumers that still need them).
    /// The backend does it after the batch commits, outside any transaction.
    Prune {
        before: Timestamp,
        keep_after: Vec<&'static str>,
    },
}

/// A task waiting for a backend's writer, with the channel to answer on.
pub struct Job {
    pub task: Task,
    pub reply: oneshot::Sender<Result<Committed, ApiError>>,
    /// When the task was handed to the writer (before waiting for room in its channel).
    pub queued: Instant,
}

impl Job {
    pub fn new(task: Task, reply: oneshot::Sender<Result<Committed, ApiError>>) -> Self {
        Job {
            task,
            reply,
            queued: Instant::now(),
        }
    }
}

/// The steps of a batch transaction that differ between backends.
#[allow(async_fn_in_trait)] // implemented and called only inside this crate
pub trait Backend {
    /// The reads a decision makes, inside the batch's transaction.
    type Reads: crate::projections::ReadModel;

    fn reads(&mut self) -> &mut Self::Reads;
    /// Opens the batch's transaction; returns the position the next event gets.
    async fn begin(&mut self) -> Result<i64, StoreError>;
    /// Adds one event to the log (now or at commit) and folds it into the read models.
    async fn record(&mut self, env: &Envelope) -> Result<(), StoreError>;
    /// Moves a consumer's checkpoint forward, in the batch's transaction.
    async fn advance_checkpoint(&mut self, name: &str, seq: i64) -> Result<(), StoreError>;
    /// Commits the transaction; `appended` is every event recorded since [`Backend::begin`].
    async fn commit(&mut self, appended: &[Envelope]) -> Result<(), StoreError>;
}

/// A committed batch: one result per job, in order, the events it appended, and how long
/// its phases took.
pub struct Decided {
    pub results: Vec<Result<Committed, ApiError>>,
    pub appended: Vec<Envelope>,
    pub timing: Timing,
}

/// Where a batch's time went.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// When the writer took the batch up.
    pub began: Instant,
    /// Deciding its commands and recording and folding their events, once the transaction
    /// is open (on PostgreSQL, after any wait for another node's lock).
    pub apply: Duration,
    /// Committing: on SQLite the write-ahead log's write and fsync; on PostgreSQL writing
    /// the log's rows and the checkpoint, then the `COMMIT`.
    pub commit: Duration,
}

impl Timing {
    /// How long each job waited for the batch to begin, in the batch's order.
    pub fn waits<'a>(&self, jobs: &'a [Job]) -> impl Iterator<Item = Duration> + 'a {
        let began = self.began;
        jobs.iter()
            .map(move |job| began.saturating_duration_since(job.queued))
    }
}

/// Runs `jobs` in one transaction of `backend` and commits it. The outer error is a storage
/// failure (the transaction is then to be rolled back and every job failed); a command's
/// rejection is its own result.
pub async fn decide_batch<B: Backend>(
    backend: &mut B,
    jobs: &[Job],
    limits: &Limits,
    clock: &dyn Clock,
) -> Result<Decided, StoreError> {
    let began = Instant::now();
    let mut next_seq = backend.begin().await?;
    let opened = Instant::now();
    let mut results = Vec::with_capacity(jobs.len());
    let mut appended = Vec::new();
    for job in jobs {
        let (scope, command) = match &job.task {
            Task::Command(scope, command) => (scope, command),
            Task::AdvanceCheckpoint { name, seq } => {
                backend.advance_checkpoint(name, *seq).await?;
                results.push(Ok(done(next_seq)));
                continue;
            }
            Task::Prune { .. } => {
                results.push(Ok(done(next_seq)));
                continue;
            }
        };
        let now = clock.now();
        let decision = match load::decide(backend.reads(), limits, scope, command, now).await? {
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
                client_id: scope.client_id.clone(),
                request_id: scope.request_id.clone(),
                event: new.event,
            };
            backend.record(&env).await?;
            next_seq += 1;
            appended.push(env);
        }
        if let Command::RecordNotifications(r) = command {
            // The notifier's progress is durable exactly when what it did is.
            backend
                .advance_checkpoint(NOTIFIER_CHECKPOINT, r.checkpoint)
                .await?;
        }
        results.push(Ok(Committed {
            outcome: decision.outcome,
            seq: next_seq - 1,
        }));
    }
    let applied = Instant::now();
    backend.commit(&appended).await?;
    let timing = Timing {
        began,
        apply: applied - opened,
        commit: applied.elapsed(),
    };
    Ok(Decided {
        results,
        appended,
        timing,
    })
}

/// Success with nothing appended, at the head of the log.
fn done(next_seq: i64) -> Committed {
    Committed {
        outcome: Outcome::Done,
        seq: next_seq - 1,
    }
}
