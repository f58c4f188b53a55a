//! Decisions about the catalogue: pools (global, under the catalogue's own project), a
//! project's flavors and the placement of its queues, with Zaqar's rules: a pool's URI is
//! its own, a pool holding queues or the last pool carrying a flavor cannot be deleted, a
//! flavor lists pools that exist and takes them over, a new queue goes to a pool of its
//! flavor chosen in proportion to weight.

use super::{Decision, Outcome};
use crate::error::ApiError;
use crate::events::{
    FlavorCreated, FlavorDeleted, NewEvent, PoolCreated, PoolDeleted, PoolUpdated, QueuePlaced,
    QueueUnplaced,
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
    /// Finds where a queue about to be created lives: its pool if it has one, the node's
    /// own store if it exists there, or else the pool `beside` names (a dead-letter queue
    /// goes where its queue is; `Some(None)`: the node's own store), or else a pool of its
    /// flavor (or of none) chosen by weight with `draw` (a random number), or the node's own
    /// store if there is none.
    PlaceQueue {
        queue: QueueName,
        flavor: Option<String>,
        draw: u64,
        beside: Option<Option<String>>,
    },
    /// Forgets the place of a deleted queue.
    UnplaceQueue {
        queue: QueueName,
    },
}

/// What a catalogue decision reads: every pool, and whether the named flavor exists in the
/// caller's project.
#[derive(Debug, Clone, Default)]
pub struct CatalogueState {
    pub pools: Vec<(String, Pool)>,
    pub flavor_exists: bool,
    /// The named queue's pool, if it is placed.
    pub placement: Option<String>,
    /// Whether the named queue exists in the node's own store.
    pub queue_exists: bool,
    /// How many queues the named pool holds.
    pub held_queues: i64,
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
            if state.held_queues > 0 {
                return Err(ApiError::InUse(format!(
                    "This pool holds {} queues; It cannot be deleted.",
                    state.held_queues
                )));
            }
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
        Catalogue::PlaceQueue {
            queue,
            flavor,
            draw,
            beside,
        } => place(
            state,
            project,
            queue,
            flavor.as_deref(),
            *draw,
            beside.as_ref(),
        ),
        Catalogue::UnplaceQueue { queue } => {
            let events = match state.placement {
                Some(_) => vec![NewEvent::new(project, queue, QueueUnplaced {})],
                None => Vec::new(),
            };
            Ok(Decision::new(events, Outcome::Done))
        }
    }
}

/// [`Catalogue::PlaceQueue`].
fn place(
    state: &CatalogueState,
    project: &ProjectId,
    queue: &QueueName,
    flavor: Option<&str>,
    draw: u64,
    beside: Option<&Option<String>>,
) -> Result<Decision, ApiError> {
    let placed = |pool: Option<String>| Outcome::Placed(pool);
    if let Some(pool) = &state.placement {
        return Ok(Decision::new(Vec::new(), placed(Some(pool.clone()))));
    }
    if state.queue_exists {
        return Ok(Decision::new(Vec::new(), placed(None)));
    }
    match beside {
        Some(Some(pool)) => {
            let event = QueuePlaced { pool: pool.clone() };
            return Ok(Decision::new(
                vec![NewEvent::new(project, queue, event)],
                placed(Some(pool.clone())),
            ));
        }
        Some(None) => return Ok(Decision::new(Vec::new(), placed(None))),
        None => {}
    }
    if let (Some(flavor), false) = (flavor, state.flavor_exists) {
        return Err(ApiError::InvalidRequest(format!(
            "Flavor {flavor} does not exist"
        )));
    }
    let candidates: Vec<(&String, u64)> = state
        .pools
        .iter()
        .filter(|(_, p)| p.weight > 0 && p.flavor.as_deref() == flavor)
        .map(|(name, p)| (name, p.weight.unsigned_abs()))
        .collect();
    let total: u64 = candidates.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return Ok(Decision::new(Vec::new(), placed(None)));
    }
    let mut point = draw % total;
    let mut chosen = candidates[0].0;
    for (name, weight) in candidates {
        if point < weight {
            chosen = name;
            break;
        }
        point -= weight;
    }
    let event = QueuePlaced {
        pool: chosen.clone(),
    };
    Ok(Decision::new(
        vec![NewEvent::new(project, queue, event)],
        placed(Some(chosen.clone())),
    ))
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
            ..Default::default()
        }
    }

    fn place(given: &CatalogueState, flavor: Option<&str>, draw: u64) -> Option<String> {
        let command = Catalogue::PlaceQueue {
            queue: name("q"),
            flavor: flavor.map(str::to_owned),
            draw,
            beside: None,
        };
        match decide(given, &project(), &command).map(|d| d.outcome) {
            Ok(Outcome::Placed(pool)) => pool,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_queue_goes_to_a_pool_of_its_flavor_in_proportion_to_weight() {
        let weighted = |w: i64, flavor: Option<&str>| Pool {
            weight: w,
            ..pool(&format!("u{w}"), flavor)
        };
        let given = state(
            &[
                ("a", weighted(1, None)),
                ("b", weighted(3, None)),
                ("idle", weighted(0, None)),
                ("gold", weighted(5, Some("gold"))),
            ],
            true,
        );
        let picks: Vec<_> = (0..8).map(|draw| place(&given, None, draw)).collect();
        let a = picks.iter().filter(|p| p.as_deref() == Some("a")).count();
        let b = picks.iter().filter(|p| p.as_deref() == Some("b")).count();
        assert_eq!((a, b), (2, 6), "weights 1:3 over every draw of two rounds");
        assert_eq!(place(&given, Some("gold"), 7).as_deref(), Some("gold"));
        let no_flavor = CatalogueState {
            flavor_exists: false,
            ..given.clone()
        };
        let refused = Catalogue::PlaceQueue {
            queue: name("q"),
            flavor: Some("silver".into()),
            draw: 0,
            beside: None,
        };
        assert!(matches!(
            decide(&no_flavor, &project(), &refused),
            Err(ApiError::InvalidRequest(_))
        ));
    }

    #[test]
    fn a_queue_keeps_its_place_and_an_existing_or_unplaceable_one_stays_home() {
        let mut given = state(&[("a", pool("u1", None))], false);
        given.placement = Some("a".into());
        assert_eq!(place(&given, None, 0).as_deref(), Some("a"));
        given.placement = None;
        given.queue_exists = true;
        assert_eq!(place(&given, None, 0), None);
        let empty = state(&[("g", pool("u1", Some("gold")))], false);
        assert_eq!(place(&empty, None, 0), None, "no pool without a flavor");
        let mut holding = state(&[("a", pool("u1", None))], false);
        holding.held_queues = 2;
        let delete = Catalogue::DeletePool { name: name("a") };
        assert!(matches!(
            decide(&holding, &project(), &delete),
            Err(ApiError::InUse(_))
        ));
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
