//! The PostgreSQL event log: append-only, one row per event, positioned by `seq`; appends,
//! and the reads of the feed, of message histories and of replay.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, QueryBuilder, Row};

use crate::error::StoreError;
use crate::events::{Envelope, Event, EventFilter, SCHEMA_VERSION};
use crate::model::{ClientId, ProjectId, QueueName, Timestamp};

/// Rows per multi-row append (nine parameters each, well under PostgreSQL's limit).
const ROWS_PER_APPEND: usize = 500;

/// Appends events at their (pre-assigned) positions.
pub async fn append(conn: &mut PgConnection, events: &[Envelope]) -> Result<(), StoreError> {
    for chunk in events.chunks(ROWS_PER_APPEND) {
        let payloads = chunk
            .iter()
            .map(|env| serde_json::to_string(&env.event))
            .collect::<Result<Vec<_>, _>>()?;
        let mut insert = QueryBuilder::new(
            "INSERT INTO events (seq, recorded_at, project, queue, kind, version, client_id,
                                 request_id, payload) ",
        );
        insert.push_values(chunk.iter().zip(payloads), |mut row, (env, payload)| {
            row.push_bind(env.seq)
                .push_bind(env.at.0)
                .push_bind(env.project.as_str())
                .push_bind(env.queue.as_str())
                .push_bind(env.event.kind())
                .push_bind(SCHEMA_VERSION)
                .push_bind(env.client_id.as_ref().map(|c| c.as_str()))
                .push_bind(env.request_id.as_deref())
                .push_bind(payload);
        });
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Position of the last event (0 for an empty log).
pub async fn last_seq(conn: &mut PgConnection) -> Result<i64, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events")
        .fetch_one(conn)
        .await?;
    Ok(seq.unwrap_or(0))
}

const COLUMNS: &str =
    "seq, recorded_at, project, queue, kind, version, client_id, request_id, payload";

/// Decodes a row of `COLUMNS` (upcasting older payload versions would happen here).
fn envelope(row: &PgRow) -> Result<Envelope, StoreError> {
    let project: String = row.try_get(2)?;
    let kind: String = row.try_get(4)?;
    let payload: String = row.try_get(8)?;
    let version: i64 = row.try_get(5)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "event schema version {version} is newer than this build ({SCHEMA_VERSION})"
        )));
    }
    Ok(Envelope {
        seq: row.try_get(0)?,
        at: Timestamp(row.try_get(1)?),
        project: ProjectId::from_stored(project),
        queue: QueueName::from_stored(row.try_get(3)?),
        client_id: row
            .try_get::<Option<String>, _>(6)?
            .map(ClientId::from_stored),
        request_id: row.try_get(7)?,
        event: Event::from_stored(&kind, &payload)?,
    })
}

/// A page of one project's events, in log order, matching the filter.
pub async fn list(
    conn: &mut PgConnection,
    project: &ProjectId,
    filter: &EventFilter,
) -> Result<Vec<Envelope>, StoreError> {
    let kinds = filter.kinds.as_ref().map(|k| format!(",{},", k.join(",")));
    let sql = format!(
        "SELECT {COLUMNS} FROM events
         WHERE project = $1 AND seq > $2
           AND ($3 IS NULL OR queue = $3)
           AND ($4 IS NULL OR strpos($4, ',' || kind || ',') > 0)
           AND ($5 IS NULL OR recorded_at >= $5)
           AND ($6 IS NULL OR recorded_at < $6)
         ORDER BY seq LIMIT $7"
    );
    let rows = sqlx::query(&sql)
        .bind(project.as_str())
        .bind(filter.after)
        .bind(filter.queue.as_ref().map(|q| q.as_str()))
        .bind(kinds)
        .bind(filter.since.map(|t| t.0))
        .bind(filter.until.map(|t| t.0))
        .bind(filter.limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(envelope).collect()
}

/// The events at the given positions that belong to `project`, in order.
pub async fn at_positions(
    conn: &mut PgConnection,
    project: &ProjectId,
    seqs: &[i64],
) -> Result<Vec<Envelope>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM events WHERE seq = ANY($1) AND project = $2 ORDER BY seq");
    let rows = sqlx::query(&sql)
        .bind(seqs)
        .bind(project.as_str())
        .fetch_all(conn)
        .await?;
    rows.iter().map(envelope).collect()
}

/// Up to `limit` events of every project after `after` (and up to `until`, if given), for
/// replay.
pub async fn range(
    conn: &mut PgConnection,
    after: i64,
    until: Option<i64>,
    limit: i64,
) -> Result<Vec<Envelope>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3");
    let rows = sqlx::query(&sql)
        .bind(after)
        .bind(until.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(envelope).collect()
}
