//! The SQLite event log: append-only, one row per event, positioned by `seq`.

use sqlx::SqliteConnection;

use crate::error::StoreError;
use crate::events::{Envelope, SCHEMA_VERSION};

/// Appends one event at its (pre-assigned) position.
pub async fn append(conn: &mut SqliteConnection, env: &Envelope) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO events (seq, recorded_at, project, queue, kind, version, client_id,
                             request_id, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .bind(env.seq)
    .bind(env.at.0)
    .bind(env.project.as_str())
    .bind(env.queue.as_str())
    .bind(env.event.kind())
    .bind(SCHEMA_VERSION)
    .bind(env.client_id.as_ref().map(|c| c.as_str()))
    .bind(env.request_id.as_deref())
    .bind(serde_json::to_string(&env.event)?)
    .execute(conn)
    .await?;
    Ok(())
}

/// Position of the last event (0 for an empty log).
pub async fn last_seq(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events")
        .fetch_one(conn)
        .await?;
    Ok(seq.unwrap_or(0))
}
