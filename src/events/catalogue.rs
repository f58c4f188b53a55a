//! Events of the catalogue: the pools (recorded under the catalogue's own project, one
//! "queue" per pool name), each project's flavors (under the project, one per flavor
//! name) and the placement of each queue on a pool (under the queue's project and name).

use serde::{Deserialize, Serialize};

use crate::model::Pool;

/// A pool was registered, or registered anew over its former self (`PUT`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolCreated {
    #[serde(flatten)]
    pub pool: Pool,
}

/// A pool's fields changed (`PATCH`, or a flavor taking or releasing it): its whole new
/// state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolUpdated {
    #[serde(flatten)]
    pub pool: Pool,
}

/// A pool was removed from the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolDeleted {}

/// A flavor was created (or created anew) in the event's project; its pools are the pools
/// whose `flavor` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorCreated {}

/// A flavor was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorDeleted {}

/// The event's queue was placed on a pool before its creation there: from now on its
/// operations go to that pool's store. Recorded in the node's own store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuePlaced {
    pub pool: String,
}

/// The event's queue, deleted from its pool, has no place any more: a queue of the same
/// name is placed anew.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueUnplaced {}
