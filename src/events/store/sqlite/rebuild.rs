//! Rebuilding SQLite read models from the log: in place, into a separate store up to a
//! point in the log (time travel), or into a scratch file to verify the live read models.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row, SqliteConnection};

use super::{log, migrator, retention};
use crate::error::StoreError;
use crate::model::Timestamp;
use crate::projections::sqlite as views;

/// The read-model tables, each with the columns that identify a row (for reports).
pub const READ_MODELS: [(&str, &str); 6] = [
    ("queues", "project || '/' || name"),
    ("messages", "project || '/' || queue || '/' || id"),
    ("claims", "id"),
    ("subscriptions", "id"),
    ("message_events", "message_id || '@' || seq"),
    ("projection_checkpoints", "name"),
];

/// Events folded per transaction while rebuilding.
const CHUNK: i64 = 5_000;

/// How far a rebuild goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    End,
    Seq(i64),
    Time(Timestamp),
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub events: u64,
    pub last_seq: i64,
    pub seconds: f64,
}

impl Summary {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }
}

/// A row present on one side of a comparison only.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    pub table: &'static str,
    pub key: String,
    /// `live` if only the live read model has it, `replayed` if only the replay does.
    pub side: &'static str,
}

async fn open(path: &Path, create: bool) -> Result<SqliteConnection, StoreError> {
    let conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .busy_timeout(std::time::Duration::from_secs(30))
        .disable_statement_logging()
        .connect()
        .await?;
    Ok(conn)
}

async fn resolve(conn: &mut SqliteConnection, until: Until) -> Result<i64, StoreError> {
    Ok(match until {
        Until::End => log::last_seq(conn).await?,
        Until::Seq(seq) => seq.min(log::last_seq(conn).await?),
        Until::Time(t) => sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MAX(seq) FROM events WHERE recorded_at <= ?1",
        )
        .bind(t.0)
        .fetch_one(&mut *conn)
        .await?
        .unwrap_or(0),
    })
}

async fn count(conn: &mut SqliteConnection, after: i64, last: i64) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE seq > ?1 AND seq <= ?2")
        .bind(after)
        .bind(last)
        .fetch_one(conn)
        .await?;
    Ok(n as u64)
}

/// Copies the events in `(after, last]` of `source`'s log into `target`'s, without folding.
async fn copy_log(
    source: &mut SqliteConnection,
    target: &Path,
    mut after: i64,
    last: i64,
) -> Result<(), StoreError> {
    let writer = super::writer::connect(target, false)?;
    loop {
        let chunk = log::range(source, after, Some(last), CHUNK).await?;
        let Some(tail) = chunk.last() else {
            return Ok(());
        };
        after = tail.seq;
        writer.execute_batch("BEGIN")?;
        views::fold::append(&writer, &chunk)?;
        writer.execute_batch("COMMIT")?;
    }
}

/// Folds the events of `source` in `(after, last]` into the store at `target`, whose read
/// models hold the state at `after`; with `copy_log`, the events are appended to `target`'s
/// log too. The fold runs on a synchronous connection of its own (see `projections::sqlite::
/// fold`); `target` must have no transaction open.
async fn fold(
    source: &mut SqliteConnection,
    target: &Path,
    mut after: i64,
    last: i64,
    copy_log: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, StoreError> {
    let folder = super::writer::connect(target, false)?;
    let mut folded = 0;
    loop {
        let chunk = log::range(source, after, Some(last), CHUNK).await?;
        let Some(tail) = chunk.last() else {
            break;
        };
        after = tail.seq;
        // Blocking calls in an async fn: rebuilds run offline, with nothing else to serve.
        folder.execute_batch("BEGIN")?;
        if copy_log {
            views::fold::append(&folder, &chunk)?;
        }
        for env in &chunk {
            views::fold::apply(&folder, env)?;
        }
        views::fold::checkpoint(&folder, after)?;
        folder.execute_batch("COMMIT")?;
        folded += chunk.len() as u64;
        progress(chunk.len() as u64);
    }
    Ok(folded)
}

/// Rebuilds the read models of the store at `path` in place from its whole log. The server
/// must not be running on it.
pub async fn in_place(
    path: &Path,
    total: &mut dyn FnMut(u64),
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, StoreError> {
    let started = Instant::now();
    let mut source = open(path, false).await?;
    migrator().run_direct(&mut source).await?;
    let mut target = open(path, false).await?;
    let last = log::last_seq(&mut source).await?;
    let snapshot = retention::meta(&mut source, "snapshot").await?;
    total(count(&mut source, snapshot, last).await?);
    sqlx::query("BEGIN IMMEDIATE").execute(&mut target).await?;
    for (table, _) in READ_MODELS {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut target)
            .await?;
    }
    sqlx::query("COMMIT").execute(&mut target).await?;
    let from = retention::restore(&mut target, path, snapshot).await?;
    drop(target);
    let events = fold(&mut source, path, from, last, false, progress).await?;
    Ok(Summary {
        events,
        last_seq: last,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Builds a new store at `into` holding the log of `path` up to `until` and the read models
/// folded from it: the state as it was then.
pub async fn into(
    path: &Path,
    into: &Path,
    until: Until,
    total: &mut dyn FnMut(u64),
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, StoreError> {
    let started = Instant::now();
    if into.exists() {
        return Err(StoreError::Corrupt(format!(
            "{} already exists; replay builds a new store",
            into.display()
        )));
    }
    if let Some(dir) = into.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Corrupt(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut source = open(path, false).await?;
    let mut target = open(into, true).await?;
    migrator().run_direct(&mut target).await?;
    let last = resolve(&mut source, until).await?;
    let horizon = retention::meta(&mut source, "horizon").await?;
    let snapshot = retention::meta(&mut source, "snapshot").await?;
    if last < snapshot {
        return Err(StoreError::Corrupt(format!(
            "the log was pruned: the earliest state it can rebuild is at seq {snapshot}"
        )));
    }
    total(count(&mut source, snapshot, last).await?);
    if snapshot > 0 {
        // The new store starts from the same snapshot, with the same retained log.
        std::fs::create_dir_all(retention::snapshot_dir(into))
            .and_then(|_| {
                std::fs::copy(
                    retention::snapshot_path(path, snapshot),
                    retention::snapshot_path(into, snapshot),
                )
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot copy the snapshot: {e}")))?;
        copy_log(&mut source, into, horizon, snapshot).await?;
        sqlx::query("INSERT INTO log_meta (key, value) VALUES ('horizon', ?1), ('snapshot', ?2)")
            .bind(horizon)
            .bind(snapshot)
            .execute(&mut target)
            .await?;
    }
    let from = retention::restore(&mut target, into, snapshot).await?;
    drop(target);
    let events = fold(&mut source, into, from, last, true, progress).await?;
    Ok(Summary {
        events,
        last_seq: last,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Replays the log of the store at `path` into a scratch file and compares every read model
/// with the live one, within one consistent snapshot of the live store.
pub async fn verify(
    path: &Path,
    scratch_dir: &Path,
    total: &mut dyn FnMut(u64),
    progress: &mut dyn FnMut(u64),
) -> Result<(Summary, Vec<Divergence>), StoreError> {
    let started = Instant::now();
    let scratch: PathBuf = scratch_dir.join(format!("verify-{}.db", uuid::Uuid::new_v4()));
    let mut live = open(path, false).await?;
    let mut target = open(&scratch, true).await?;
    migrator().run_direct(&mut target).await?;
    // SQLite attaches only outside transactions; the scratch file is read (and its read
    // snapshot taken) only after the replay below has committed into it.
    sqlx::query("ATTACH DATABASE ?1 AS replayed")
        .bind(scratch.to_string_lossy().to_string())
        .execute(&mut live)
        .await?;
    // One read transaction: the log and the read models are compared as of one instant.
    sqlx::query("BEGIN").execute(&mut live).await?;
    let last: i64 = sqlx::query_scalar::<_, Option<i64>>(
        "SELECT seq FROM projection_checkpoints WHERE name = ?1",
    )
    .bind(views::CHECKPOINT)
    .fetch_optional(&mut live)
    .await?
    .flatten()
    .unwrap_or(0);
    let snapshot = retention::meta(&mut live, "snapshot").await?;
    total(count(&mut live, snapshot, last).await?);
    let from = retention::restore(&mut target, path, snapshot).await?;
    sqlx::Connection::close(target).await?;
    let events = fold(&mut live, &scratch, from, last, false, progress).await?;
    let mut divergences = Vec::new();
    for (table, key) in READ_MODELS {
        for (side, left, right) in [
            ("live", "main", "replayed"),
            ("replayed", "replayed", "main"),
        ] {
            let sql = format!(
                "SELECT {key} FROM (SELECT * FROM {left}.{table} EXCEPT SELECT * FROM {right}.{table}) LIMIT 50"
            );
            for row in sqlx::query(&sql).fetch_all(&mut live).await? {
                divergences.push(Divergence {
                    table,
                    key: row.try_get::<String, _>(0).unwrap_or_default(),
                    side,
                });
            }
        }
    }
    sqlx::query("COMMIT").execute(&mut live).await?;
    sqlx::query("DETACH DATABASE replayed")
        .execute(&mut live)
        .await?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", scratch.display()));
    }
    let summary = Summary {
        events,
        last_seq: last,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((summary, divergences))
}
