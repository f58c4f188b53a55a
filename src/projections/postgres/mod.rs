//! What the PostgreSQL read models share (the same tables as on SQLite, in PostgreSQL's
//! dialect): `fold.rs` wires the steps of each read model (`projections::queues::postgres`,
//! …) to the fold's rules (run by the writer inside the append transaction, so reads right
//! after a `201` see the change), `decide_reads.rs` its queries to decisions; and the
//! checkpoints and helpers every table uses.

mod decide_reads;
mod fold;

pub use fold::apply;

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::error::StoreError;
use crate::model::{ProjectId, QueueName};

/// Name under which the inline projections record the log position they reflect.
pub const CHECKPOINT: &str = "inline";

/// Moves a catch-up consumer's checkpoint (a `log_meta` key, e.g. `notifier`) forward to
/// `seq`; never backward. Not a read model: replay leaves it alone.
pub async fn advance_checkpoint(
    conn: &mut PgConnection,
    key: &str,
    seq: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO log_meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = GREATEST(log_meta.value, excluded.value)",
    )
    .bind(key)
    .bind(seq)
    .execute(conn)
    .await?;
    Ok(())
}

/// A catch-up consumer's checkpoint (0 if it never recorded one).
pub async fn read_checkpoint(conn: &mut PgConnection, key: &str) -> Result<i64, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT value FROM log_meta WHERE key = $1")
        .bind(key)
        .fetch_optional(conn)
        .await?;
    Ok(seq.unwrap_or(0))
}

/// Records that the read models reflect the log up to `seq`.
pub async fn checkpoint(conn: &mut PgConnection, seq: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (name, seq) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
    )
    .bind(CHECKPOINT)
    .bind(seq)
    .execute(conn)
    .await?;
    Ok(())
}

/// Decodes rows of `(project, queue, id)`, as the expiry queries return them.
pub fn scoped_ids<T>(
    rows: &[PgRow],
    id: impl Fn(String) -> T,
) -> Result<Vec<(ProjectId, QueueName, T)>, StoreError> {
    rows.iter()
        .map(|r| {
            let project: String = r.try_get(0)?;
            let project = ProjectId::from_stored(project);
            Ok((
                project,
                QueueName::from_stored(r.try_get(1)?),
                id(r.try_get(2)?),
            ))
        })
        .collect()
}

/// Whether `table` (a read-model table name, never input) holds any row of the queue.
pub async fn has_rows(
    conn: &mut PgConnection,
    table: &str,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<bool, StoreError> {
    let sql = format!("SELECT 1::BIGINT FROM {table} WHERE project = $1 AND queue = $2 LIMIT 1");
    let found: Option<i64> = sqlx::query_scalar(&sql)
        .bind(project.as_str())
        .bind(queue.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// Rows of `table` (a read-model table name, never input) whose `expires_at` has passed,
/// oldest expiry first, as `(project, queue, id)`.
pub async fn expired_ids<T>(
    conn: &mut PgConnection,
    table: &str,
    now: crate::model::Timestamp,
    limit: i64,
    id: impl Fn(String) -> T,
) -> Result<Vec<(ProjectId, QueueName, T)>, StoreError> {
    let sql = format!(
        "SELECT project, queue, id FROM {table} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(now.0)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    scoped_ids(&rows, id)
}

/// Deletes every row of the queue from `table` (a read-model table name, never input).
pub async fn delete_queue_rows(
    conn: &mut PgConnection,
    table: &str,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<(), StoreError> {
    let sql = format!("DELETE FROM {table} WHERE project = $1 AND queue = $2");
    sqlx::query(&sql)
        .bind(project.as_str())
        .bind(queue.as_str())
        .execute(conn)
        .await?;
    Ok(())
}
