//! The `queues` table: the queries that serve reads.

use sqlx::{Row, SqliteConnection};

use crate::error::StoreError;
use crate::model::{ProjectId, QueueMetadata, QueueName};
use crate::projections::{QueueFilter, QueueState, QueueView};

fn metadata_from(text: &str) -> Result<QueueMetadata, StoreError> {
    Ok(QueueMetadata::from_stored(serde_json::from_str(text)?))
}

/// The queue as a write needs it, or `None` if it does not exist.
pub async fn state(
    conn: &mut SqliteConnection,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<Option<QueueState>, StoreError> {
    let row =
        sqlx::query("SELECT metadata, next_marker FROM queues WHERE project = ?1 AND name = ?2")
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

pub async fn count(conn: &mut SqliteConnection, project: &ProjectId) -> Result<i64, StoreError> {
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM queues WHERE project = ?1")
        .bind(project.as_str())
        .fetch_one(conn)
        .await?;
    Ok(n)
}

/// A page of queues by name, after the marker, matching the name and metadata filters.
pub async fn list(
    conn: &mut SqliteConnection,
    project: &ProjectId,
    filter: &QueueFilter,
) -> Result<Vec<QueueView>, StoreError> {
    const BATCH: i64 = 200;
    let mut out = Vec::new();
    let mut after = filter.marker.clone().unwrap_or_default();
    loop {
        let rows = sqlx::query(
            "SELECT name, metadata FROM queues
             WHERE project = ?1 AND name > ?2 AND (?3 IS NULL OR instr(name, ?3) > 0)
             ORDER BY name LIMIT ?4",
        )
        .bind(project.as_str())
        .bind(&after)
        .bind(filter.name.as_deref())
        .bind(if filter.metadata.is_empty() {
            filter.limit
        } else {
            BATCH
        })
        .fetch_all(&mut *conn)
        .await?;
        let exhausted = (rows.len() as i64) < BATCH || filter.metadata.is_empty();
        for row in rows {
            let name: String = row.try_get(0)?;
            let metadata = metadata_from(row.try_get(1)?)?;
            after.clone_from(&name);
            let matches = filter
                .metadata
                .iter()
                .all(|(k, v)| metadata.get(k) == Some(v));
            if matches {
                out.push(QueueView {
                    name: QueueName::from_stored(name),
                    metadata,
                });
                if out.len() as i64 == filter.limit {
                    return Ok(out);
                }
            }
        }
        if exhausted {
            return Ok(out);
        }
    }
}
