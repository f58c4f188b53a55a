//! The admin API's actions on the catalogue (reference §8): pools (global, admin only) and
//! the caller's flavors. A pool is a store: registering one, or moving it to another URI,
//! first opens that store and applies its migrations, so that a pool that cannot be opened
//! is never recorded.

use super::{Action, Guard, On};
use crate::commands::{Catalogue, Command};
use crate::error::ApiError;
use crate::model::{Pool, PoolPatch, ProjectId, QueueName};
use crate::projections::catalogue::{self, Kind, Listing};
use crate::store::{Services, Store, StoreOptions, StoreUrl};

/// `pool_list`: a page of the pools, by name.
#[derive(Debug, Clone)]
pub struct PoolList {
    pub marker: Option<String>,
    pub limit: i64,
}

impl Action for PoolList {
    type Reply = Vec<(String, Pool)>;

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new("pools:get_all", "GET", "/v2/pools".into())
    }

    async fn run(self, on: &On<'_>) -> Result<Self::Reply, ApiError> {
        let listing = Listing {
            kind: Kind::Pool,
            marker: self.marker.unwrap_or_default(),
            limit: self.limit,
        };
        let found = on
            .core
            .store
            .catalogue(&ProjectId::catalogue(), &listing)
            .await?;
        Ok(catalogue::pools(found)?)
    }
}

/// `pool_get`.
#[derive(Debug, Clone)]
pub struct PoolGet {
    pub name: QueueName,
}

impl Action for PoolGet {
    type Reply = Pool;

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new("pools:get", "GET", format!("/v2/pools/{}", self.name))
    }

    async fn run(self, on: &On<'_>) -> Result<Pool, ApiError> {
        pool(on, &self.name)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("Pool {} does not exist", self.name)))
    }
}

/// `pool_create`: registers the pool (or registers it anew) once its store opens.
#[derive(Debug, Clone)]
pub struct PoolPut {
    pub name: QueueName,
    pub pool: Pool,
}

impl Action for PoolPut {
    type Reply = ();

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new("pools:create", "PUT", format!("/v2/pools/{}", self.name))
    }

    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        if self.name.as_str() == super::audit::HOME_POOL {
            return Err(ApiError::InvalidRequest(format!(
                "\"{}\" names the node's own store; a pool needs another name.",
                super::audit::HOME_POOL
            )));
        }
        reachable(on, &self.pool.uri).await?;
        let command = Catalogue::PutPool {
            name: self.name,
            pool: self.pool,
        };
        on.submit_done(Command::Catalogue(command)).await
    }
}

/// `pool_update`: answers the pool as changed.
#[derive(Debug, Clone)]
pub struct PoolUpdate {
    pub name: QueueName,
    pub patch: PoolPatch,
}

impl Action for PoolUpdate {
    type Reply = Pool;

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new("pools:update", "PATCH", format!("/v2/pools/{}", self.name))
    }

    async fn run(self, on: &On<'_>) -> Result<Pool, ApiError> {
        if let Some(uri) = &self.patch.uri {
            reachable(on, uri).await?;
        }
        let command = Catalogue::UpdatePool {
            name: self.name,
            patch: self.patch,
        };
        let pool: Box<Pool> = on.submit(Command::Catalogue(command)).await?;
        Ok(*pool)
    }
}

/// `pool_delete`.
#[derive(Debug, Clone)]
pub struct PoolDelete {
    pub name: QueueName,
}

impl Action for PoolDelete {
    type Reply = ();

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new("pools:delete", "DELETE", format!("/v2/pools/{}", self.name))
    }

    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        let command = Catalogue::DeletePool { name: self.name };
        on.submit_done(Command::Catalogue(command)).await
    }
}

/// A flavor as shown: its name and the pools that carry it, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Flavor {
    pub name: String,
    pub pools: Vec<String>,
}

/// `flavor_list`: a page of the caller's flavors, by name.
#[derive(Debug, Clone)]
pub struct FlavorList {
    pub marker: Option<String>,
    pub limit: i64,
}

impl Action for FlavorList {
    type Reply = Vec<Flavor>;

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new("flavors:get_all", "GET", "/v2/flavors".into())
    }

    async fn run(self, on: &On<'_>) -> Result<Vec<Flavor>, ApiError> {
        let listing = Listing {
            kind: Kind::Flavor,
            marker: self.marker.unwrap_or_default(),
            limit: self.limit,
        };
        let found = on.core.store.catalogue(on.project(), &listing).await?;
        let pools = all_pools(on).await?;
        Ok(found
            .into_iter()
            .map(|entry| Flavor {
                pools: carrying(&pools, &entry.name),
                name: entry.name,
            })
            .collect())
    }
}

/// `flavor_get`.
#[derive(Debug, Clone)]
pub struct FlavorGet {
    pub name: QueueName,
}

impl Action for FlavorGet {
    type Reply = Flavor;

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new("flavors:get", "GET", format!("/v2/flavors/{}", self.name))
    }

    async fn run(self, on: &On<'_>) -> Result<Flavor, ApiError> {
        let store = &on.core.store;
        let name = self.name.as_str();
        if store
            .catalogue_entry(Kind::Flavor, on.project(), name)
            .await?
            .is_none()
        {
            return Err(ApiError::NotFound(format!("Flavor {name} does not exist")));
        }
        let pools = all_pools(on).await?;
        Ok(Flavor {
            name: name.to_owned(),
            pools: carrying(&pools, name),
        })
    }
}

/// `flavor_create`: creates the flavor (again) and gives it the listed pools.
#[derive(Debug, Clone)]
pub struct FlavorPut {
    pub name: QueueName,
    pub pools: Vec<String>,
}

impl Action for FlavorPut {
    type Reply = ();

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new(
            "flavors:create",
            "PUT",
            format!("/v2/flavors/{}", self.name),
        )
    }

    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        let command = Catalogue::PutFlavor {
            name: self.name,
            pools: self.pools,
        };
        on.submit_done(Command::Catalogue(command)).await
    }
}

/// `flavor_update`: the flavor's pools become the listed ones.
#[derive(Debug, Clone)]
pub struct FlavorUpdate {
    pub name: QueueName,
    pub pools: Vec<String>,
}

impl Action for FlavorUpdate {
    /// The flavor with the pools as listed (Zaqar answers the list as sent).
    type Reply = Flavor;

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new(
            "flavors:update",
            "PATCH",
            format!("/v2/flavors/{}", self.name),
        )
    }

    async fn run(self, on: &On<'_>) -> Result<Flavor, ApiError> {
        let flavor = Flavor {
            name: self.name.as_str().to_owned(),
            pools: self.pools.clone(),
        };
        let command = Catalogue::UpdateFlavor {
            name: self.name,
            pools: self.pools,
        };
        on.submit_done(Command::Catalogue(command)).await?;
        Ok(flavor)
    }
}

/// `flavor_delete`: its pools carry no flavor any more.
#[derive(Debug, Clone)]
pub struct FlavorDelete {
    pub name: QueueName,
}

impl Action for FlavorDelete {
    type Reply = ();

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new(
            "flavors:delete",
            "DELETE",
            format!("/v2/flavors/{}", self.name),
        )
    }

    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        let command = Catalogue::DeleteFlavor { name: self.name };
        on.submit_done(Command::Catalogue(command)).await
    }
}

async fn pool(on: &On<'_>, name: &QueueName) -> Result<Option<Pool>, ApiError> {
    let catalogue = ProjectId::catalogue();
    let entry = on
        .core
        .store
        .catalogue_entry(Kind::Pool, &catalogue, name.as_str())
        .await?;
    Ok(entry.map(|e| e.pool()).transpose()?)
}

/// Every pool, with its name.
async fn all_pools(on: &On<'_>) -> Result<Vec<(String, Pool)>, ApiError> {
    let entries = on
        .core
        .store
        .catalogue(&ProjectId::catalogue(), &Listing::all(Kind::Pool))
        .await?;
    Ok(catalogue::pools(entries)?)
}

/// The names of the pools that carry `flavor`.
fn carrying(pools: &[(String, Pool)], flavor: &str) -> Vec<String> {
    pools
        .iter()
        .filter(|(_, p)| p.flavor.as_deref() == Some(flavor))
        .map(|(n, _)| n.clone())
        .collect()
}

/// Opens the store a pool names (applying its migrations) and closes it again: Zaqar's
/// "cannot connect" check.
async fn reachable(on: &On<'_>, uri: &str) -> Result<(), ApiError> {
    let refused = || ApiError::InvalidBody(format!("cannot connect to {uri}"));
    let url: StoreUrl = uri.parse().map_err(|_| refused())?;
    if on.core.pools.is_home(&url) {
        return Err(ApiError::Conflict(
            "The database URI is in use by another pool.".into(),
        ));
    }
    let services = Services {
        limits: on.core.limits.clone(),
        clock: on.core.clock.clone(),
        metrics: on.core.metrics.clone(),
    };
    let options = StoreOptions {
        readers: 1,
        ..StoreOptions::default()
    };
    match Store::open(&url, &options, services).await {
        Ok(store) => {
            store.close().await;
            Ok(())
        }
        Err(e) => {
            tracing::warn!(pool = %url, error = %e, "a pool's store cannot be opened");
            Err(refused())
        }
    }
}
