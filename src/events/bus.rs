//! The live feed of committed events. The store's writer publishes every envelope after its
//! transaction commits; in-process consumers (WebSocket push today) subscribe. The feed is
//! bounded: a consumer that falls too far behind is told it lagged and must give up or
//! catch up from the log — nothing buffers without limit.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::Envelope;

/// How many committed events the feed keeps for slow consumers.
pub const CAPACITY: usize = 16_384;

/// Publisher side of the feed; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus(broadcast::Sender<Arc<Envelope>>);

impl Default for EventBus {
    fn default() -> Self {
        EventBus(broadcast::channel(CAPACITY).0)
    }
}

impl EventBus {
    /// Publishes committed events, in log order. Having no subscriber is fine.
    pub fn publish(&self, events: Vec<Envelope>) {
        if self.0.receiver_count() == 0 {
            return;
        }
        for env in events {
            let _ = self.0.send(Arc::new(env));
        }
    }

    /// A receiver of every event committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.0.subscribe()
    }
}
