//! The `catalogue` table in SQLite: fold steps and queries.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Entry, Kind, Listing, Row};
use crate::error::StoreError;
use crate::events::Envelope;
use crate::model::ProjectId;

/// Records the row of the event's project and name (replacing any).
pub fn put(conn: &Connection, env: &Envelope, row: &Row<'_>) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO catalogue (kind, project, name, reference, document)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (kind, project, name)
         DO UPDATE SET reference = excluded.reference, document = excluded.document",
    )?
    .execute(params![
        row.kind.as_str(),
        env.project.as_str(),
        env.queue.as_str(),
        row.reference,
        row.document.to_string()
    ])?;
    Ok(())
}

/// Drops the row of the event's project and name.
pub fn delete(conn: &Connection, kind: Kind, env: &Envelope) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM catalogue WHERE kind = ?1 AND project = ?2 AND name = ?3")?
        .execute(params![
            kind.as_str(),
            env.project.as_str(),
            env.queue.as_str()
        ])?;
    Ok(())
}

pub fn get(
    conn: &Connection,
    kind: Kind,
    project: &ProjectId,
    name: &str,
) -> Result<Option<Entry>, StoreError> {
    conn.prepare_cached(
        "SELECT name, reference, document FROM catalogue
         WHERE kind = ?1 AND project = ?2 AND name = ?3",
    )?
    .query_row(params![kind.as_str(), project.as_str(), name], row)
    .optional()?
    .map(decoded)
    .transpose()
}

/// A page of the project's rows of one kind, by name.
pub fn list(
    conn: &Connection,
    project: &ProjectId,
    listing: &Listing,
) -> Result<Vec<Entry>, StoreError> {
    let mut select = conn.prepare_cached(
        "SELECT name, reference, document FROM catalogue
         WHERE kind = ?1 AND project = ?2 AND name > ?3 ORDER BY name LIMIT ?4",
    )?;
    let rows = select.query_map(
        params![
            listing.kind.as_str(),
            project.as_str(),
            listing.marker,
            listing.limit
        ],
        row,
    )?;
    rows.map(|r| decoded(r?)).collect()
}

type Stored = (String, Option<String>, String);

fn row(r: &rusqlite::Row) -> rusqlite::Result<Stored> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn decoded((name, reference, document): Stored) -> Result<Entry, StoreError> {
    Ok(Entry {
        name,
        reference,
        document: serde_json::from_str(&document)?,
    })
}

/// How many rows of one kind, in any project, refer to `reference` (a pool's queues).
pub fn count_referring(conn: &Connection, kind: Kind, reference: &str) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM catalogue WHERE kind = ?1 AND reference = ?2")?
        .query_row(params![kind.as_str(), reference], |r| r.get(0))?)
}
