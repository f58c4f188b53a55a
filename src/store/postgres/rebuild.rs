//! Rebuilding PostgreSQL read models from the log, in place or as a verification. Both run
//! in one transaction: in place under the log lock (writers on every node wait, then carry
//! on), verification in a scratch schema inside a read-only snapshot that is rolled back,
//! so it leaves nothing behind and may run while nodes serve.

use std::time::Instant;

use sqlx::{Connection, PgConnection, Row};

use super::{log, writer::LOG_LOCK};
use crate::error::StoreError;
use crate::projections::postgres as views;
use crate::schema::POSTGRES as MIGRATIONS;
use crate::store::sqlite::rebuild::{Divergence, Summary};
use crate::store::Progress;
use crate::store::StoreOptions;

/// The read-model tables, each with the columns that identify a row (for reports). The
/// history index keeps one row per (message, event) here, unlike SQLite's one per message.
const READ_MODELS: [(&str, &str); 7] = [
    ("queues", "project || '/' || name"),
    ("messages", "project || '/' || queue || '/' || id"),
    ("claims", "id"),
    ("subscriptions", "id"),
    ("catalogue", "kind || '/' || project || '/' || name"),
    ("message_events", "message_id || '@' || seq"),
    ("projection_checkpoints", "name"),
];

/// Events read per query while rebuilding.
const CHUNK: i64 = 5_000;

async fn connect(url: &str) -> Result<PgConnection, StoreError> {
    let options = super::connect_options(url, &StoreOptions::default())?
        .options([("statement_timeout", "0")]);
    Ok(PgConnection::connect_with(&options).await?)
}

async fn count(conn: &mut PgConnection, last: i64) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE seq <= $1")
        .bind(last)
        .fetch_one(conn)
        .await?;
    Ok(n as u64)
}

/// Folds the log up to `last` into the read models that `target` (a schema name, or `None`
/// for the live one) resolves to, reading the log from `live_schema`.
async fn fold(
    conn: &mut PgConnection,
    live_schema: &str,
    target: &str,
    last: i64,
    progress: &mut dyn Progress,
) -> Result<u64, StoreError> {
    let mut after = 0;
    let mut folded = 0;
    loop {
        set_path(conn, live_schema).await?;
        let chunk = log::range(conn, after, Some(last), CHUNK).await?;
        let Some(tail) = chunk.last() else {
            break;
        };
        after = tail.seq;
        set_path(conn, target).await?;
        for env in &chunk {
            views::apply(conn, env).await?;
        }
        views::checkpoint(conn, after).await?;
        folded += chunk.len() as u64;
        progress.done(chunk.len() as u64);
    }
    set_path(conn, live_schema).await?;
    Ok(folded)
}

async fn set_path(conn: &mut PgConnection, schema: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(quote(schema))
        .execute(conn)
        .await?;
    Ok(())
}

/// A schema name as a quoted identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Rebuilds the read models of the database at `url` from its whole log, under the log lock.
pub async fn in_place(url: &str, progress: &mut dyn Progress) -> Result<Summary, StoreError> {
    let started = Instant::now();
    let mut conn = connect(url).await?;
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut conn)
        .await?;
    sqlx::query("BEGIN").execute(&mut conn).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOG_LOCK)
        .execute(&mut conn)
        .await?;
    let last = log::last_seq(&mut conn).await?;
    progress.total(count(&mut conn, last).await?);
    for (table, _) in READ_MODELS {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut conn)
            .await?;
    }
    let events = fold(&mut conn, &schema, &schema, last, progress).await?;
    sqlx::query("COMMIT").execute(&mut conn).await?;
    Ok(Summary {
        events,
        last_seq: last,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Replays the log into a scratch schema and compares every read model with the live one,
/// within one snapshot of the database; the scratch schema is rolled back with it.
pub async fn verify(
    url: &str,
    progress: &mut dyn Progress,
) -> Result<(Summary, Vec<Divergence>), StoreError> {
    let started = Instant::now();
    let mut conn = connect(url).await?;
    let live: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut conn)
        .await?;
    let scratch = format!("cairn_verify_{}", uuid::Uuid::new_v4().simple());
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut conn)
        .await?;
    let last: i64 =
        sqlx::query_scalar::<_, i64>("SELECT seq FROM projection_checkpoints WHERE name = $1")
            .bind(views::CHECKPOINT)
            .fetch_optional(&mut conn)
            .await?
            .unwrap_or(0);
    progress.total(count(&mut conn, last).await?);
    sqlx::query(&format!("CREATE SCHEMA {}", quote(&scratch)))
        .execute(&mut conn)
        .await?;
    set_path(&mut conn, &scratch).await?;
    for (_, _, sql) in MIGRATIONS {
        sqlx::raw_sql(sql).execute(&mut conn).await?;
    }
    let events = fold(&mut conn, &live, &scratch, last, progress).await?;
    let mut divergences = Vec::new();
    for (table, key) in READ_MODELS {
        for (side, left, right) in [("live", &live, &scratch), ("replayed", &scratch, &live)] {
            let sql = format!(
                "SELECT ({key})::text FROM (SELECT * FROM {l}.{table} EXCEPT SELECT * FROM {r}.{table}) d LIMIT 50",
                l = quote(left),
                r = quote(right),
            );
            for row in sqlx::query(&sql).fetch_all(&mut conn).await? {
                divergences.push(Divergence {
                    table,
                    key: row.try_get::<String, _>(0).unwrap_or_default(),
                    side,
                });
            }
        }
    }
    sqlx::query("ROLLBACK").execute(&mut conn).await?;
    let summary = Summary {
        events,
        last_seq: last,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((summary, divergences))
}
