//! The `messages` table: the queries that serve reads and decisions. A message's claim
//! counts only while `claim_expires` is in the future; expired messages are filtered by
//! every read.

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Params, Row};

use crate::error::StoreError;
use crate::events::{ClaimRenewed, Envelope, MessageDeadLettered, MessagesClaimed, PostedMessage};
use crate::model::{ClaimId, ClientId, MessageId, ProjectId, QueueName, Timestamp};
use crate::projections::fold::{client_of, Step};
use crate::projections::sqlite::bodies::{Bodies, COLUMNS as BODY_COLUMNS, JOIN};
use crate::projections::sqlite::delete_rows;
use crate::projections::sqlite::rows::insert_rows;
use crate::projections::{HeldBy, MessageFilter, MessageView, QueueStats};

/// Rows per multi-row statement (well under SQLite's limit of bound parameters).
pub const ROWS_PER_STATEMENT: usize = 200;

/// The message columns, then the body's ([`BODY_COLUMNS`], from 11 on).
const COLUMNS: &str = "m.id, m.marker, m.ttl, m.created_at, m.expires_at, m.delay_until, \
                       m.client_id, m.checksum, m.claim_id, m.claim_expires, m.claim_count";

fn from_row(row: &Row<'_>, now: Timestamp, bodies: &mut Bodies) -> Result<MessageView, StoreError> {
    let claim_expires: Option<i64> = row.get(9)?;
    let live = claim_expires.is_some_and(|e| e > now.0);
    let claim_id: Option<String> = row.get(8)?;
    let payload = row
        .get_ref(14)?
        .as_str_or_null()
        .map_err(rusqlite::Error::from)?;
    Ok(MessageView {
        id: MessageId::from_stored(row.get(0)?),
        marker: row.get(1)?,
        body: bodies.body(row.get(11)?, row.get(12)?, row.get(13)?, payload)?,
        ttl: row.get(2)?,
        created_at: Timestamp(row.get(3)?),
        expires_at: Timestamp(row.get(4)?),
        delay_until: Timestamp(row.get(5)?),
        client_id: ClientId::from_stored(row.get(6)?),
        checksum: row.get(7)?,
        claim: claim_id.filter(|_| live).map(ClaimId::from_stored),
        claim_count: row.get(10)?,
    })
}

/// The messages a query of [`COLUMNS`] and [`BODY_COLUMNS`] returns, their bodies resolved.
fn select(
    conn: &Connection,
    sql: &str,
    args: impl Params,
    now: Timestamp,
) -> Result<Vec<MessageView>, StoreError> {
    let mut select = conn.prepare_cached(sql)?;
    let mut rows = select.query(args)?;
    let (mut out, mut bodies) = (Vec::new(), Bodies::default());
    while let Some(row) = rows.next()? {
        out.push(from_row(row, now, &mut bodies)?);
    }
    Ok(out)
}

/// A page of a listing (reference §5.2), in posting order.
pub fn list(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    filter: &MessageFilter,
    now: Timestamp,
) -> Result<Vec<MessageView>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, {BODY_COLUMNS} FROM {JOIN}
         WHERE m.project = ?1 AND m.queue = ?2 AND m.marker > ?3 AND m.expires_at > ?4
           AND (?5 IS NULL OR m.client_id <> ?5)
           AND (?6 OR m.claim_expires IS NULL OR m.claim_expires <= ?4)
           AND (?7 OR m.delay_until <= ?4)
         ORDER BY m.marker LIMIT ?8"
    );
    let args = params![
        project.as_str(),
        queue.as_str(),
        filter.marker.unwrap_or(0),
        now.0,
        filter.hide_client.as_ref().map(|c| c.as_str()),
        filter.include_claimed,
        filter.include_delayed,
        filter.limit
    ];
    select(conn, &sql, args, now)
}

/// The oldest messages a claim or pop may take: unexpired, unclaimed and not delayed.
pub fn available(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    limit: i64,
    now: Timestamp,
) -> Result<Vec<MessageView>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, {BODY_COLUMNS} FROM {JOIN}
         WHERE m.project = ?1 AND m.queue = ?2 AND m.expires_at > ?3
           AND (m.claim_expires IS NULL OR m.claim_expires <= ?3) AND m.delay_until <= ?3
         ORDER BY m.marker LIMIT ?4"
    );
    let args = params![project.as_str(), queue.as_str(), now.0, limit];
    select(conn, &sql, args, now)
}

/// The unexpired messages under a live claim, in posting order.
pub fn claimed_by(
    conn: &Connection,
    claim_id: &ClaimId,
    now: Timestamp,
) -> Result<Vec<MessageView>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, {BODY_COLUMNS} FROM {JOIN}
         WHERE m.claim_id = ?1 AND m.claim_expires > ?2 AND m.expires_at > ?2
         ORDER BY m.marker"
    );
    select(conn, &sql, params![claim_id.as_str(), now.0], now)
}

/// Unexpired messages by id, claimed and delayed ones included, in the order asked.
pub fn get_many(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    ids: &[MessageId],
    now: Timestamp,
) -> Result<Vec<MessageView>, StoreError> {
    let mut found = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        // The unary `+` keeps SQLite on the `id` index instead of scanning the whole queue.
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT {COLUMNS}, {BODY_COLUMNS} FROM {JOIN}
             WHERE +m.project = ? AND +m.queue = ? AND m.expires_at > ? AND m.id IN ({marks})"
        );
        let mut args: Vec<rusqlite::types::Value> = vec![
            project.as_str().to_owned().into(),
            queue.as_str().to_owned().into(),
            now.0.into(),
        ];
        args.extend(chunk.iter().map(|id| id.as_str().to_owned().into()));
        for m in select(conn, &sql, params_from_iter(args), now)? {
            found.insert(m.id.clone(), m);
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// The claim state of the given unexpired messages.
pub fn held_by(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    ids: &[MessageId],
    now: Timestamp,
) -> Result<Vec<(MessageId, HeldBy)>, StoreError> {
    let mut select = conn.prepare_cached(
        "SELECT claim_id, claim_expires FROM messages
         WHERE id = ?1 AND project = ?2 AND queue = ?3 AND expires_at > ?4",
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let found = select
            .query_row(
                params![id.as_str(), project.as_str(), queue.as_str(), now.0],
                |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, Option<i64>>(1)?)),
            )
            .optional()?;
        if let Some((claim, expires)) = found {
            let held = HeldBy {
                claim: claim.map(ClaimId::from_stored),
                live: expires.is_some_and(|e| e > now.0),
            };
            out.push((id.clone(), held));
        }
    }
    Ok(out)
}

/// How many unexpired messages a queue holds.
pub fn live_count(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    now: Timestamp,
) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE project = ?1 AND queue = ?2 AND expires_at > ?3",
        )?
        .query_row(params![project.as_str(), queue.as_str(), now.0], |r| {
            r.get(0)
        })?)
}

/// Message counts and the oldest/newest message of a queue.
pub fn stats(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    now: Timestamp,
) -> Result<QueueStats, StoreError> {
    let (total, claimed, min, max) = conn
        .prepare_cached(
            "SELECT COUNT(*),
                    COALESCE(SUM(claim_expires IS NOT NULL AND claim_expires > ?3), 0),
                    MIN(marker), MAX(marker)
             FROM messages WHERE project = ?1 AND queue = ?2 AND expires_at > ?3",
        )?
        .query_row(params![project.as_str(), queue.as_str(), now.0], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })?;
    let mut end = conn.prepare_cached(
        "SELECT id, created_at FROM messages WHERE project = ?1 AND queue = ?2 AND marker = ?3",
    )?;
    let mut ends = Vec::new();
    for marker in [min, max].into_iter().flatten() {
        ends.push(
            end.query_row(params![project.as_str(), queue.as_str(), marker], |r| {
                Ok((MessageId::from_stored(r.get(0)?), Timestamp(r.get(1)?)))
            })?,
        );
    }
    let mut ends = ends.into_iter();
    Ok(QueueStats {
        total,
        claimed,
        oldest: ends.next(),
        newest: ends.next(),
    })
}

/// (free, claimed) counts of unexpired messages over a whole project.
pub fn project_volume(
    conn: &Connection,
    project: &ProjectId,
    now: Timestamp,
) -> Result<(i64, i64), StoreError> {
    let sql = "SELECT COUNT(*), COALESCE(SUM(claim_expires IS NOT NULL AND claim_expires > ?2), 0)
               FROM messages WHERE project = ?1 AND expires_at > ?2";
    volume(conn, sql, params![project.as_str(), now.0])
}

/// (free, claimed) counts of unexpired messages in the whole store.
pub fn total_volume(conn: &Connection, now: Timestamp) -> Result<(i64, i64), StoreError> {
    let sql = "SELECT COUNT(*), COALESCE(SUM(claim_expires IS NOT NULL AND claim_expires > ?1), 0)
               FROM messages WHERE expires_at > ?1";
    volume(conn, sql, params![now.0])
}

/// (free, claimed) from a query of (total, claimed).
fn volume(conn: &Connection, sql: &str, args: impl Params) -> Result<(i64, i64), StoreError> {
    let (total, claimed): (i64, i64) = conn
        .prepare_cached(sql)?
        .query_row(args, |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((total - claimed, claimed))
}

/// Fold step: inserts posted messages, their bodies left in the posting event (see [`crate::projections::sqlite::bodies`]).
pub fn insert(conn: &Connection, env: &Envelope, messages: &[PostedMessage]) -> Step {
    let client_id = client_of(env);
    let indexed: Vec<(i64, &PostedMessage)> = (0..).zip(messages).collect();
    insert_rows(
        conn,
        "INSERT OR FAIL INTO messages (project, queue, marker, id, ttl, created_at, expires_at, \
         delay_until, client_id, checksum, post_seq, post_index) VALUES",
        12,
        "",
        &indexed,
        |p, (index, m)| {
            p.push(env.project.as_str())?;
            p.push(env.queue.as_str())?;
            p.push(m.marker)?;
            p.push(m.id.as_str())?;
            p.push(m.ttl)?;
            p.push(env.at.0)?;
            p.push(m.expires_at.0)?;
            p.push(m.delay_until.0)?;
            p.push(client_id)?;
            p.push(m.checksum.as_deref())?;
            p.push(env.seq)?;
            p.push(*index)
        },
    )
}

/// Fold step: a dead-lettered message moves to its new queue, unclaimed.
pub fn move_to(conn: &Connection, e: &MessageDeadLettered) -> Step {
    conn.prepare_cached(
        "UPDATE messages SET queue = ?2, marker = ?3, ttl = ?4, expires_at = ?5,
                claim_id = NULL, claim_expires = NULL, claim_count = 0
         WHERE id = ?1",
    )?
    .execute(params![
        e.id.as_str(),
        e.to_queue.as_str(),
        e.marker,
        e.ttl,
        e.expires_at.0
    ])?;
    Ok(())
}

/// Fold step: the claimed messages take the claim and the lifetimes it gave them.
pub fn claim(conn: &Connection, e: &MessagesClaimed) -> Step {
    let mut update = conn.prepare_cached(
        "UPDATE messages SET claim_id = ?2, claim_expires = ?3, claim_count = ?4,
                ttl = ?5, expires_at = ?6
         WHERE id = ?1",
    )?;
    for m in &e.messages {
        update.execute(params![
            m.id.as_str(),
            e.claim_id.as_str(),
            e.expires_at.0,
            m.claim_count,
            m.ttl,
            m.expires_at.0
        ])?;
    }
    Ok(())
}

/// Fold step: a renewed claim's messages take its new expiry, and the lifetimes it
/// extended.
pub fn renew_claim(conn: &Connection, e: &ClaimRenewed) -> Step {
    conn.prepare_cached("UPDATE OR FAIL messages SET claim_expires = ?2 WHERE claim_id = ?1")?
        .execute(params![e.claim_id.as_str(), e.expires_at.0])?;
    let mut extend =
        conn.prepare_cached("UPDATE messages SET ttl = ?2, expires_at = ?3 WHERE id = ?1")?;
    for m in &e.extended {
        extend.execute(params![m.id.as_str(), m.ttl, m.expires_at.0])?;
    }
    Ok(())
}

/// Fold step: the messages of a claim released or expired are free again.
pub fn unclaim(conn: &Connection, claim_id: &ClaimId) -> Step {
    conn.prepare_cached(
        "UPDATE OR FAIL messages SET claim_id = NULL, claim_expires = NULL WHERE claim_id = ?1",
    )?
    .execute([claim_id.as_str()])?;
    Ok(())
}

/// Fold step: messages deleted, popped or expired go.
pub fn delete_ids(conn: &Connection, ids: &[MessageId]) -> Step {
    delete_rows(conn, "messages", ids.iter().map(MessageId::as_str))
}
