//! The `messages` table: fold and queries. A message's claim counts only while
//! `claim_expires` is in the future; expired messages are filtered by every read.

use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, QueryBuilder, Row};

use crate::error::StoreError;
use crate::events::{ClaimRenewed, MessageDeadLettered, MessagesClaimed, PostedMessage};
use crate::model::{ClaimId, ClientId, MessageId, ProjectId, QueueName, Timestamp};
use crate::projections::{HeldBy, MessageFilter, MessageView, QueueStats};

/// Rows per multi-row statement (well under PostgreSQL's limit of bound parameters).
pub const ROWS_PER_STATEMENT: usize = 200;

const COLUMNS: &str = "id, marker, body, ttl, created_at, expires_at, delay_until, client_id, \
                       checksum, claim_id, claim_expires, claim_count";

fn from_row(row: &PgRow, now: Timestamp) -> Result<MessageView, StoreError> {
    let claim_id: Option<String> = row.try_get(9)?;
    let claim_expires: Option<i64> = row.try_get(10)?;
    let live = claim_expires.is_some_and(|e| e > now.0);
    let body: String = row.try_get(2)?;
    Ok(MessageView {
        id: MessageId::from_stored(row.try_get(0)?),
        marker: row.try_get(1)?,
        body: RawValue::from_string(body)?,
        ttl: row.try_get(3)?,
        created_at: Timestamp(row.try_get(4)?),
        expires_at: Timestamp(row.try_get(5)?),
        delay_until: Timestamp(row.try_get(6)?),
        client_id: ClientId::from_stored(row.try_get(7)?),
        checksum: row.try_get(8)?,
        claim: claim_id.filter(|_| live).map(ClaimId::from_stored),
        claim_count: row.try_get(11)?,
    })
}

pub async fn insert(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    client_id: &str,
    at: Timestamp,
    messages: &[PostedMessage],
) -> Result<(), StoreError> {
    // One multi-row statement per chunk: each statement is a round trip to the server.
    for chunk in messages.chunks(ROWS_PER_STATEMENT) {
        let bodies: Vec<String> = chunk.iter().map(|m| m.body.as_json().to_owned()).collect();
        let mut insert = QueryBuilder::new(
            "INSERT INTO messages (project, queue, marker, id, body, ttl, created_at, \
             expires_at, delay_until, client_id, checksum) ",
        );
        insert.push_values(chunk.iter().zip(bodies), |mut row, (m, body)| {
            row.push_bind(project.as_str())
                .push_bind(queue.as_str())
                .push_bind(m.marker)
                .push_bind(m.id.as_str())
                .push_bind(body)
                .push_bind(m.ttl)
                .push_bind(at.0)
                .push_bind(m.expires_at.0)
                .push_bind(m.delay_until.0)
                .push_bind(client_id)
                .push_bind(m.checksum.as_deref());
        });
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn delete_ids(conn: &mut PgConnection, ids: &[MessageId]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM messages WHERE id = ANY($1)")
        .bind(id_array(ids))
        .execute(conn)
        .await?;
    Ok(())
}

/// Ids as a text array, for `= ANY($n)` and `unnest`.
fn id_array(ids: &[MessageId]) -> Vec<&str> {
    ids.iter().map(|id| id.as_str()).collect()
}

pub async fn move_to(conn: &mut PgConnection, e: &MessageDeadLettered) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE messages SET queue = $2, marker = $3, ttl = $4, expires_at = $5,
                claim_id = NULL, claim_expires = NULL, claim_count = 0
         WHERE id = $1",
    )
    .bind(e.id.as_str())
    .bind(e.to_queue.as_str())
    .bind(e.marker)
    .bind(e.ttl)
    .bind(e.expires_at.0)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn claim(conn: &mut PgConnection, e: &MessagesClaimed) -> Result<(), StoreError> {
    let ids: Vec<&str> = e.messages.iter().map(|m| m.id.as_str()).collect();
    let counts: Vec<i64> = e.messages.iter().map(|m| m.claim_count).collect();
    let ttls: Vec<i64> = e.messages.iter().map(|m| m.ttl).collect();
    let expiries: Vec<i64> = e.messages.iter().map(|m| m.expires_at.0).collect();
    sqlx::query(
        "UPDATE messages AS m SET claim_id = $5, claim_expires = $6, claim_count = u.count,
                ttl = u.ttl, expires_at = u.expires_at
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
              AS u(id, count, ttl, expires_at)
         WHERE m.id = u.id",
    )
    .bind(ids)
    .bind(counts)
    .bind(ttls)
    .bind(expiries)
    .bind(e.claim_id.as_str())
    .bind(e.expires_at.0)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn renew_claim(conn: &mut PgConnection, e: &ClaimRenewed) -> Result<(), StoreError> {
    sqlx::query("UPDATE messages SET claim_expires = $2 WHERE claim_id = $1")
        .bind(e.claim_id.as_str())
        .bind(e.expires_at.0)
        .execute(&mut *conn)
        .await?;
    for m in &e.extended {
        sqlx::query("UPDATE messages SET ttl = $2, expires_at = $3 WHERE id = $1")
            .bind(m.id.as_str())
            .bind(m.ttl)
            .bind(m.expires_at.0)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn unclaim(conn: &mut PgConnection, claim_id: &ClaimId) -> Result<(), StoreError> {
    sqlx::query("UPDATE messages SET claim_id = NULL, claim_expires = NULL WHERE claim_id = $1")
        .bind(claim_id.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// A page of a listing (reference §5.2), in posting order.
pub async fn list(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    filter: &MessageFilter,
    now: Timestamp,
) -> Result<Vec<MessageView>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM messages
         WHERE project = $1 AND queue = $2 AND marker > $3 AND expires_at > $4
           AND ($5 IS NULL OR client_id <> $5)
           AND ($6 OR claim_expires IS NULL OR claim_expires <= $4)
           AND ($7 OR delay_until <= $4)
         ORDER BY marker LIMIT $8"
    );
    let rows = sqlx::query(&sql)
        .bind(project.as_str())
        .bind(queue.as_str())
        .bind(filter.marker.unwrap_or(0))
        .bind(now.0)
        .bind(filter.hide_client.as_ref().map(|c| c.as_str()))
        .bind(filter.include_claimed)
        .bind(filter.include_delayed)
        .bind(filter.limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| from_row(r, now)).collect()
}

/// The unexpired messages under a live claim, in posting order.
pub async fn claimed_by(
    conn: &mut PgConnection,
    claim_id: &ClaimId,
    now: Timestamp,
) -> Result<Vec<MessageView>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM messages
         WHERE claim_id = $1 AND claim_expires > $2 AND expires_at > $2 ORDER BY marker"
    );
    let rows = sqlx::query(&sql)
        .bind(claim_id.as_str())
        .bind(now.0)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| from_row(r, now)).collect()
}

/// The oldest messages that a claim or pop may take: unexpired, due, not under a live claim.
pub async fn available(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    limit: i64,
    now: Timestamp,
) -> Result<Vec<MessageView>, StoreError> {
    let filter = MessageFilter {
        marker: None,
        limit,
        hide_client: None,
        include_claimed: false,
        include_delayed: false,
    };
    list(conn, project, queue, &filter, now).await
}

/// Unexpired messages by id, claimed and delayed ones included, in the order asked.
pub async fn get_many(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    ids: &[MessageId],
    now: Timestamp,
) -> Result<Vec<MessageView>, StoreError> {
    // Only the unique index on `id` is worth using; `|| ''` keeps the planner, blind to the
    // array's size under a generic plan, from also scanning the queue's whole primary key.
    let sql = format!(
        "SELECT {COLUMNS} FROM messages
         WHERE id = ANY($1) AND project || '' = $2 AND queue || '' = $3 AND expires_at > $4"
    );
    let rows = sqlx::query(&sql)
        .bind(id_array(ids))
        .bind(project.as_str())
        .bind(queue.as_str())
        .bind(now.0)
        .fetch_all(conn)
        .await?;
    let mut found = rows
        .iter()
        .map(|r| from_row(r, now).map(|m| (m.id.clone(), m)))
        .collect::<Result<std::collections::HashMap<_, _>, StoreError>>()?;
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// The claim state of the given (unexpired) messages, for deletes, in the order asked.
pub async fn held_by(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    ids: &[MessageId],
    now: Timestamp,
) -> Result<Vec<(MessageId, HeldBy)>, StoreError> {
    // `|| ''`: as in `get_many`.
    let rows = sqlx::query(
        "SELECT id, claim_id, claim_expires FROM messages
         WHERE id = ANY($1) AND project || '' = $2 AND queue || '' = $3 AND expires_at > $4",
    )
    .bind(id_array(ids))
    .bind(project.as_str())
    .bind(queue.as_str())
    .bind(now.0)
    .fetch_all(conn)
    .await?;
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get(0)?;
        let claim: Option<String> = row.try_get(1)?;
        let expires: Option<i64> = row.try_get(2)?;
        let held = HeldBy {
            claim: claim.map(ClaimId::from_stored),
            live: expires.is_some_and(|e| e > now.0),
        };
        found.insert(id, held);
    }
    Ok(ids
        .iter()
        .filter_map(|id| found.remove(id.as_str()).map(|h| (id.clone(), h)))
        .collect())
}

/// How many unexpired messages a queue holds.
pub async fn live_count(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) FROM messages WHERE project = $1 AND queue = $2 AND expires_at > $3",
    )
    .bind(project.as_str())
    .bind(queue.as_str())
    .bind(now.0)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get(0)?)
}

/// Message counts and the oldest/newest message of a queue.
pub async fn stats(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    now: Timestamp,
) -> Result<QueueStats, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*),
                COUNT(*) FILTER (WHERE claim_expires > $3),
                MIN(marker), MAX(marker)
         FROM messages WHERE project = $1 AND queue = $2 AND expires_at > $3",
    )
    .bind(project.as_str())
    .bind(queue.as_str())
    .bind(now.0)
    .fetch_one(&mut *conn)
    .await?;
    let total: i64 = row.try_get(0)?;
    let claimed: i64 = row.try_get(1)?;
    let min: Option<i64> = row.try_get(2)?;
    let max: Option<i64> = row.try_get(3)?;
    let mut ends = Vec::new();
    for marker in [min, max].into_iter().flatten() {
        let row = sqlx::query(
            "SELECT id, created_at FROM messages WHERE project = $1 AND queue = $2 AND marker = $3",
        )
        .bind(project.as_str())
        .bind(queue.as_str())
        .bind(marker)
        .fetch_one(&mut *conn)
        .await?;
        ends.push((
            MessageId::from_stored(row.try_get(0)?),
            Timestamp(row.try_get(1)?),
        ));
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
pub async fn project_volume(
    conn: &mut PgConnection,
    project: &ProjectId,
    now: Timestamp,
) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE claim_expires > $2)
         FROM messages WHERE project = $1 AND expires_at > $2",
    )
    .bind(project.as_str())
    .bind(now.0)
    .fetch_one(conn)
    .await?;
    let total: i64 = row.try_get(0)?;
    let claimed: i64 = row.try_get(1)?;
    Ok((total - claimed, claimed))
}

/// (free, claimed) counts of unexpired messages in the whole store.
pub async fn total_volume(
    conn: &mut PgConnection,
    now: Timestamp,
) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE claim_expires > $1)
         FROM messages WHERE expires_at > $1",
    )
    .bind(now.0)
    .fetch_one(conn)
    .await?;
    let total: i64 = row.try_get(0)?;
    let claimed: i64 = row.try_get(1)?;
    Ok((total - claimed, claimed))
}
