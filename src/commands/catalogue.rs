//! Decisions about the catalogue: pools (global, under the catalogue's own project) and a
//! project's flavors, with Zaqar's rules: a pool's URI is its own, the last pool carrying a
//! flavor cannot be deleted, a flavor lists pools that exist and takes them over.

use super::{Decision, Outcome};
use crate::error::ApiError;
use crate::events::{
    FlavorCreated, FlavorDeleted, NewEvent, PoolCreated, PoolDeleted, PoolUpdated,
};
use crate::model::{Pool, PoolPatch, ProjectId, QueueName};

/// A change to the catalogue, validated.
#[derive(Debug, Clone)]
pub enum Catalogue {
    /// Registers a pool, or registers it anew.
    PutPool {
        name: QueueName,
        pool: Pool,
    },
    UpdatePool {
        name: QueueName,
        patch: PoolPatch,
    },
    DeletePool {
        name: QueueName,
    },
    /// Creates the caller's flavor (again) and lets it take the listed pools.
    PutFlavor {
        name: QueueName,
        pools: Vec<String>,
    },
    /// The flavor's pools become exactly the listed ones.
    UpdateFlavor {
        name: QueueName,
        pools: Vec<String>,
    },
    /// Deletes the flavor; its pools carry no flavor any more.
    DeleteFlavor {
        name: QueueName,
    },
}

/// What a catalogue decision reads: every pool, and whether the named flavor exists in the
/// caller's project.
#[derive(Debug, Clone, Default)]
pub struct CatalogueState {
    pub pools: Vec<(String, Pool)>,
    pub flavor_exists: bool,
}

impl CatalogueState {
    fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// The pools that carry `flavor`.
    fn carrying<'a>(&'a self, flavor: &'a str) -> impl Iterator<Item = (&'a String, &'a Pool)> {
        self.pools
            .iter()
            .filter(move |(_, p)| p.flavor.as_deref() == Some(flavor))
            .map(|(n, p)| (n, p))
    }

    /// Refuses a URI that another pool already has.
    fn uri_free(&self, name: &QueueName, uri: &str) -> Result<(), ApiError> {
        match self
            .pools
            .iter()
            .any(|(n, p)| n != name.as_str() && p.uri == uri)
        {
            true => Err(ApiError::Conflict(
                "The database URI is in use by another pool.".into(),
            )),
            false => Ok(()),
        }
    }
}

/// Decides a catalogue change asked for in `project` (the project of its flavors).
pub fn decide(
    state: &CatalogueState,
    project: &ProjectId,
    command: &Catalogue,
) -> Result<Decision, ApiError> {
    let pools = ProjectId::catalogue();
    let pool_event = |name: &str, pool: Pool| {
        NewEvent::new(
            &pools,
            &QueueName::from_stored(name.to_owned()),
            PoolUpdated { pool },
        )
    };
    let flavored = |pool: &Pool, flavor: Option<&QueueName>| Pool {
        flavor: flavor.map(|f| f.as_str().to_owned()),
        ..pool.clone()
    };
    match command {
        Catalogue::PutPool { name, pool } => {
            state.uri_free(name, &pool.uri)?;
            let event = PoolCreated { pool: pool.clone() };
            Ok(Decision::new(
                vec![NewEvent::new(&pools, name, event)],
                Outcome::Done,
            ))
        }
        Catalogue::UpdatePool { name, patch } => {
            let current = state
                .pool(name.as_str())
                .ok_or_else(|| ApiError::NotFound(format!("Pool {name} does not exist")))?;
            let pool = patch.apply(current);
            state.uri_free(name, &pool.uri)?;
            Ok(Decision::new(
                vec![pool_event(name.as_str(), pool.clone())],
                Outcome::Pool(Box::new(pool)),
            ))
        }
        Catalogue::DeletePool { name } => {
            let Some(current) = state.pool(name.as_str()) else {
                return Ok(Decision::nothing());
            };
            if let Some(flavor) = &current.flavor {
                if state.carrying(flavor).count() == 1 {
                    return Err(ApiError::InUse(format!(
                        "This pool is used by flavors {flavor}; It cannot be deleted."
                    )));
                }
            }
            Ok(Decision::new(
                vec![NewEvent::new(&pools, name, PoolDeleted {})],
                Outcome::Done,
            ))
        }
        Catalogue::PutFlavor { name, pools: list } => {
            if let Some(missing) = list.iter().find(|p| state.pool(p).is_none()) {
                return Err(ApiError::CannotCreate(format!(
                    "Flavor {name} could not be created, error:Pool {missing} does not exist"
                )));
            }
            let mut events = vec![NewEvent::new(project, name, FlavorCreated {})];
            for (pool_name, pool) in &state.pools {
                if list.contains(pool_name) && pool.flavor.as_deref() != Some(name.as_str()) {
                    events.push(pool_event(pool_name, flavored(pool, Some(name))));
                }
            }
            Ok(Decision::new(events, Outcome::Done))
        }
        Catalogue::UpdateFlavor { name, pools: list } => {
            if !state.flavor_exists {
                return Err(ApiError::NotFound(format!("Flavor {name} does not exist")));
            }
            if let Some(missing) = list.iter().find(|p| state.pool(p).is_none()) {
                return Err(ApiError::CannotUpdate(format!(
                    "Flavor {name} cant be updated, error:Pool {missing} does not exist"
                )));
            }
            let mut events = Vec::new();
            for (pool_name, pool) in &state.pools {
                let carries = pool.flavor.as_deref() == Some(name.as_str());
                match (list.contains(pool_name), carries) {
                    (true, false) => events.push(pool_event(pool_name, flavored(pool, Some(name)))),
                    (false, true) => events.push(pool_event(pool_name, flavored(pool, None))),
                    _ => {}
                }
            }
            Ok(Decision::new(events, Outcome::Done))
        }
        Catalogue::DeleteFlavor { name } => {
            let mut events: Vec<NewEvent> = state
                .carrying(name.as_str())
                .map(|(pool_name, pool)| pool_event(pool_name, flavored(pool, None)))
                .collect();
            if state.flavor_exists {
                events.push(NewEvent::new(project, name, FlavorDeleted {}));
            }
            Ok(Decision::new(events, Outcome::Done))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;

    fn pool(uri: &str, flavor: Option<&str>) -> Pool {
        Pool {
            uri: uri.into(),
            weight: 10,
            flavor: flavor.map(str::to_owned),
            options: Default::default(),
        }
    }

    fn name(n: &str) -> QueueName {
        QueueName::from_stored(n.into())
    }

    fn project() -> ProjectId {
        ProjectId::from_stored("p".into())
    }

    fn state(pools: &[(&str, Pool)], flavor_exists: bool) -> CatalogueState {
        CatalogueState {
            pools: pools
                .iter()
                .map(|(n, p)| (n.to_string(), p.clone()))
                .collect(),
            flavor_exists,
        }
    }

    #[test]
    fn a_pool_may_not_take_another_pools_uri_but_may_keep_its_own() {
        let given = state(&[("a", pool("sqlite:///a", None))], false);
        let put = |n: &str| Catalogue::PutPool {
            name: name(n),
            pool: pool("sqlite:///a", None),
        };
        assert!(matches!(
            decide(&given, &project(), &put("b")),
            Err(ApiError::Conflict(_))
        ));
        let again = decide(&given, &project(), &put("a")).map(|d| d.events.len());
        assert_eq!(again, Ok(1));
    }

    #[test]
    fn the_last_pool_of_a_flavor_cannot_be_deleted() {
        let given = state(&[("a", pool("u1", Some("gold")))], false);
        let delete = Catalogue::DeletePool { name: name("a") };
        assert!(matches!(
            decide(&given, &project(), &delete),
            Err(ApiError::InUse(_))
        ));
        let two = state(
            &[
                ("a", pool("u1", Some("gold"))),
                ("b", pool("u2", Some("gold"))),
            ],
            false,
        );
        assert_eq!(
            decide(&two, &project(), &delete).map(|d| d.events.len()),
            Ok(1)
        );
        let missing = Catalogue::DeletePool { name: name("zz") };
        assert_eq!(
            decide(&two, &project(), &missing).map(|d| d.events.len()),
            Ok(0)
        );
    }

    #[test]
    fn a_flavor_takes_its_listed_pools_and_an_update_releases_the_others() {
        let given = state(
            &[("a", pool("u1", None)), ("b", pool("u2", Some("gold")))],
            true,
        );
        let put = Catalogue::PutFlavor {
            name: name("gold"),
            pools: vec!["a".into()],
        };
        let events = decide(&given, &project(), &put).map(|d| d.events);
        let kinds: Vec<_> = events.iter().flatten().map(|e| e.event.kind()).collect();
        assert_eq!(kinds, ["FlavorCreated", "PoolUpdated"]);
        let update = Catalogue::UpdateFlavor {
            name: name("gold"),
            pools: vec!["a".into()],
        };
        let events = decide(&given, &project(), &update).map(|d| d.events);
        let flavors: Vec<_> = events
            .iter()
            .flatten()
            .map(|e| match &e.event {
                Event::PoolUpdated(u) => (e.queue.to_string(), u.pool.flavor.clone()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            flavors,
            [("a".into(), Some("gold".into())), ("b".into(), None)]
        );
    }

    #[test]
    fn a_flavor_names_only_pools_that_exist() {
        let given = state(&[("a", pool("u1", None))], false);
        let put = Catalogue::PutFlavor {
            name: name("gold"),
            pools: vec!["a".into(), "nope".into()],
        };
        assert_eq!(
            decide(&given, &project(), &put).map(|_| ()),
            Err(ApiError::CannotCreate(
                "Flavor gold could not be created, error:Pool nope does not exist".into()
            ))
        );
        let update = Catalogue::UpdateFlavor {
            name: name("gold"),
            pools: vec!["a".into()],
        };
        assert!(matches!(
            decide(&given, &project(), &update),
            Err(ApiError::NotFound(_))
        ));
    }
}
