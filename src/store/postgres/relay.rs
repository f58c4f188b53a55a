//! The relay: feeds this node's event bus from the shared log, each event once and in log
//! order, so WebSocket subscribers on any node see every node's writes.
//!
//! This node's writer hands over each committed batch and waits until it is published, so
//! (as on SQLite) an event is on the bus before its `201` goes out: a subscription made after
//! a post is never pushed that post. Before publishing a local batch, the relay reads from
//! the log whatever other nodes committed in between. Other nodes' commits arrive by
//! `NOTIFY`, which only wakes the relay: the log is the source, so a notification lost while
//! the listener reconnects costs nothing.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{mpsc, oneshot, watch};

use super::log;
use crate::error::StoreError;
use crate::events::bus::EventBus;
use crate::events::Envelope;

/// The channel on which committed log positions are announced.
pub const CHANNEL: &str = "cairn_events";

/// Events read from the log per query.
const PAGE: i64 = 1000;

/// Pause before retrying after the database failed.
const RETRY: Duration = Duration::from_secs(1);

/// A batch this node's writer committed, and the word that it is published.
pub struct Local {
    pub events: Vec<Envelope>,
    pub published: oneshot::Sender<()>,
}

pub struct Relay {
    pub pool: PgPool,
    pub bus: EventBus,
    /// Last log position published.
    pub cursor: i64,
    /// Batches from this node's writer.
    pub local: mpsc::Receiver<Local>,
    /// Where other nodes' commits move the log position this node shows.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// What woke the relay.
enum Wake {
    Stop,
    Local(Local),
    /// A notification carrying the log's head (`None`: unknown, catch up anyway).
    Remote(Option<i64>),
    ListenerLost(sqlx::Error),
}

impl Relay {
    /// Runs until told to stop.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut listener = None;
        let mut behind = true;
        loop {
            if listener.is_none() {
                listener = listen(&self.pool).await;
                behind = true;
            }
            if behind {
                match self.catch_up(None).await {
                    Ok(()) => behind = false,
                    Err(e) => tracing::warn!(error = %e, "the event relay could not read the log"),
                }
            }
            let wake = tokio::select! {
                biased;
                _ = stop.changed() => Wake::Stop,
                local = self.local.recv() => match local {
                    Some(local) => Wake::Local(local),
                    None => Wake::Stop,
                },
                woke = wait(&mut listener, behind) => match woke {
                    Ok(head) => Wake::Remote(head),
                    Err(e) => Wake::ListenerLost(e),
                },
            };
            match wake {
                Wake::Stop => return,
                Wake::Local(local) => behind = !self.publish_local(local).await,
                Wake::Remote(head) => {
                    if head.is_none_or(|h| h > self.cursor) {
                        behind = true;
                    }
                }
                Wake::ListenerLost(e) => {
                    tracing::warn!(error = %e, "the event listener lost its connection");
                    listener = None;
                }
            }
        }
    }

    /// Publishes a local batch after anything committed before it; `false` if the log could
    /// not be read (the batch is then published by the next catch-up, from the log).
    async fn publish_local(&mut self, local: Local) -> bool {
        let Some(first) = local.events.first().map(|e| e.seq) else {
            let _ = local.published.send(());
            return true;
        };
        let caught_up = self.catch_up(Some(first - 1)).await;
        if let Err(e) = &caught_up {
            tracing::warn!(error = %e, "the event relay could not read the log");
        } else {
            let fresh: Vec<Envelope> = local
                .events
                .into_iter()
                .filter(|e| e.seq > self.cursor)
                .collect();
            if let Some(last) = fresh.last() {
                self.cursor = last.seq;
            }
            self.bus.publish(fresh);
        }
        let _ = local.published.send(());
        caught_up.is_ok()
    }

    /// Publishes every event committed after the cursor (up to `until`, if given).
    async fn catch_up(&mut self, until: Option<i64>) -> Result<(), StoreError> {
        while until.is_none_or(|u| u > self.cursor) {
            let mut conn = self.pool.acquire().await?;
            let page = log::range(&mut conn, self.cursor, until, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            self.cursor = last.seq;
            self.metrics.set_log_position(last.seq);
            let full = page.len() as i64 == PAGE;
            self.bus.publish(page);
            if !full {
                return Ok(());
            }
        }
        Ok(())
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(pool).await.ok()?;
    listener.listen(CHANNEL).await.ok()?;
    Some(listener)
}

/// Waits for a notification and returns the head it announces. Without a listener (the
/// database is down), or while behind, it returns after a pause so the relay retries.
async fn wait(listener: &mut Option<PgListener>, behind: bool) -> Result<Option<i64>, sqlx::Error> {
    match listener {
        Some(l) if !behind => match l.try_recv().await? {
            Some(n) => Ok(n.payload().parse().ok()),
            // The connection dropped; the listener reconnects on the next call, and a
            // catch-up covers anything missed meanwhile.
            None => Ok(None),
        },
        _ => {
            tokio::time::sleep(RETRY).await;
            Ok(None)
        }
    }
}
