//! The `claims` table: the queries that serve reads and decisions. A claim is live while
//! `expires_at` is in the future and it still holds at least one unexpired message.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::StoreError;
use crate::events::{ClaimRenewed, Envelope, MessagesClaimed};
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, Timestamp};
use crate::projections::fold::Step;
use crate::projections::messages::sqlite as messages;
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

/// Fold step: a new claim's row.
pub fn insert(conn: &Connection, env: &Envelope, e: &MessagesClaimed) -> Step {
    conn.prepare_cached(
        "INSERT INTO claims (id, project, queue, ttl, grace, updated_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        e.claim_id.as_str(),
        env.project.as_str(),
        env.queue.as_str(),
        e.ttl,
        e.grace,
        env.at.0,
        e.expires_at.0
    ])?;
    Ok(())
}

/// Fold step: a renewed claim's new lifetime.
pub fn renew(conn: &Connection, e: &ClaimRenewed, at: Timestamp) -> Step {
    conn.prepare_cached(
        "UPDATE claims SET ttl = ?2, grace = ?3, updated_at = ?4, expires_at = ?5 WHERE id = ?1",
    )?
    .execute(params![
        e.claim_id.as_str(),
        e.ttl,
        e.grace,
        at.0,
        e.expires_at.0
    ])?;
    Ok(())
}

/// Fold step: a claim released or expired goes.
pub fn delete(conn: &Connection, claim_id: &ClaimId) -> Step {
    conn.prepare_cached("DELETE FROM claims WHERE id = ?1")?
        .execute([claim_id.as_str()])?;
    Ok(())
}
