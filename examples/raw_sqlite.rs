//! The storage side's raw limit: how fast this machine's SQLite, with the settings Cairn's
//! writer uses (a synchronous connection, WAL, `synchronous=FULL`, prepared statements),
//! inserts the rows of posted messages — 1 KiB bodies, 10 per multi-row statement,
//! `--posts-per-commit` posts per transaction (what group commit gathers) — with no event
//! log, no projections and no HTTP. With `--all-rows`, each post also writes what Cairn
//! writes besides the messages: the event (its JSON payload holds the bodies again), the
//! history index rows and the queue's next marker. Cairn's producer figures are set against
//! this in `docs/benchmarks.md`.
//!
//! With `--checkpointer`, the connection is the writer's own (`connect_writer`: its
//! pragmas and its automatic checkpoint threshold) and Cairn's checkpointer thread copies
//! the log into the database, and the loop starts the log over between commits when the
//! checkpointer says so, as in the server; without it, SQLite checkpoints inside the
//! commits every 1,000 pages. With `--body-once` (and `--all-rows`), message rows keep no
//! body but point at their event, as Cairn's rows do (`projections::sqlite::bodies`);
//! without it, each row holds its body as well, as Cairn's did before.
//!
//! `cargo run --release --example raw_sqlite -- [--seconds 10] [--posts-per-commit 16]
//! [--all-rows] [--checkpointer] [--body-once]`

use std::time::{Duration, Instant};

use cairn::schema::SQLITE as MIGRATIONS;
use cairn::store::sqlite::{connect_writer, Checkpointer};
use rusqlite::{params, params_from_iter, Connection};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// What a run writes, and for how long.
#[derive(Clone, Copy)]
struct Options {
    duration: Duration,
    per_commit: u64,
    all_rows: bool,
    with_checkpointer: bool,
    body_once: bool,
}

fn main() -> anyhow::Result<()> {
    let flag = |name: &str| std::env::args().any(|a| a == name);
    let o = Options {
        duration: Duration::from_secs(arg("--seconds", 10)),
        per_commit: arg("--posts-per-commit", 16).max(1),
        all_rows: flag("--all-rows"),
        with_checkpointer: flag("--checkpointer"),
        body_once: flag("--body-once"),
    };
    let (rows, commits, secs) = run(&o)?;
    println!(
        "raw SQLite{}{}{}: {rows} messages in {secs:.2} s = {:.0} messages/s ({} posts \
         of 10 per commit, {:.0} commits/s)",
        if o.all_rows { " (all rows)" } else { "" },
        if o.with_checkpointer {
            " (checkpointer thread)"
        } else {
            ""
        },
        if o.body_once { " (bodies once)" } else { "" },
        rows as f64 / secs,
        o.per_commit,
        commits as f64 / secs
    );
    Ok(())
}

/// Writes posts for the run's duration in a fresh database: `(messages, commits, seconds)`.
fn run(o: &Options) -> anyhow::Result<(u64, u64, f64)> {
    let Options {
        duration,
        per_commit,
        all_rows,
        with_checkpointer,
        body_once,
    } = *o;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("raw.db");
    let conn = if with_checkpointer {
        connect_writer(&path, true)?
    } else {
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn
    };
    for (_, _, sql) in MIGRATIONS {
        conn.execute_batch(sql)?;
    }
    conn.execute("INSERT INTO queues VALUES ('raw', 'q', '{}', 0, 1)", [])?;
    let checkpointer = if with_checkpointer {
        Some(Checkpointer::start(&path, true, Default::default())?)
    } else {
        None
    };
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(1010));
    let row_body = (!body_once).then(|| body.clone());
    let payload = format!("{{\"messages\":[{}]}}", [body.as_str(); 10].join(","));
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let insert_messages = format!(
        "INSERT INTO messages (project, queue, marker, id, body, ttl, created_at, expires_at, \
         delay_until, client_id, post_seq, post_index) VALUES {}",
        [row; 10].join(", ")
    );
    let insert_history = format!(
        "INSERT INTO message_history (message_id, seqs, last_seq) VALUES {}",
        ["(?, ?, ?)"; 10].join(", ")
    );
    let started = Instant::now();
    let (mut rows, mut commits, mut marker, mut seq) = (0u64, 0u64, 0i64, 0i64);
    while started.elapsed() < duration {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        for _ in 0..per_commit {
            let ids: Vec<String> = (0..10).map(|_| uuid::Uuid::now_v7().to_string()).collect();
            let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(120);
            seq += 1;
            for (index, id) in (0i64..).zip(&ids) {
                marker += 1;
                let post = body_once.then_some((seq, index));
                values.extend([
                    "raw".to_owned().into(),
                    "q".to_owned().into(),
                    marker.into(),
                    id.clone().into(),
                    row_body.clone().into(),
                    3600i64.into(),
                    0i64.into(),
                    3_600_000i64.into(),
                    0i64.into(),
                    "client".to_owned().into(),
                    post.map(|(seq, _)| seq).into(),
                    post.map(|(_, index)| index).into(),
                ]);
            }
            conn.prepare_cached(&insert_messages)?
                .execute(params_from_iter(values))?;
            rows += 10;
            if all_rows {
                conn.prepare_cached(
                    "INSERT INTO events (seq, recorded_at, project, queue, kind, version, \
                     payload) VALUES (?1, 0, 'raw', 'q', 'MessagesPosted', 1, ?2)",
                )?
                .execute(params![seq, payload])?;
                let index: Vec<rusqlite::types::Value> = ids
                    .iter()
                    .flat_map(|id| [id.clone().into(), seq.to_string().into(), seq.into()])
                    .collect();
                conn.prepare_cached(&insert_history)?
                    .execute(params_from_iter(index))?;
                conn.prepare_cached(
                    "UPDATE queues SET next_marker = ?1 WHERE project = 'raw' AND name = 'q'",
                )?
                .execute([marker + 1])?;
            }
        }
        conn.execute_batch("COMMIT")?;
        commits += 1;
        if let Some(checkpointer) = &checkpointer {
            checkpointer.restart_if_due(&conn)?;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    drop(checkpointer);
    Ok((rows, commits, secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layout the loop writes is accepted by the server's current schema (the loop
    /// builds it from the same migrations), so the floors stay measurable.
    #[test]
    fn every_layout_writes_under_the_current_schema() {
        for bits in 0..8u8 {
            let o = Options {
                duration: Duration::from_millis(100),
                per_commit: 4,
                all_rows: bits & 1 != 0,
                with_checkpointer: bits & 2 != 0,
                body_once: bits & 4 != 0,
            };
            let (rows, commits, _) = run(&o).unwrap();
            assert!(
                rows >= 40 && commits >= 1,
                "{bits:03b}: {rows} rows, {commits} commits"
            );
        }
    }
}
