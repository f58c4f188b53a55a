//! Notification delivery, as a catch-up projection of the log.
//!
//! The [`engine`] reads committed events after a durable checkpoint and hands each
//! delivery a message or a subscription change calls for to the [`lane`] of its
//! subscription, which sends them in order ([`send`]: webhooks through the SSRF [`guard`],
//! optionally [`signing`] them; mail through an SMTP relay) and retries per the
//! `_retry_policy`. Every attempt is reported to the recorder here, which appends the
//! outcomes (`NotificationDelivered`, `NotificationFailed`, `NotificationAbandoned`) and the
//! new checkpoint in one command: the checkpoint only passes an event once every delivery
//! it called for has ended, so after a crash delivery resumes there — at least once, in log
//! order per subscription. On PostgreSQL one node at a time holds the engine's lease.
//!
//! Depends on the store and the model; nothing below it depends on this.

pub mod document;
mod engine;
pub mod guard;
mod lane;
pub mod send;
pub mod signing;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};

use crate::commands::{Command, NotificationOutcome, RecordNotifications, Scope};
use crate::model::ProjectId;
use crate::state::Core;
use crate::store::follow;
use crate::store::{Singleton, NOTIFIER_CHECKPOINT};
use engine::{Engine, Tracker};
use send::{SendSettings, Sender};

/// The subscription option naming a queue of the project where abandoned notifications are
/// posted (beyond Zaqar).
pub const DEAD_LETTER_OPTION: &str = "_dead_letter_queue";

/// How often the checkpoint is written while nothing else is recorded.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Pause before retrying after the store failed.
const RETRY: Duration = Duration::from_secs(1);

/// The notification engine's settings.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub send: SendSettings,
    /// Most deliveries waiting or in flight; beyond it the engine stops reading the log.
    pub max_pending: usize,
    /// Zaqar's `[signed_url] secret_key`: signs subscription confirmation requests.
    pub confirmation_key: Option<Vec<u8>>,
}

/// What a lane tells the recorder: an attempt's outcome, and whether a delivery ended (the
/// position of the event that called for it).
pub struct Report {
    pub outcome: Option<NotificationOutcome>,
    pub resolves: Option<i64>,
}

/// Starts the engine; it runs until `stop` turns true, then records what it has and ends.
pub fn start(
    app: Core,
    settings: NotifySettings,
    stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let sender = Arc::new(Sender::new(settings.send.clone(), app.auth.clone())?);
    Ok(tokio::spawn(run(app, settings, sender, stop)))
}

/// Terms of leadership, one after another: take the lease, deliver until it is lost or the
/// server stops.
async fn run(
    app: Core,
    settings: NotifySettings,
    sender: Arc<Sender>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let Some(mut lease) = follow::lead(&app.store, Singleton::Notifier, &mut stop).await else {
            return;
        };
        let checkpoint = loop {
            match app.store.checkpoint(NOTIFIER_CHECKPOINT).await {
                Ok(seq) => break seq,
                Err(e) => {
                    tracing::warn!(error = %e, "the notifier cannot read its checkpoint");
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        };
        tracing::info!(checkpoint, "notification delivery started");
        let tracker = Arc::new(Mutex::new(Tracker::new(checkpoint)));
        let pending = Arc::new(Semaphore::new(settings.max_pending.max(1)));
        let (reports, received) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(record(
            app.clone(),
            tracker.clone(),
            received,
            pending.clone(),
            settings.max_pending.max(1),
        ));
        let mut engine = Engine::new(
            app.clone(),
            sender.clone(),
            tracker,
            reports,
            pending,
            settings.confirmation_key.clone(),
        );
        let stopping = tokio::select! {
            _ = engine.run() => true,
            _ = lease.lost() => {
                tracing::warn!("the notifier lost its lease; another node takes over");
                false
            }
            _ = stop.changed() => true,
        };
        // Dropping the engine stops its lanes; the recorder ends once they have reported.
        drop(engine);
        if let Err(e) = recorder.await {
            tracing::error!(error = %e, "the notification recorder failed");
        }
        if stopping {
            return;
        }
    }
}

/// Appends the lanes' reports and the checkpoint they allow, in batches; writes the
/// checkpoint alone at most every [`CHECKPOINT_EVERY`] when nothing else happens.
async fn record(
    app: Core,
    tracker: Arc<Mutex<Tracker>>,
    mut reports: mpsc::UnboundedReceiver<Report>,
    pending: Arc<Semaphore>,
    max_pending: usize,
) {
    let scope = Scope {
        project: ProjectId::new(Some("-")).expect("non-empty"),
        client_id: None,
        request_id: None,
    };
    let mut written = tracker
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .watermark();
    let mut buffer = Vec::with_capacity(1024);
    let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let closed = tokio::select! {
            n = reports.recv_many(&mut buffer, 4096) => n == 0,
            _ = ticks.tick() => false,
        };
        let mut outcomes = Vec::new();
        let mut resolved = Vec::new();
        for report in buffer.drain(..) {
            outcomes.extend(report.outcome);
            resolved.extend(report.resolves);
        }
        let checkpoint = {
            let mut t = tracker.lock().unwrap_or_else(|e| e.into_inner());
            for seq in resolved {
                t.resolve(seq);
            }
            t.watermark()
        };
        app.metrics.notifier(
            checkpoint,
            (max_pending - pending.available_permits().min(max_pending)) as i64,
        );
        if !outcomes.is_empty() || checkpoint > written {
            let command = Command::RecordNotifications(RecordNotifications {
                outcomes,
                checkpoint,
            });
            let mut tries = 0;
            // The attempts already happened: keep trying to record them while the store is
            // down, but give up once the server is closing it.
            while let Err(e) = app.store.submit(scope.clone(), command.clone()).await {
                tries += 1;
                if closed || tries >= 30 {
                    tracing::error!(error = %e, "notification outcomes could not be recorded");
                    break;
                }
                tracing::warn!(error = %e, "recording notification outcomes failed; retrying");
                tokio::time::sleep(RETRY).await;
            }
            written = checkpoint;
        }
        if closed {
            return;
        }
    }
}
