//! The `claims` table: fold and queries. A claim is live while `expires_at` is in the future
//! and it still holds at least one unexpired message.

use sqlx::{PgConnection, Row};

use crate::error::StoreError;
use crate::events::{ClaimRenewed, MessagesClaimed};
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, Timestamp};
use crate::projections::messages::postgres as messages;
use crate::projections::{ClaimState, ClaimView};

pub async fn insert(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    e: &MessagesClaimed,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO claims (id, project, queue, ttl, grace, updated_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.claim_id.as_str())
    .bind(project.as_str())
    .bind(queue.as_str())
    .bind(e.ttl)
    .bind(e.grace)
    .bind(at.0)
    .bind(e.expires_at.0)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn renew(
    conn: &mut PgConnection,
    e: &ClaimRenewed,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE claims SET ttl = $2, grace = $3, updated_at = $4, expires_at = $5 WHERE id = $1",
    )
    .bind(e.claim_id.as_str())
    .bind(e.ttl)
    .bind(e.grace)
    .bind(at.0)
    .bind(e.expires_at.0)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut PgConnection, id: &ClaimId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM claims WHERE id = $1")
        .bind(id.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether a claim row exists for this queue (live or not yet swept).
pub async fn exists(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    id: &ClaimId,
) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1::BIGINT FROM claims WHERE id = $1 AND project = $2 AND queue = $3",
    )
    .bind(id.as_str())
    .bind(project.as_str())
    .bind(queue.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// A live claim with its messages' expiry instants, for renewal.
pub async fn live_state(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    id: &ClaimId,
    now: Timestamp,
) -> Result<Option<ClaimState>, StoreError> {
    if live_row(conn, project, queue, id, now).await?.is_none() {
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT id, expires_at FROM messages WHERE claim_id = $1 AND expires_at > $2
         ORDER BY marker",
    )
    .bind(id.as_str())
    .bind(now.0)
    .fetch_all(conn)
    .await?;
    let messages = rows
        .iter()
        .map(|r| {
            Ok((
                MessageId::from_stored(r.try_get(0)?),
                Timestamp(r.try_get(1)?),
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(ClaimState {
        id: id.clone(),
        messages,
    }))
}

async fn live_row(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    id: &ClaimId,
    now: Timestamp,
) -> Result<Option<(i64, Timestamp)>, StoreError> {
    let row = sqlx::query(
        "SELECT ttl, updated_at FROM claims
         WHERE id = $1 AND project = $2 AND queue = $3 AND expires_at > $4",
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
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    id: &ClaimId,
    now: Timestamp,
) -> Result<Option<ClaimView>, StoreError> {
    let Some(row) = live_row(conn, project, queue, id, now).await? else {
        return Ok(None);
    };
    let held = messages::claimed_by(conn, id, now).await?;
    Ok(ClaimView::of(id, row, held))
}
