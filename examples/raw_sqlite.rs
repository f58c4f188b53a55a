//! The storage side's raw limit: how fast this machine's SQLite, through the same driver
//! (sqlx) and settings Cairn uses (WAL, `synchronous=FULL`), inserts the rows of posted
//! messages — 1 KiB bodies, 10 per multi-row statement, `--posts-per-commit` statements per
//! transaction (what group commit gathers) — with no event log, no projections and no HTTP.
//! With `--all-rows`, each post also writes what Cairn writes besides the messages: the
//! event (its JSON payload holds the bodies again), the history index rows and the queue's
//! marker.
//! Cairn's producer figures are set against this in `docs/benchmarks.md`.
//!
//! `cargo run --release --example raw_sqlite -- [--seconds 10] [--posts-per-commit 16] [--all-rows]`

use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, QueryBuilder};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let seconds = arg("--seconds", 10);
    let per_commit = arg("--posts-per-commit", 16).max(1);
    let all_rows = std::env::args().any(|a| a == "--all-rows");
    let dir = tempfile::tempdir()?;
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.path().join("raw.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .disable_statement_logging()
        .connect()
        .await?;
    for schema in [
        include_str!("../migrations/sqlite/0001_initial.sql"),
        include_str!("../migrations/sqlite/0003_history.sql"),
    ] {
        sqlx::raw_sql(schema).execute(&mut conn).await?;
    }
    sqlx::query("INSERT INTO queues VALUES ('raw', 'q', '{}', 0, 1)")
        .execute(&mut conn)
        .await?;
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(1010));
    let started = Instant::now();
    let payload = format!("{{\"messages\":[{}]}}", [body.as_str(); 10].join(","));
    let (mut rows, mut commits, mut marker, mut seq) = (0u64, 0u64, 0i64, 0i64);
    while started.elapsed() < Duration::from_secs(seconds) {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await?;
        for _ in 0..per_commit {
            let mut insert = QueryBuilder::new(
                "INSERT INTO messages (project, queue, marker, id, body, ttl, created_at, \
                 expires_at, delay_until, client_id) ",
            );
            let ids: Vec<String> = (0..10).map(|_| uuid::Uuid::now_v7().to_string()).collect();
            insert.push_values(&ids, |mut row, id| {
                marker += 1;
                row.push_bind("raw")
                    .push_bind("q")
                    .push_bind(marker)
                    .push_bind(id)
                    .push_bind(&body)
                    .push_bind(3600)
                    .push_bind(0)
                    .push_bind(3_600_000)
                    .push_bind(0)
                    .push_bind("client");
            });
            insert.build().execute(&mut conn).await?;
            rows += 10;
            if all_rows {
                seq += 1;
                sqlx::query(
                    "INSERT INTO events (seq, recorded_at, project, queue, kind, version, \
                     payload) VALUES (?1, 0, 'raw', 'q', 'MessagesPosted', 1, ?2)",
                )
                .bind(seq)
                .bind(&payload)
                .execute(&mut conn)
                .await?;
                let mut index = QueryBuilder::new("INSERT INTO message_events (message_id, seq) ");
                index.push_values(&ids, |mut row, id| {
                    row.push_bind(id).push_bind(seq);
                });
                index.build().execute(&mut conn).await?;
                sqlx::query(
                    "UPDATE queues SET next_marker = ?1 WHERE project = 'raw' AND name = 'q'",
                )
                .bind(marker + 1)
                .execute(&mut conn)
                .await?;
            }
        }
        sqlx::query("COMMIT").execute(&mut conn).await?;
        commits += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "raw SQLite{}: {rows} messages in {secs:.2} s = {:.0} messages/s ({per_commit} posts \
         of 10 per commit, {:.0} commits/s)",
        if all_rows { " (all rows)" } else { "" },
        rows as f64 / secs,
        commits as f64 / secs
    );
    Ok(())
}
