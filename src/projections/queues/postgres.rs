//! The `queues` table: fold and queries.

use serde_json::{Map, Value};
use sqlx::{PgConnection, Row};

use crate::error::StoreError;
use crate::model::{ProjectId, QueueMetadata, QueueName, Timestamp};
use crate::projections::{QueueFilter, QueueState, QueueView};

pub async fn insert(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    metadata: &Map<String, Value>,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO queues (project, name, metadata, created_at, next_marker)
         VALUES ($1, $2, $3, $4, 1)",
    )
    .bind(project.as_str())
    .bind(queue.as_str())
    .bind(serde_json::to_string(metadata)?)
    .bind(at.0)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_metadata(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    metadata: &Map<String, Value>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE queues SET metadata = $3 WHERE project = $1 AND name = $2")
        .bind(project.as_str())
        .bind(queue.as_str())
        .bind(serde_json::to_string(metadata)?)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM queues WHERE project = $1 AND name = $2")
        .bind(project.as_str())
        .bind(queue.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes sure the next posted message gets at least `next` as its marker.
pub async fn advance_marker(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    next: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE queues SET next_marker = GREATEST(next_marker, $3) WHERE project = $1 AND name = $2",
    )
    .bind(project.as_str())
    .bind(queue.as_str())
    .bind(next)
    .execute(conn)
    .await?;
    Ok(())
}

fn metadata_from(text: &str) -> Result<QueueMetadata, StoreError> {
    Ok(QueueMetadata::from_stored(serde_json::from_str(text)?))
}

/// The queue as a write needs it, or `None` if it does not exist.
pub async fn state(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<Option<QueueState>, StoreError> {
    let row =
        sqlx::query("SELECT metadata, next_marker FROM queues WHERE project = $1 AND name = $2")
            .bind(project.as_str())
            .bind(queue.as_str())
            .fetch_optional(conn)
            .await?;
    row.map(|r| {
        Ok(QueueState {
            metadata: metadata_from(r.try_get(0)?)?,
            next_marker: r.try_get(1)?,
        })
    })
    .transpose()
}

pub async fn count(conn: &mut PgConnection, project: &ProjectId) -> Result<i64, StoreError> {
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM queues WHERE project = $1")
        .bind(project.as_str())
        .fetch_one(conn)
        .await?;
    Ok(n)
}

/// A page of queues by name, after the marker, matching the name and metadata filters.
pub async fn list(
    conn: &mut PgConnection,
    project: &ProjectId,
    filter: &QueueFilter,
) -> Result<Vec<QueueView>, StoreError> {
    let mut page = Vec::new();
    if filter.name.as_deref().is_some_and(|n| n.contains('\0')) {
        return Ok(page); // no name contains NUL (PostgreSQL text cannot even hold it)
    }
    // No name contains NUL either, so cutting the marker there keeps `name > marker` exact.
    let marker = filter.marker.as_deref().unwrap_or_default();
    let mut after = marker.split('\0').next().unwrap_or_default().to_owned();
    loop {
        let rows = sqlx::query(
            "SELECT name, metadata FROM queues
             WHERE project = $1 AND name > $2 AND ($3 IS NULL OR strpos(name, $3) > 0)
             ORDER BY name LIMIT $4",
        )
        .bind(project.as_str())
        .bind(&after)
        .bind(filter.name.as_deref())
        .bind(filter.batch())
        .fetch_all(&mut *conn)
        .await?;
        let batch = rows
            .iter()
            .map(|row| Ok((row.try_get(0)?, metadata_from(row.try_get(1)?)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        if filter.collect(&mut page, batch, &mut after) {
            return Ok(page);
        }
    }
}
