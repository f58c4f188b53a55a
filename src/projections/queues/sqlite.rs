//! The `queues` table: the queries that serve reads and decisions.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::StoreError;
use crate::events::Envelope;
use crate::model::{ProjectId, QueueMetadata, QueueName};
use crate::projections::fold::{Metadata, Step};
use crate::projections::{QueueFilter, QueueState, QueueView};

fn metadata_from(text: &str) -> Result<QueueMetadata, StoreError> {
    Ok(QueueMetadata::from_stored(serde_json::from_str(text)?))
}

/// The queue as a write needs it, or `None` if it does not exist.
pub fn state(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<Option<QueueState>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT metadata, next_marker FROM queues WHERE project = ?1 AND name = ?2",
        )?
        .query_row(params![project.as_str(), queue.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .optional()?;
    row.map(|(metadata, next_marker)| {
        Ok(QueueState {
            metadata: metadata_from(&metadata)?,
            next_marker,
        })
    })
    .transpose()
}

pub fn count(conn: &Connection, project: &ProjectId) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM queues WHERE project = ?1")?
        .query_row(params![project.as_str()], |r| r.get(0))?)
}

/// A page of queues by name, after the marker, matching the name and metadata filters.
pub fn list(
    conn: &Connection,
    project: &ProjectId,
    filter: &QueueFilter,
) -> Result<Vec<QueueView>, StoreError> {
    let mut page = Vec::new();
    let mut after = filter.marker.clone().unwrap_or_default();
    let mut select = conn.prepare_cached(
        "SELECT name, metadata FROM queues
         WHERE project = ?1 AND name > ?2 AND (?3 IS NULL OR instr(name, ?3) > 0)
         ORDER BY name LIMIT ?4",
    )?;
    loop {
        let args = params![
            project.as_str(),
            after,
            filter.name.as_deref(),
            filter.batch()
        ];
        let mut batch = Vec::new();
        let mut rows = select.query(args)?;
        while let Some(row) = rows.next()? {
            let metadata: String = row.get(1)?;
            batch.push((row.get(0)?, metadata_from(&metadata)?));
        }
        if filter.collect(&mut page, batch, &mut after) {
            return Ok(page);
        }
    }
}

/// Fold step: a new queue, its markers starting at 1.
pub fn insert(conn: &Connection, env: &Envelope, metadata: &Metadata) -> Step {
    conn.prepare_cached(
        "INSERT INTO queues (project, name, metadata, created_at, next_marker)
         VALUES (?1, ?2, ?3, ?4, 1)",
    )?
    .execute(params![
        env.project.as_str(),
        env.queue.as_str(),
        serde_json::to_string(metadata)?,
        env.at.0
    ])?;
    Ok(())
}

/// Fold step: a queue's new metadata.
pub fn set_metadata(conn: &Connection, env: &Envelope, metadata: &Metadata) -> Step {
    conn.prepare_cached("UPDATE queues SET metadata = ?3 WHERE project = ?1 AND name = ?2")?
        .execute(params![
            env.project.as_str(),
            env.queue.as_str(),
            serde_json::to_string(metadata)?
        ])?;
    Ok(())
}

/// Fold step: a deleted queue's row goes.
pub fn delete(conn: &Connection, env: &Envelope) -> Step {
    conn.prepare_cached("DELETE FROM queues WHERE project = ?1 AND name = ?2")?
        .execute(params![env.project.as_str(), env.queue.as_str()])?;
    Ok(())
}

/// Fold step: makes sure the next posted message gets at least `next` as its marker.
pub fn advance_marker(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    next: i64,
) -> Step {
    conn.prepare_cached(
        "UPDATE queues SET next_marker = MAX(next_marker, ?3) WHERE project = ?1 AND name = ?2",
    )?
    .execute(params![project.as_str(), queue.as_str(), next])?;
    Ok(())
}
