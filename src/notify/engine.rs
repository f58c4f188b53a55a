//! The engine: reads committed events after the checkpoint, in log order (from the log, then
//! from the live feed while it keeps up), and turns each into deliveries on the lanes of the
//! subscriptions it concerns. It keeps the subscriptions of recently active queues in memory
//! and reloads a queue's whenever an event changes them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, Semaphore};

use super::lane::{self, Job, LaneState};
use super::send::Sender;
use super::{document, Report};
use crate::error::StoreError;
use crate::events::{Envelope, Event, NotificationKind, PostedMessage};
use crate::model::{ProjectId, QueueName, SubscriptionId, Target};
use crate::projections::{Page, SubscriptionView};
use crate::state::Core;
use crate::store::follow::Follower;

/// Events read from the log per query while catching up.
const PAGE: i64 = 500;
/// Queues whose subscriptions are kept in memory before the cache starts over.
const CACHED_QUEUES: usize = 10_000;
/// Pause before retrying after the store failed.
const RETRY: Duration = Duration::from_secs(1);

/// Which events up to where are fully handled: the read position, and for every event
/// with deliveries still open, how many.
#[derive(Debug, Default)]
pub struct Tracker {
    pub cursor: i64,
    open: BTreeMap<i64, usize>,
}

impl Tracker {
    pub fn new(cursor: i64) -> Self {
        Tracker {
            cursor,
            open: BTreeMap::new(),
        }
    }

    /// The event at `seq` was read and calls for `deliveries` deliveries.
    fn read(&mut self, seq: i64, deliveries: usize) {
        if deliveries > 0 {
            *self.open.entry(seq).or_default() += deliveries;
        }
        self.cursor = self.cursor.max(seq);
    }

    /// One delivery for the event at `seq` ended.
    pub fn resolve(&mut self, seq: i64) {
        if let Some(n) = self.open.get_mut(&seq) {
            *n -= 1;
            if *n == 0 {
                self.open.remove(&seq);
            }
        }
    }

    /// Every delivery for the events up to here has ended.
    pub fn watermark(&self) -> i64 {
        self.open
            .keys()
            .next()
            .map_or(self.cursor, |first| (first - 1).min(self.cursor))
    }
}

/// A queue's subscriptions and retry policy, as last loaded.
struct QueueSubscriptions {
    subscriptions: Vec<Arc<SubscriptionView>>,
    retry_policy: Option<Value>,
}

/// A delivery an event calls for, before it has a place among the pending ones.
struct Planned<'e> {
    sub: Arc<SubscriptionView>,
    kind: NotificationKind,
    document: String,
    message: Option<&'e PostedMessage>,
}

struct Lane {
    jobs: mpsc::UnboundedSender<Job>,
    state: Arc<LaneState>,
}

pub struct Engine {
    pub app: Core,
    pub sender: Arc<Sender>,
    pub tracker: Arc<Mutex<Tracker>>,
    pub reports: mpsc::UnboundedSender<Report>,
    pub pending: Arc<Semaphore>,
    /// Zaqar's `[signed_url] secret_key`, which signs confirmation requests.
    pub confirmation_key: Option<Vec<u8>>,
    queues: HashMap<(ProjectId, QueueName), Arc<QueueSubscriptions>>,
    lanes: HashMap<SubscriptionId, Lane>,
}

/// Leaving a term (shutdown, or the lease lost) stops every lane at its next step, leaving
/// its deliveries open for the next term.
impl Drop for Engine {
    fn drop(&mut self) {
        for lane in self.lanes.values() {
            lane.state.interrupted.store(true, Ordering::Release);
        }
    }
}

impl Engine {
    pub fn new(
        app: Core,
        sender: Arc<Sender>,
        tracker: Arc<Mutex<Tracker>>,
        reports: mpsc::UnboundedSender<Report>,
        pending: Arc<Semaphore>,
        confirmation_key: Option<Vec<u8>>,
    ) -> Self {
        Engine {
            app,
            sender,
            tracker,
            reports,
            pending,
            confirmation_key,
            queues: HashMap::new(),
            lanes: HashMap::new(),
        }
    }

    /// Handles every event after the tracker's cursor, until the store closes.
    pub async fn run(&mut self) {
        let cursor = self
            .tracker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cursor;
        let mut follower = Follower::new(self.app.store.clone(), cursor, PAGE);
        while let Some(batch) = follower.next().await {
            for env in &batch {
                self.handle(env).await;
            }
        }
    }

    /// Turns one event into deliveries; retries the store until it answers.
    async fn handle(&mut self, env: &Envelope) {
        let key = (env.project.clone(), env.queue.clone());
        let require_confirmation = self.app.limits.require_confirmation;
        let jobs = match &env.event {
            Event::MessagesPosted(posted) => {
                let subs = self.subscriptions(&key).await;
                let mut jobs = Vec::new();
                for sub in subs.subscriptions.iter().filter(|s| {
                    s.created_at <= env.at
                        && s.expires_at > env.at
                        && (s.confirmed || !require_confirmation)
                        && Target::parse(&s.subscriber).is_some()
                }) {
                    for m in &posted.messages {
                        let doc = document::notification(m, env.at, &env.queue);
                        jobs.push(Planned {
                            sub: sub.clone(),
                            kind: NotificationKind::Notification,
                            document: doc,
                            message: Some(m),
                        });
                    }
                }
                jobs
            }
            Event::SubscriptionCreated(e) => {
                self.refresh(&key).await;
                self.confirmation(&key, &e.id, NotificationKind::SubscriptionConfirmation, env)
                    .await
            }
            Event::SubscriptionConfirmationRequested(e) => {
                self.confirmation(&key, &e.id, NotificationKind::SubscriptionConfirmation, env)
                    .await
            }
            Event::SubscriptionConfirmed(e) => {
                self.refresh(&key).await;
                match e.confirmed {
                    true => Vec::new(),
                    false => {
                        self.confirmation(
                            &key,
                            &e.id,
                            NotificationKind::UnsubscribeConfirmation,
                            env,
                        )
                        .await
                    }
                }
            }
            Event::SubscriptionUpdated(_)
            | Event::SubscriptionDeleted(_)
            | Event::SubscriptionsPurged(_)
            | Event::SubscriptionsExpired(_)
            | Event::QueueDeleted(_)
            | Event::QueueMetadataUpdated(_) => {
                self.refresh(&key).await;
                Vec::new()
            }
            _ => Vec::new(),
        };
        self.tracker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .read(env.seq, jobs.len());
        for Planned {
            sub,
            kind,
            document,
            message,
        } in jobs
        {
            let permit = match self.pending.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => return,
            };
            let job = Job {
                seq: env.seq,
                kind,
                message_id: message.map(|m| m.id.clone()),
                message_expires: message.map(|m| m.expires_at),
                document,
                permit,
            };
            self.lane(&env.project, &sub).jobs.send(job).ok();
        }
    }

    /// A confirmation (or unsubscribe) request for subscription `id`, when confirmation is
    /// required and a key can sign it.
    async fn confirmation(
        &mut self,
        key: &(ProjectId, QueueName),
        id: &SubscriptionId,
        kind: NotificationKind,
        env: &Envelope,
    ) -> Vec<Planned<'static>> {
        let (true, Some(secret)) = (
            self.app.limits.require_confirmation,
            self.confirmation_key.clone(),
        ) else {
            return Vec::new();
        };
        let subs = self.subscriptions(key).await;
        let Some(sub) = subs.subscriptions.iter().find(|s| &s.id == id).cloned() else {
            return Vec::new();
        };
        if Target::parse(&sub.subscriber).is_none()
            || (kind == NotificationKind::SubscriptionConfirmation && sub.confirmed)
        {
            return Vec::new();
        }
        let expires = match kind {
            NotificationKind::UnsubscribeConfirmation => {
                env.at.plus_secs(self.app.limits.default_subscription_ttl)
            }
            _ => env.at.plus_secs(sub.ttl),
        };
        let doc = document::confirmation(kind, &sub, &key.0, &secret, expires);
        vec![Planned {
            sub,
            kind,
            document: doc,
            message: None,
        }]
    }

    /// The live subscriptions of a queue, from memory or the store.
    async fn subscriptions(&mut self, key: &(ProjectId, QueueName)) -> Arc<QueueSubscriptions> {
        if let Some(found) = self.queues.get(key) {
            return found.clone();
        }
        let loaded = loop {
            match self.load(key).await {
                Ok(loaded) => break Arc::new(loaded),
                Err(e) => {
                    tracing::warn!(error = %e, "the notifier cannot read subscriptions");
                    tokio::time::sleep(RETRY).await;
                }
            }
        };
        if self.queues.len() >= CACHED_QUEUES {
            self.queues.clear();
        }
        self.queues.insert(key.clone(), loaded.clone());
        loaded
    }

    async fn load(
        &self,
        (p, q): &(ProjectId, QueueName),
    ) -> Result<QueueSubscriptions, StoreError> {
        let store = &self.app.store;
        let now = self.app.clock.now();
        let mut subscriptions = Vec::new();
        let mut page = Page {
            marker: None,
            limit: 100,
        };
        loop {
            let found = store.list_subscriptions(p, q, &page, now).await?;
            let full = found.len() as i64 == page.limit;
            page.marker = found.last().map(|s| s.id.as_str().to_owned());
            subscriptions.extend(found.into_iter().map(Arc::new));
            if !full {
                break;
            }
        }
        let retry_policy = store
            .queue_metadata(p, q)
            .await?
            .and_then(|m| m.get("_retry_policy").cloned());
        Ok(QueueSubscriptions {
            subscriptions,
            retry_policy,
        })
    }

    /// Reloads a queue's subscriptions after they changed: lanes of subscriptions that are
    /// gone stop (their pending deliveries are dropped), the others see the new values.
    async fn refresh(&mut self, key: &(ProjectId, QueueName)) {
        self.queues.remove(key);
        let subs = self.subscriptions(key).await;
        let (p, q) = key;
        self.lanes.retain(|id, lane| {
            let view = lane
                .state
                .view
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if &lane.state.project != p || &view.source != q {
                return true;
            }
            match subs.subscriptions.iter().find(|s| &s.id == id) {
                Some(fresh) => {
                    *lane.state.view.lock().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
                    *lane
                        .state
                        .queue_policy
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()) = subs.retry_policy.clone();
                    true
                }
                None => {
                    lane.state.cancelled.store(true, Ordering::Release);
                    false
                }
            }
        });
    }

    /// The lane of a subscription, started if needed.
    fn lane(&mut self, project: &ProjectId, sub: &Arc<SubscriptionView>) -> &Lane {
        let queue_policy = self
            .queues
            .get(&(project.clone(), sub.source.clone()))
            .and_then(|q| q.retry_policy.clone());
        self.lanes.entry(sub.id.clone()).or_insert_with(|| {
            let (jobs, receiver) = mpsc::unbounded_channel();
            let state = Arc::new(LaneState {
                project: project.clone(),
                cancelled: Default::default(),
                interrupted: Default::default(),
                view: Mutex::new(sub.clone()),
                queue_policy: Mutex::new(queue_policy),
            });
            tokio::spawn(lane::run(
                state.clone(),
                receiver,
                self.sender.clone(),
                self.app.clock.clone(),
                self.reports.clone(),
            ));
            Lane { jobs, state }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_waits_for_the_oldest_open_delivery() {
        let mut t = Tracker::new(10);
        t.read(11, 0);
        assert_eq!(t.watermark(), 11);
        t.read(12, 2);
        t.read(13, 1);
        t.read(14, 0);
        assert_eq!(t.watermark(), 11);
        t.resolve(13);
        assert_eq!(t.watermark(), 11);
        t.resolve(12);
        assert_eq!(t.watermark(), 11);
        t.resolve(12);
        assert_eq!(t.watermark(), 14);
    }
}
