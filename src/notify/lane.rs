//! A lane: the deliveries of one subscription, made one after another in log order. Each
//! job is attempted until it succeeds or the retry policy runs out; every attempt is
//! reported to the recorder, and the job's end resolves it (so the checkpoint can pass it).
//! Waits between retries follow the injected clock, so tests can move time by hand.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use super::send::{Attempt, Failure, Sender};
use super::{Report, DEAD_LETTER_OPTION};
use crate::commands::NotificationOutcome;
use crate::events::{
    Delivery, Event, NotificationAbandoned, NotificationDelivered, NotificationFailed,
    NotificationKind,
};
use crate::model::{
    Clock, MessageBody, MessageId, NewMessage, ProjectId, QueueName, RetryPolicy, Timestamp,
};
use crate::projections::SubscriptionView;

/// Longest real-time sleep between looks at the clock while waiting for a retry.
const CLOCK_LOOK: Duration = Duration::from_millis(250);

/// One notification to deliver.
pub struct Job {
    /// The log position of the event that called for it.
    pub seq: i64,
    pub kind: NotificationKind,
    pub message_id: Option<MessageId>,
    /// When the message expires: a notification is not sent after that.
    pub message_expires: Option<Timestamp>,
    /// JSON text.
    pub document: String,
    /// Holds a place among the engine's pending deliveries until the job ends.
    pub permit: OwnedSemaphorePermit,
}

/// What a lane and the engine share about the subscription.
pub struct LaneState {
    pub project: ProjectId,
    /// The subscription is gone: its pending deliveries are dropped (and resolved).
    pub cancelled: AtomicBool,
    /// The engine's term ended (shutdown, or the lease lost): stop without resolving, so
    /// the checkpoint stays before what is pending and the next term delivers it.
    pub interrupted: AtomicBool,
    /// The subscription as last loaded (options and subscriber may change).
    pub view: Mutex<Arc<SubscriptionView>>,
    /// The queue's `_retry_policy`, if it sets one.
    pub queue_policy: Mutex<Option<Value>>,
}

impl LaneState {
    fn view(&self) -> Arc<SubscriptionView> {
        self.view.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Runs a lane until its channel closes.
pub async fn run(
    state: Arc<LaneState>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    sender: Arc<Sender>,
    clock: Arc<dyn Clock>,
    reports: mpsc::UnboundedSender<Report>,
) {
    while let Some(job) = jobs.recv().await {
        let Some(outcome) = deliver(&state, &job, &sender, clock.as_ref(), &reports).await else {
            return;
        };
        let _ = reports.send(Report {
            outcome,
            resolves: Some(job.seq),
        });
        drop(job.permit);
    }
}

impl LaneState {
    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::Acquire)
    }
}

/// Attempts a job until it ends; returns its last outcome (`Some(None)` if it was dropped
/// because the subscription is gone, `None` if the term was interrupted). Earlier failures
/// are reported as they happen.
async fn deliver(
    state: &LaneState,
    job: &Job,
    sender: &Sender,
    clock: &dyn Clock,
    reports: &mpsc::UnboundedSender<Report>,
) -> Option<Option<NotificationOutcome>> {
    let view = state.view();
    let policy = {
        let queue = state.queue_policy.lock().unwrap_or_else(|e| e.into_inner());
        RetryPolicy::effective(view.options.get("_retry_policy"), queue.as_ref())
    };
    let delays = policy.delays();
    let id = match &job.message_id {
        Some(m) => m.as_str().to_owned(),
        None => format!("{}-{}", view.id.as_str(), job.seq),
    };
    let mut attempt: u32 = 1;
    loop {
        let view = state.view();
        let now = clock.now();
        if state.interrupted() {
            return None;
        }
        if state.cancelled.load(Ordering::Acquire) || view.expires_at <= now {
            return Some(None);
        }
        if job.message_expires.is_some_and(|e| e <= now) {
            let reason = "the message expired before it could be delivered".to_owned();
            return Some(Some(abandoned(state, &view, job, attempt - 1, reason)));
        }
        let sent = sender
            .send(&Attempt {
                subscription: &view,
                kind: job.kind,
                document: &job.document,
                id: &id,
                timestamp: now.0 / 1000,
            })
            .await;
        let Failure { status, reason } = match sent {
            Ok(status) => {
                let event = NotificationDelivered {
                    subscription_id: view.id.clone(),
                    subscriber: view.subscriber.clone(),
                    kind: job.kind,
                    deliveries: vec![Delivery {
                        message_id: job.message_id.clone(),
                        attempt,
                        status,
                    }],
                };
                return Some(Some(outcome(state, &view, event.into(), None)));
            }
            Err(_) if state.interrupted() => return None,
            Err(failure) => failure,
        };
        let delay = delays.get(attempt as usize - 1).copied();
        let retry_at = delay.map(|d| clock.now().plus_secs(d));
        let failed = NotificationFailed {
            subscription_id: view.id.clone(),
            subscriber: view.subscriber.clone(),
            message_id: job.message_id.clone(),
            kind: job.kind,
            attempt,
            status,
            reason: reason.clone(),
            retry_at,
        };
        let _ = reports.send(Report {
            outcome: Some(outcome(state, &view, failed.into(), None)),
            resolves: None,
        });
        let Some(due) = retry_at else {
            let reason = format!("no retry left after {attempt} attempts; last: {reason}");
            return Some(Some(abandoned(state, &view, job, attempt, reason)));
        };
        while clock.now() < due {
            if state.interrupted() {
                return None;
            }
            if state.cancelled.load(Ordering::Acquire) {
                return Some(None);
            }
            let left = Duration::from_millis((due.0 - clock.now().0).max(1) as u64);
            tokio::time::sleep(left.min(CLOCK_LOOK)).await;
        }
        attempt += 1;
    }
}

fn outcome(
    state: &LaneState,
    view: &SubscriptionView,
    event: Event,
    dead_letter: Option<(QueueName, NewMessage)>,
) -> NotificationOutcome {
    NotificationOutcome {
        project: state.project.clone(),
        queue: view.source.clone(),
        event,
        dead_letter,
    }
}

/// The end of a job that was never delivered; posted to the subscription's dead-letter
/// queue if it names one.
fn abandoned(
    state: &LaneState,
    view: &SubscriptionView,
    job: &Job,
    attempts: u32,
    reason: String,
) -> NotificationOutcome {
    let dead_letter = view
        .options
        .get(DEAD_LETTER_OPTION)
        .and_then(Value::as_str)
        .and_then(|name| QueueName::new(name, &state.project).ok());
    let message = dead_letter.as_ref().map(|_| {
        let doc = json!({
            "Message_Type": "NotificationAbandoned",
            "subscription_id": view.id.as_str(),
            "subscriber": view.subscriber,
            "queue_name": view.source.as_str(),
            "message_id": job.message_id.as_ref().map(|m| m.as_str()),
            "attempts": attempts,
            "reason": reason,
            "notification": serde_json::from_str::<Value>(&job.document).unwrap_or(Value::Null),
        });
        NewMessage {
            body: MessageBody::from_value(&doc),
            ttl: None,
            delay: None,
            checksum: None,
        }
    });
    let event = NotificationAbandoned {
        subscription_id: view.id.clone(),
        subscriber: view.subscriber.clone(),
        message_id: job.message_id.clone(),
        kind: job.kind,
        attempts,
        reason,
        dead_letter_queue: dead_letter.clone(),
    };
    outcome(state, view, event.into(), dead_letter.zip(message))
}
