//! What the SQLite read models share. [`fold`] wires the steps of each read model
//! (`projections::queues::sqlite`, …) to the fold's rules (run by the writer inside the
//! append transaction, so reads right after a `201` see the change); their queries serve
//! clients (through the store's reader pool) and the writer's decisions (`decide_reads`)
//! alike. [`window`] is the rebuild's fold: the same rules, a window of events at a time.
//! Message rows keep no body of their own: [`bodies`] reads it from the posting event.
//!
//! Statements that write several rows are `OR FAIL`. Under SQLite's default
//! (`ABORT`), a failing row undoes the rows its statement already wrote, so SQLite copies
//! every page the statement changes into a statement journal first. Neither fold needs
//! that: any error ends the whole transaction (the writer rolls its batch back, a rebuild
//! commits nothing).

pub mod bodies;
mod decide_reads;
pub mod fold;
pub(crate) mod rows;
pub mod window;

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::StoreError;
use crate::model::{ProjectId, QueueName, Timestamp};

/// Deletes the rows of `table` (a read-model table name, never input) with these ids.
pub(crate) fn delete_rows<'a>(
    conn: &Connection,
    table: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<(), StoreError> {
    let mut delete = conn.prepare_cached(&format!("DELETE FROM {table} WHERE id = ?1"))?;
    for id in ids {
        delete.execute([id])?;
    }
    Ok(())
}

/// Name under which the inline projections record the log position they reflect.
pub const CHECKPOINT: &str = "inline";

/// The read-model tables, each with the columns that identify a row (for reports).
pub const READ_MODELS: [(&str, &str); 7] = [
    ("queues", "project || '/' || name"),
    ("messages", "project || '/' || queue || '/' || id"),
    ("claims", "id"),
    ("subscriptions", "id"),
    ("catalogue", "kind || '/' || project || '/' || name"),
    ("message_history", "message_id"),
    ("projection_checkpoints", "name"),
];

/// Rows of `table` (a read-model table name, never input) whose expiry has passed, oldest
/// expiry first, as `(project, queue, id)`.
pub(crate) fn expired_ids<T>(
    conn: &Connection,
    table: &str,
    now: Timestamp,
    limit: i64,
    id: impl Fn(String) -> T,
) -> Result<Vec<(ProjectId, QueueName, T)>, StoreError> {
    let sql = format!(
        "SELECT project, queue, id FROM {table} WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2"
    );
    let mut select = conn.prepare_cached(&sql)?;
    let rows = select.query_map(params![now.0, limit], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (project, queue, raw) = row?;
        let project = ProjectId::from_stored(project);
        out.push((project, QueueName::from_stored(queue), id(raw)));
    }
    Ok(out)
}

pub(crate) fn has_rows(
    conn: &Connection,
    table: &str,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<bool, StoreError> {
    let sql = format!("SELECT 1 FROM {table} WHERE project = ?1 AND queue = ?2 LIMIT 1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![project.as_str(), queue.as_str()], |_| Ok(()))
        .optional()?
        .is_some())
}
