//! The stores a node's queues live in (ADR 006): the node's own store, which also holds the
//! catalogue, and every pool registered there, each its own store with its own log and
//! writer. A queue's operations go to the store of its pool; where each queue lives is read
//! from the catalogue once and kept here, and kept current by the catalogue's events
//! ([`Pools::follow`]), which on PostgreSQL include those of the other nodes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use tokio::sync::mpsc;

use super::{Services, Store, StoreOptions, StoreUrl};
use crate::error::StoreError;
use crate::events::{Envelope, Event, PoolCreated, PoolUpdated};
use crate::model::{ProjectId, QueueName};
use crate::projections::catalogue::{Kind, Listing};

/// Where a queue lives.
#[derive(Debug, Clone, PartialEq)]
enum Place {
    /// The node's own store: the queue exists there, or no pool could take it.
    Home,
    /// A pool, by name.
    Pool(String),
}

/// The node's stores and the queues' places.
pub struct Pools {
    home: Store,
    home_url: StoreUrl,
    options: StoreOptions,
    services: Services,
    /// Whether the catalogue has pools: without any, every queue lives at home.
    pooled: AtomicBool,
    open: RwLock<HashMap<String, (String, Store)>>,
    places: RwLock<HashMap<(ProjectId, QueueName), Place>>,
    /// Told of each pool store this node opens, so that its background work starts.
    opened: mpsc::UnboundedSender<Store>,
}

impl std::fmt::Debug for Pools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open: Vec<String> = self.read_open().keys().cloned().collect();
        f.debug_struct("Pools").field("open", &open).finish()
    }
}

impl Pools {
    /// The pools of a node whose own store is `home`, opened on demand with `options`; each
    /// pool store opened is sent on the returned channel.
    pub fn new(
        home: Store,
        home_url: StoreUrl,
        options: StoreOptions,
        services: Services,
    ) -> (Pools, mpsc::UnboundedReceiver<Store>) {
        let (opened, receiver) = mpsc::unbounded_channel();
        let pools = Pools {
            home,
            home_url,
            options,
            services,
            pooled: AtomicBool::new(false),
            open: RwLock::default(),
            places: RwLock::default(),
            opened,
        };
        (pools, receiver)
    }

    /// The node's own store.
    pub fn home(&self) -> &Store {
        &self.home
    }

    /// Whether `url` names the node's own store (which no pool may share).
    pub fn is_home(&self, url: &StoreUrl) -> bool {
        let canonical = |url: &StoreUrl| match url {
            StoreUrl::Sqlite(path) => path
                .canonicalize()
                .map(StoreUrl::Sqlite)
                .unwrap_or_else(|_| url.clone()),
            other => other.clone(),
        };
        canonical(url) == canonical(&self.home_url)
    }

    /// Opens every registered pool.
    pub async fn load(&self) -> Result<(), StoreError> {
        let pools = self
            .home
            .catalogue(&ProjectId::catalogue(), &Listing::all(Kind::Pool))
            .await?;
        self.pooled.store(!pools.is_empty(), Ordering::Relaxed);
        for pool in pools {
            if let Err(e) = self.pool(&pool.name).await {
                tracing::error!(pool = %pool.name, error = %e, "a pool's store cannot be opened");
            }
        }
        Ok(())
    }

    /// Whether any pool is registered.
    pub fn pooled(&self) -> bool {
        self.pooled.load(Ordering::Relaxed)
    }

    /// The store of a pool, opened if this node has not opened it yet.
    pub async fn pool(&self, name: &str) -> Result<Store, StoreError> {
        if let Some((_, store)) = self.read_open().get(name) {
            return Ok(store.clone());
        }
        let catalogue = ProjectId::catalogue();
        let entry = self
            .home
            .catalogue_entry(Kind::Pool, &catalogue, name)
            .await?;
        let pool = entry
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "a queue lives on pool {name}, which is not registered"
                ))
            })?
            .pool()?;
        let url: StoreUrl = pool.uri.parse().map_err(StoreError::Corrupt)?;
        let store = Store::open(&url, &self.options, self.services.clone()).await?;
        let theirs = {
            let mut open = self.write_open();
            match open.get(name) {
                Some((_, theirs)) => Some(theirs.clone()),
                None => {
                    open.insert(name.to_owned(), (pool.uri.clone(), store.clone()));
                    None
                }
            }
        };
        match theirs {
            // Another request opened it meanwhile.
            Some(theirs) => {
                store.close().await;
                Ok(theirs)
            }
            None => {
                let _ = self.opened.send(store.clone());
                tracing::info!(pool = %name, store = %url, "opened a pool");
                Ok(store)
            }
        }
    }

    /// The store where the queue lives (its own store if it is not placed on a pool).
    pub async fn of(&self, project: &ProjectId, queue: &QueueName) -> Result<Store, StoreError> {
        Ok(self.locate(project, queue).await?.1)
    }

    /// The pool where the queue lives (`None`: the node's own store), and its store.
    pub async fn locate(
        &self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<(Option<String>, Store), StoreError> {
        if !self.pooled() {
            return Ok((None, self.home.clone()));
        }
        let known = self
            .read_places()
            .get(&(project.clone(), queue.clone()))
            .cloned();
        let place = match known {
            Some(place) => place,
            None => {
                let entry = self
                    .home
                    .catalogue_entry(Kind::Placement, project, queue.as_str())
                    .await?;
                match entry.and_then(|e| e.reference) {
                    Some(pool) => {
                        self.placed(project, queue, Some(pool.clone()));
                        Place::Pool(pool)
                    }
                    // Not remembered: a queue that does not exist yet may still be placed.
                    None => Place::Home,
                }
            }
        };
        let store = self.store(place.clone()).await?;
        match place {
            Place::Home => Ok((None, store)),
            Place::Pool(name) => Ok((Some(name), store)),
        }
    }

    /// The pool and store where a queue about to be created lives, if its place is known.
    pub async fn known(
        &self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<Option<(Option<String>, Store)>, StoreError> {
        if !self.pooled() {
            return Ok(Some((None, self.home.clone())));
        }
        let known = self
            .read_places()
            .get(&(project.clone(), queue.clone()))
            .cloned();
        match known {
            Some(Place::Home) => Ok(Some((None, self.home.clone()))),
            Some(Place::Pool(name)) => Ok(Some((Some(name.clone()), self.pool(&name).await?))),
            None => Ok(None),
        }
    }

    /// Remembers where a queue lives (`None`: in the node's own store).
    pub fn placed(&self, project: &ProjectId, queue: &QueueName, pool: Option<String>) {
        let place = pool.map_or(Place::Home, Place::Pool);
        self.write_places()
            .insert((project.clone(), queue.clone()), place);
    }

    /// Forgets where every queue lives (they are read again as needed).
    pub fn forget_all(&self) {
        self.write_places().clear();
    }

    /// Forgets where a queue lived.
    pub fn forget(&self, project: &ProjectId, queue: &QueueName) {
        self.write_places()
            .remove(&(project.clone(), queue.clone()));
    }

    /// The store of a pool by name (`None`: the node's own).
    pub async fn named(&self, pool: Option<String>) -> Result<Store, StoreError> {
        self.store(pool.map_or(Place::Home, Place::Pool)).await
    }

    async fn store(&self, place: Place) -> Result<Store, StoreError> {
        match place {
            Place::Home => Ok(self.home.clone()),
            Place::Pool(name) => self.pool(&name).await,
        }
    }

    /// Every store this node has open: its own first, then the pools by name.
    pub fn all(&self) -> Vec<Store> {
        self.all_named().into_iter().map(|(_, s)| s).collect()
    }

    /// [`Pools::all`], each with its pool's name (`None`: the node's own store).
    pub fn all_named(&self) -> Vec<(Option<String>, Store)> {
        let open = self.read_open();
        let mut pools: Vec<(Option<String>, Store)> = open
            .iter()
            .map(|(name, (_, store))| (Some(name.clone()), store.clone()))
            .collect();
        pools.sort_by(|a, b| a.0.cmp(&b.0));
        pools.insert(0, (None, self.home.clone()));
        pools
    }

    /// Keeps the pools and places current with an event of the node's own store.
    pub async fn follow(&self, env: &Envelope) {
        match &env.event {
            Event::PoolCreated(PoolCreated { pool }) | Event::PoolUpdated(PoolUpdated { pool }) => {
                self.pooled.store(true, Ordering::Relaxed);
                // A pool that may take queues now: the queues not yet created must be placed
                // again rather than be kept at home.
                self.write_places().retain(|_, place| *place != Place::Home);
                // A pool that moved to another store is opened again; any other change
                // (weight, flavor, options) leaves its open store alone.
                let moved = {
                    let mut open = self.write_open();
                    match open.get(env.queue.as_str()) {
                        Some((uri, _)) if *uri != pool.uri => open.remove(env.queue.as_str()),
                        _ => None,
                    }
                };
                if let Some((_, store)) = moved {
                    store.close().await;
                }
                if let Err(e) = self.pool(env.queue.as_str()).await {
                    tracing::error!(pool = %env.queue, error = %e, "a pool's store cannot be opened");
                }
            }
            Event::PoolDeleted(_) => {
                let removed = self.write_open().remove(env.queue.as_str());
                if let Some((_, store)) = removed {
                    store.close().await;
                }
                if self.read_open().is_empty() {
                    let left = self
                        .home
                        .catalogue(&ProjectId::catalogue(), &Listing::all(Kind::Pool))
                        .await;
                    self.pooled
                        .store(left.map_or(true, |l| !l.is_empty()), Ordering::Relaxed);
                }
            }
            Event::QueuePlaced(e) => self.placed(&env.project, &env.queue, Some(e.pool.clone())),
            Event::QueueUnplaced(_) | Event::QueueDeleted(_) => {
                self.forget(&env.project, &env.queue)
            }
            _ => {}
        }
    }

    /// Closes every pool store (the node's own store is closed by its owner).
    pub async fn close(&self) {
        let stores: Vec<Store> = self.write_open().drain().map(|(_, (_, s))| s).collect();
        for store in stores {
            store.close().await;
        }
    }

    fn read_open(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, (String, Store)>> {
        self.open.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_open(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, (String, Store)>> {
        self.open.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_places(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<(ProjectId, QueueName), Place>> {
        self.places.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_places(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<(ProjectId, QueueName), Place>> {
        self.places.write().unwrap_or_else(|e| e.into_inner())
    }
}
