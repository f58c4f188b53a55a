//! Following the log, for the consumers that run beside the server (the notification
//! engine, the Kafka relay): [`lead`] waits for the consumer's lease (one node of a cluster
//! at a time), and a [`Follower`] reads committed events from a checkpoint — page by page
//! from the log, then from the live feed while the feed follows on without a gap, and back
//! to the log whenever it falls behind. Each event comes exactly once, in log order.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::{Lease, Singleton, Store};
use crate::events::Envelope;

/// Pause before reading again after the store failed.
const RETRY: Duration = Duration::from_secs(1);
/// Pause before trying again to take a lease another node holds.
const LEASE_RETRY: Duration = Duration::from_secs(2);

/// Waits until this node holds the lease of `singleton` (at once on SQLite; on PostgreSQL
/// once no other node holds it); `None` if the server stops first.
pub async fn lead(
    store: &Store,
    singleton: Singleton,
    stop: &mut watch::Receiver<bool>,
) -> Option<Lease> {
    loop {
        let pause = tokio::select! {
            lease = store.lease(singleton) => match lease {
                Ok(Some(lease)) => return Some(lease),
                Ok(None) => LEASE_RETRY,
                Err(e) => {
                    tracing::warn!(error = %e, ?singleton, "cannot take the lease");
                    RETRY
                }
            },
            _ = stop.changed() => return None,
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return None,
        }
    }
}

/// A reader of the log from a position onwards.
pub struct Follower {
    store: Store,
    live: broadcast::Receiver<Arc<Envelope>>,
    /// The last event handed out.
    cursor: i64,
    /// Events read from the log per query.
    page: i64,
    /// Whether the last log read came back short (the reader is at the end of the log).
    caught_up: bool,
}

impl Follower {
    /// Follows the log of `store` after position `after`, reading `page` events at a time
    /// while catching up.
    pub fn new(store: Store, after: i64, page: i64) -> Follower {
        // Subscribed before the first log read, so nothing committed in between is missed.
        let live = store.subscribe();
        Follower {
            store,
            live,
            cursor: after,
            page: page.max(1),
            caught_up: false,
        }
    }

    /// The position of the last event handed out.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// The next events after the cursor, at most a page, in log order; waits while there
    /// are none. Returns `None` once the store has closed.
    pub async fn next(&mut self) -> Option<Vec<Arc<Envelope>>> {
        loop {
            if !self.caught_up {
                match self.store.log_range(self.cursor, self.page).await {
                    Ok(page) => {
                        self.caught_up = (page.len() as i64) < self.page;
                        if let Some(last) = page.last() {
                            self.cursor = last.seq;
                            return Some(page.into_iter().map(Arc::new).collect());
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the log; retrying");
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                }
            }
            // At the end of the log: the live feed, while it follows on without a gap.
            match self.live.recv().await {
                Ok(env) if env.seq <= self.cursor => continue,
                Ok(env) if env.seq == self.cursor + 1 => {
                    self.cursor = env.seq;
                    let mut batch = vec![env];
                    // Whatever else is already waiting, up to a page.
                    while (batch.len() as i64) < self.page {
                        match self.live.try_recv() {
                            Ok(env) if env.seq == self.cursor + 1 => {
                                self.cursor = env.seq;
                                batch.push(env);
                            }
                            Ok(env) if env.seq <= self.cursor => continue,
                            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {
                                self.caught_up = false;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    return Some(batch);
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.caught_up = false,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
