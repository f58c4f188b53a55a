//! The `claims` table: the queries that serve reads and decisions. A claim is live while
//! `expires_at` is in the future and it still holds at least one unexpired message.

use rusqlite::{params, Connection, OptionalExtension};

use super::messages;
use crate::error::StoreError;
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, Timestamp};
use crate::projections::{ClaimState, ClaimView};

/// The `(ttl, updated_at)` of a claim row that has not expired.
fn live_row(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    id: &ClaimId,
    now: Timestamp,
) -> Result<Option<(i64, Timestamp)>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT ttl, updated_at FROM claims
             WHERE id = ?1 AND project = ?2 AND queue = ?3 AND expires_at > ?4",
        )?
        .query_row(
            params![id.as_str(), project.as_str(), queue.as_str(), now.0],
            |r| Ok((r.get(0)?, Timestamp(r.get(1)?))),
        )
        .optional()?)
}

/// A live claim and its unexpired messages; `None` if expired, unknown or empty.
pub fn get(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    id: &ClaimId,
    now: Timestamp,
) -> Result<Option<ClaimView>, StoreError> {
    let Some(row) = live_row(conn, project, queue, id, now)? else {
        return Ok(None);
    };
    Ok(ClaimView::of(id, row, messages::claimed_by(conn, id, now)?))
}

/// A live claim with its messages' expiry instants, as a renewal needs it.
pub fn live_state(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    id: &ClaimId,
    now: Timestamp,
) -> Result<Option<ClaimState>, StoreError> {
    if live_row(conn, project, queue, id, now)?.is_none() {
        return Ok(None);
    }
    let mut select = conn.prepare_cached(
        "SELECT id, expires_at FROM messages WHERE claim_id = ?1 AND expires_at > ?2
         ORDER BY marker",
    )?;
    let rows = select.query_map(params![id.as_str(), now.0], |r| {
        Ok((MessageId::from_stored(r.get(0)?), Timestamp(r.get(1)?)))
    })?;
    Ok(Some(ClaimState {
        id: id.clone(),
        messages: rows.collect::<Result<_, _>>()?,
    }))
}

/// Whether a claim row exists for this queue (live or not yet swept).
pub fn exists(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    id: &ClaimId,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM claims WHERE id = ?1 AND project = ?2 AND queue = ?3")?
        .query_row(
            params![id.as_str(), project.as_str(), queue.as_str()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}
