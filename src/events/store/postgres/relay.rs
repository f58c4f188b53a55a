//! The relay: feeds this node's event bus from the shared log. It reads the log past its
//! cursor, in order, whenever something may have been committed — this node's writer says
//! so directly, other nodes' writers by `NOTIFY` — so WebSocket subscribers on any node see
//! every node's writes, each event once and in log order. Notifications only wake the relay;
//! the log is the source, so one lost while the listener reconnects costs nothing.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{watch, Notify};

use super::{log, writer::CHANNEL};
use crate::error::StoreError;
use crate::events::bus::EventBus;

/// Events read from the log per query.
const PAGE: i64 = 1000;

/// Pause before retrying after the database failed.
const RETRY: Duration = Duration::from_secs(1);

pub struct Relay {
    pub pool: PgPool,
    pub bus: EventBus,
    /// Last log position published.
    pub cursor: i64,
    /// Poked by this node's writer after each commit.
    pub committed: Arc<Notify>,
}

impl Relay {
    /// Runs until told to stop.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut listener = None;
        loop {
            if listener.is_none() {
                listener = self.listen().await;
            }
            if let Err(e) = self.catch_up().await {
                tracing::warn!(error = %e, "the event relay could not read the log");
                tokio::select! {
                    _ = tokio::time::sleep(RETRY) => continue,
                    _ = stop.changed() => return,
                }
            }
            tokio::select! {
                biased;
                _ = stop.changed() => return,
                _ = self.committed.notified() => {}
                woke = wait(&mut listener) => {
                    if let Err(e) = woke {
                        tracing::warn!(error = %e, "the event listener lost its connection");
                        listener = None;
                        tokio::select! {
                            _ = tokio::time::sleep(RETRY) => {}
                            _ = stop.changed() => return,
                        }
                    }
                }
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen(CHANNEL).await.ok()?;
        Some(listener)
    }

    /// Publishes every event committed after the cursor.
    async fn catch_up(&mut self) -> Result<(), StoreError> {
        loop {
            let mut conn = self.pool.acquire().await?;
            let page = log::range(&mut conn, self.cursor, None, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            self.cursor = last.seq;
            let full = page.len() as i64 == PAGE;
            self.bus.publish(page);
            if !full {
                return Ok(());
            }
        }
    }
}

/// Waits for a notification; with no listener (the database is down), waits for the retry.
async fn wait(listener: &mut Option<PgListener>) -> Result<(), sqlx::Error> {
    match listener {
        // `try_recv` yields `None` when the connection dropped (it reconnects on the next
        // call): the relay then catches up from the log, which covers anything missed.
        Some(l) => l.try_recv().await.map(|_| ()),
        None => {
            tokio::time::sleep(RETRY).await;
            Ok(())
        }
    }
}
