//! The raw limit of a replay: how fast this machine's SQLite, with the settings `cairn
//! replay` uses (WAL, `synchronous=FULL`, a 256 MiB page cache, the checkpoint left to the
//! server), replaces a store's read models with the very rows a replay produces, with no
//! event read, decoded or folded — and how fast it reads the log alone (every column of
//! every event, nothing decoded). A replay in place does both, on two threads. The rows go
//! in two ways, in key order:
//! - copied by `INSERT … SELECT` from a prepared file: SQLite moves whole records between
//!   identical tables without decoding them, a floor no fold can reach;
//! - held in memory and inserted by multi-row statements with bound parameters, 500 rows a
//!   statement, as the replay's write-out does: the floor for any code that computes rows.
//!
//! Cairn's replay figures are set against these in `docs/benchmarks.md`.
//!
//! `cargo run --release --example raw_replay -- PATH/cairn.db [--runs 3]`
//!
//! The store keeps its content (its WAL is checkpointed first); each run works on a fresh copy
//! of it in a temporary directory.

use std::path::Path;
use std::time::Instant;

use rusqlite::config::DbConfig;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

/// Rows per multi-row statement, as in the replay's write-out.
const ROWS_PER_STATEMENT: usize = 500;

/// The read-model tables, and the order a replay writes each one in.
const TABLES: [(&str, &str); 5] = [
    ("queues", "project, name"),
    ("messages", "project, queue, marker"),
    ("claims", "id"),
    ("subscriptions", "id"),
    ("message_history", "message_id"),
];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let store = Path::new(args.get(1).map(String::as_str).unwrap_or("cairn.db")).to_owned();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map_or(3, |v| v.parse().expect("a number"));
    anyhow::ensure!(store.exists(), "no store at {}", store.display());
    let dir = tempfile::tempdir()?;

    // The rows a replay ends with, in key order, in a file of their own (not timed).
    let source = Connection::open(&store)?;
    source.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
    let events: i64 = source.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
    let rows = dir.path().join("rows.db");
    source.execute("ATTACH DATABASE ?1 AS rows", [rows.to_string_lossy()])?;
    for (table, key) in TABLES {
        source.execute_batch(&format!(
            "CREATE TABLE rows.{table} AS SELECT * FROM main.{table} ORDER BY {key}"
        ))?;
    }
    source.execute_batch("DETACH DATABASE rows")?;
    drop(source);
    println!("{events} events in {}", store.display());

    for run in 1..=runs {
        let work = dir.path().join("work.db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", work.display()));
        }
        std::fs::copy(&store, &work)?;

        let started = Instant::now();
        let reader = Connection::open(&work)?;
        let mut stmt = reader.prepare("SELECT * FROM events ORDER BY seq")?;
        let mut rows_read = 0u64;
        let mut bytes = 0usize;
        let mut cursor = stmt.query([])?;
        while let Some(row) = cursor.next()? {
            rows_read += 1;
            bytes += row.get_ref(8)?.as_str().map_or(0, str::len);
        }
        let read = started.elapsed().as_secs_f64();
        drop(cursor);
        drop(stmt);
        drop(reader);

        let conn = Connection::open(&work)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "cache_size", -256 * 1024)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        conn.execute("ATTACH DATABASE ?1 AS rows", [rows.to_string_lossy()])?;
        let started = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        for (table, _) in TABLES {
            conn.execute_batch(&format!("DELETE FROM main.{table}"))?;
        }
        for (table, _) in TABLES {
            conn.execute_batch(&format!(
                "INSERT INTO main.{table} SELECT * FROM rows.{table}"
            ))?;
        }
        conn.execute_batch("COMMIT")?;
        let write = started.elapsed().as_secs_f64();

        // The same rows again, this time bound as parameters (read into memory untimed).
        let mut tables = Vec::new();
        for (table, _) in TABLES {
            let mut stmt = conn.prepare(&format!("SELECT * FROM rows.{table}"))?;
            let width = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..width)
                        .map(|i| r.get::<_, Value>(i))
                        .collect::<rusqlite::Result<Vec<Value>>>()
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tables.push((table, width, rows));
        }
        let started = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        for (table, _) in TABLES {
            conn.execute_batch(&format!("DELETE FROM main.{table}"))?;
        }
        for (table, width, rows) in &tables {
            let group = format!("({})", vec!["?"; *width].join(", "));
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "INSERT INTO main.{table} VALUES {}",
                    vec![group.as_str(); chunk.len()].join(", ")
                );
                conn.prepare_cached(&sql)?
                    .execute(params_from_iter(chunk.iter().flatten()))?;
            }
        }
        conn.execute_batch("COMMIT")?;
        let bound = started.elapsed().as_secs_f64();
        drop(conn);

        println!(
            "run {run}: read the log ({rows_read} events, {} MB of payloads) in {read:.3} s \
             ({:.0} events/s); wrote the read models by INSERT … SELECT in {write:.3} s \
             ({:.0} events/s), by bound multi-row inserts in {bound:.3} s ({:.0} events/s)",
            bytes / 1_000_000,
            rows_read as f64 / read,
            events as f64 / write,
            events as f64 / bound
        );
    }
    Ok(())
}
