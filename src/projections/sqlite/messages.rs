//! The `messages` table: the queries that serve reads. A message's claim counts only while
//! `claim_expires` is in the future; expired messages are filtered by every read.

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, SqliteConnection};

use crate::error::StoreError;
use crate::model::{ClaimId, ClientId, MessageId, ProjectId, QueueName, Timestamp};
use crate::projections::{MessageFilter, MessageView, QueueStats};

use super::bodies::{Bodies, COLUMNS as BODY_COLUMNS, JOIN};

/// Rows per multi-row statement (well under SQLite's limit of bound parameters).
pub const ROWS_PER_STATEMENT: usize = 200;

/// The message columns, then the body's ([`BODY_COLUMNS`], from 11 on).
const COLUMNS: &str = "m.id, m.marker, m.ttl, m.created_at, m.expires_at, m.delay_until, \
                       m.client_id, m.checksum, m.claim_id, m.claim_expires, m.claim_count";

fn from_row(
    row: &SqliteRow,
    now: Timestamp,
    bodies: &mut Bodies,
) -> Result<MessageView, StoreError> {
    let claim_id: Option<String> = row.try_get(8)?;
    let claim_expires: Option<i64> = row.try_get(9)?;
    let live = claim_expires.is_some_and(|e| e > now.0);
    Ok(MessageView {
        id: MessageId::from_stored(row.try_get(0)?),
        marker: row.try_get(1)?,
        body: bodies.body(
            row.try_get(11)?,
            row.try_get(12)?,
            row.try_get(13)?,
            row.try_get(14)?,
        )?,
        ttl: row.try_get(2)?,
        created_at: Timestamp(row.try_get(3)?),
        expires_at: Timestamp(row.try_get(4)?),
        delay_until: Timestamp(row.try_get(5)?),
        client_id: ClientId::from_stored(row.try_get(6)?),
        checksum: row.try_get(7)?,
        claim: claim_id.filter(|_| live).map(ClaimId::from_stored),
        claim_count: row.try_get(10)?,
    })
}

/// The messages of `rows`, their bodies resolved.
fn views(rows: &[SqliteRow], now: Timestamp) -> Result<Vec<MessageView>, StoreError> {
    let mut bodies = Bodies::default();
    rows.iter().map(|r| from_row(r, now, &mut bodies)).collect()
}

/// A page of a listing (reference §5.2), in posting order.
pub async fn list(
    conn: &mut SqliteConnection,
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
    views(&rows, now)
}

/// The unexpired messages under a live claim, in posting order.
pub async fn claimed_by(
    conn: &mut SqliteConnection,
    claim_id: &ClaimId,
    now: Timestamp,
) -> Result<Vec<MessageView>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, {BODY_COLUMNS} FROM {JOIN}
         WHERE m.claim_id = ?1 AND m.claim_expires > ?2 AND m.expires_at > ?2
         ORDER BY m.marker"
    );
    let rows = sqlx::query(&sql)
        .bind(claim_id.as_str())
        .bind(now.0)
        .fetch_all(conn)
        .await?;
    views(&rows, now)
}

/// Unexpired messages by id, claimed and delayed ones included, in the order asked.
pub async fn get_many(
    conn: &mut SqliteConnection,
    project: &ProjectId,
    queue: &QueueName,
    ids: &[MessageId],
    now: Timestamp,
) -> Result<Vec<MessageView>, StoreError> {
    let mut found = std::collections::HashMap::with_capacity(ids.len());
    let mut bodies = Bodies::default();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        // The unary `+` keeps SQLite on the `id` index instead of scanning the whole queue.
        let mut select = QueryBuilder::new(format!(
            "SELECT {COLUMNS}, {BODY_COLUMNS} FROM {JOIN} WHERE +m.project = "
        ));
        select
            .push_bind(project.as_str())
            .push(" AND +m.queue = ")
            .push_bind(queue.as_str())
            .push(" AND m.expires_at > ")
            .push_bind(now.0)
            .push(" AND m.id IN (");
        let mut list = select.separated(", ");
        for id in chunk {
            list.push_bind(id.as_str());
        }
        select.push(")");
        for row in select.build().fetch_all(&mut *conn).await? {
            let m = from_row(&row, now, &mut bodies)?;
            found.insert(m.id.clone(), m);
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// Message counts and the oldest/newest message of a queue.
pub async fn stats(
    conn: &mut SqliteConnection,
    project: &ProjectId,
    queue: &QueueName,
    now: Timestamp,
) -> Result<QueueStats, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*),
                COALESCE(SUM(claim_expires IS NOT NULL AND claim_expires > ?3), 0),
                MIN(marker), MAX(marker)
         FROM messages WHERE project = ?1 AND queue = ?2 AND expires_at > ?3",
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
            "SELECT id, created_at FROM messages WHERE project = ?1 AND queue = ?2 AND marker = ?3",
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
    conn: &mut SqliteConnection,
    project: &ProjectId,
    now: Timestamp,
) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*), COALESCE(SUM(claim_expires IS NOT NULL AND claim_expires > ?2), 0)
         FROM messages WHERE project = ?1 AND expires_at > ?2",
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
    conn: &mut SqliteConnection,
    now: Timestamp,
) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*), COALESCE(SUM(claim_expires IS NOT NULL AND claim_expires > ?1), 0)
         FROM messages WHERE expires_at > ?1",
    )
    .bind(now.0)
    .fetch_one(conn)
    .await?;
    let total: i64 = row.try_get(0)?;
    let claimed: i64 = row.try_get(1)?;
    Ok((total - claimed, claimed))
}
