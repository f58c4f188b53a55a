//! Node actions: ping and health, as far as a tenant may see them (over every store the
//! node's queues live in: its own and its pools).

use super::{Action, Guard, On};
use crate::error::ApiError;
use crate::projections::QueueFilter;

/// `ping_node`: whether the store answers.
#[derive(Debug, Clone)]
pub struct Ping;

impl Action for Ping {
    type Reply = bool;

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new("ping:get", "GET", "/v2/ping".into())
    }

    async fn run(self, on: &On<'_>) -> Result<bool, ApiError> {
        Ok(on.core.store.ping().await)
    }
}

/// Health of this node, as far as a tenant may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub storage_reachable: bool,
    /// Read-only self-checks: (name, succeeded, seconds).
    pub checks: Vec<(&'static str, bool, f64)>,
    /// Message counts over the caller's project.
    pub free: i64,
    pub claimed: i64,
    /// The Kafka relay, when it runs on this node.
    pub event_stream: Option<crate::metrics::RelayStatus>,
    /// Whether the node's own store (which holds the catalogue) answers.
    pub catalog_reachable: bool,
    /// Each pool, when the node has pools.
    pub pools: Vec<PoolHealth>,
}

/// One pool's part of the health document.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolHealth {
    pub name: String,
    pub storage_reachable: bool,
    /// Message counts over the caller's project in this pool.
    pub free: i64,
    pub claimed: i64,
}

/// `check_node_health`.
#[derive(Debug, Clone)]
pub struct CheckHealth;

impl Action for CheckHealth {
    type Reply = Health;

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new("health:get", "GET", "/v2/health".into())
    }

    async fn run(self, on: &On<'_>) -> Result<Health, ApiError> {
        let store = &on.core.store;
        let stores = on.core.pools.all_named();
        let started = std::time::Instant::now();
        let mut reachable = Vec::with_capacity(stores.len());
        for (_, store) in &stores {
            reachable.push(store.ping().await);
        }
        let storage_reachable = reachable.iter().all(|r| *r);
        let ping_secs = started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();
        let filter = QueueFilter {
            marker: None,
            limit: 1,
            name: None,
            metadata: Vec::new(),
        };
        let listed = store.list_queues(on.project(), &filter).await.is_ok();
        let list_secs = started.elapsed().as_secs_f64();
        let (mut free, mut claimed) = (0, 0);
        let mut pools = Vec::new();
        for ((pool, store), up) in stores.iter().zip(&reachable) {
            let (f, c) = match up {
                true => store.project_volume(on.project(), on.now).await?,
                false => (0, 0),
            };
            (free, claimed) = (free + f, claimed + c);
            if let Some(name) = pool {
                pools.push(PoolHealth {
                    name: name.clone(),
                    storage_reachable: *up,
                    free: f,
                    claimed: c,
                });
            }
        }
        Ok(Health {
            storage_reachable,
            checks: vec![
                ("ping_storage", storage_reachable, ping_secs),
                ("list_queues", listed, list_secs),
            ],
            free,
            claimed,
            event_stream: on.core.metrics.relay(),
            catalog_reachable: reachable.first().copied().unwrap_or(false),
            pools,
        })
    }
}
