//! Events of the catalogue: the pools (recorded under the catalogue's own project, one
//! "queue" per pool name) and each project's flavors (under the project, one per flavor
//! name).

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
