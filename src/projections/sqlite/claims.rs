//! The `claims` table: the queries that serve reads. A claim is live while `expires_at` is in the future
//! and it still holds at least one unexpired message.

use sqlx::{Row, SqliteConnection};

use super::messages;
use crate::error::StoreError;
use crate::model::{ClaimId, ProjectId, QueueName, Timestamp};
use crate::projections::ClaimView;

async fn live_row(
    conn: &mut SqliteConnection,
    project: &ProjectId,
    queue: &QueueName,
    id: &ClaimId,
    now: Timestamp,
) -> Result<Option<(i64, Timestamp)>, StoreError> {
    let row = sqlx::query(
        "SELECT ttl, updated_at FROM claims
         WHERE id = ?1 AND project = ?2 AND queue = ?3 AND expires_at > ?4",
    )
    .bind(id.as_str())
    .bind(project.as_str())
    .bind(queue.as_str())
    .bind(now.0)
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((r.try_get(0)?, Timestamp(r.try_get(1)?))))
        .transpose()
}

/// A live claim and its unexpired messages; `None` if expired, unknown or empty.
pub async fn get(
    conn: &mut SqliteConnection,
    project: &ProjectId,
    queue: &QueueName,
    id: &ClaimId,
    now: Timestamp,
) -> Result<Option<ClaimView>, StoreError> {
    let Some((ttl, updated_at)) = live_row(conn, project, queue, id, now).await? else {
        return Ok(None);
    };
    let held = messages::claimed_by(conn, id, now).await?;
    if held.is_empty() {
        return Ok(None);
    }
    Ok(Some(ClaimView {
        id: id.clone(),
        ttl,
        updated_at,
        messages: held,
    }))
}
