//! The `catalogue` table: the pools and the flavors, one row each, keyed by kind, project
//! (pools: the catalogue's own project) and name. A row's `reference` is what other rows
//! are found by: a pool's flavor, a queue's pool.

pub mod postgres;
pub mod sqlite;

use serde_json::Value;

use crate::error::StoreError;
use crate::model::Pool;

/// What a row of the catalogue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pool,
    Flavor,
    /// A queue's place: the pool it lives on (its `reference`).
    Placement,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pool => "pool",
            Kind::Flavor => "flavor",
            Kind::Placement => "placement",
        }
    }
}

/// A row to record; its project and name are those of the event that records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a> {
    pub kind: Kind,
    pub reference: Option<&'a str>,
    pub document: Value,
}

/// A row of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub reference: Option<String>,
    /// The recorded document (a pool's fields; `{}` for a flavor).
    pub document: Value,
}

impl Entry {
    /// The pool a pool's row records.
    pub fn pool(&self) -> Result<Pool, StoreError> {
        Ok(serde_json::from_value(self.document.clone())?)
    }
}

/// The pools that rows of pools record, each with its name.
pub fn pools(entries: Vec<Entry>) -> Result<Vec<(String, Pool)>, StoreError> {
    let mut pools = Vec::with_capacity(entries.len());
    for entry in entries {
        let pool = entry.pool()?;
        pools.push((entry.name, pool));
    }
    Ok(pools)
}

/// A page of one kind of row, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub kind: Kind,
    /// Only names after this one.
    pub marker: String,
    pub limit: i64,
}

impl Listing {
    /// Every row of the kind.
    pub fn all(kind: Kind) -> Listing {
        Listing {
            kind,
            marker: String::new(),
            limit: i64::MAX,
        }
    }
}
