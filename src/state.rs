//! The core state: what actions, the transports, the notifier and the Kafka relay share —
//! the store (the node's own; the pools beside it), the clock, the limits, the metrics and
//! the authentication policy. Cheap to clone. It knows nothing of HTTP or WebSocket: each transport adds its own settings.

use std::sync::Arc;

use crate::auth::Auth;
use crate::metrics::Metrics;
use crate::model::{Clock, Limits};
use crate::store::Store;

/// The state every action runs against.
#[derive(Debug, Clone)]
pub struct Core {
    pub store: Store,
    pub limits: Arc<Limits>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub auth: Arc<Auth>,
    /// The stores queues live in: this one and the pools (ADR 006).
    pub pools: Arc<crate::store::pools::Pools>,
    /// Zaqar's `admin_mode`: the admin API (pools and flavors) is served.
    pub admin_mode: bool,
    /// Turns true when the node starts shutting down: long polls answer at once then.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}
