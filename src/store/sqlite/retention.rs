//! Log retention for SQLite: before events are pruned, the read models are saved as a
//! snapshot (a separate SQLite file next to the store), so a replay that starts from the
//! snapshot and folds the remaining events gives exactly the live state. `log_meta` records
//! the pruning horizon and the snapshot's position.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::StoreError;
use crate::model::Timestamp;
use crate::projections::sqlite::bodies::Bodies;
use crate::projections::sqlite::READ_MODELS;

/// Where a store keeps its snapshots.
pub fn snapshot_dir(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".snapshots");
    db.with_file_name(name)
}

/// The snapshot file of log position `seq`.
pub fn snapshot_path(db: &Path, seq: i64) -> PathBuf {
    snapshot_dir(db).join(format!("{seq:020}.db"))
}

/// A value of `log_meta` (0 when unset).
pub fn meta(conn: &Connection, key: &str) -> Result<i64, StoreError> {
    let value: Option<i64> = conn
        .prepare_cached("SELECT value FROM log_meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?;
    Ok(value.unwrap_or(0))
}

/// Sets a value of `log_meta`.
pub fn set_meta(conn: &Connection, key: &str, value: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO log_meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// What a prune did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Events up to this position are gone.
    pub horizon: i64,
    /// The snapshot that replaces them.
    pub snapshot: i64,
}

/// Prunes the events recorded before `before` (only those at or before each checkpoint
/// named in `keep_after`), after saving the read models (which reflect
/// the log up to `head`) as a snapshot. Runs outside any transaction (it attaches a file).
pub fn prune(
    conn: &Connection,
    db: &Path,
    before: Timestamp,
    head: i64,
    keep_after: &[&'static str],
) -> Result<Option<Pruned>, StoreError> {
    let target: Option<i64> = conn.query_row(
        "SELECT MAX(seq) FROM events WHERE recorded_at < ?1",
        [before.0],
        |r| r.get(0),
    )?;
    // Never past events a consumer still needs (notifications still being delivered,
    // events not yet in Kafka): each resumes from its checkpoint, and needs the log after it.
    let mut keep = i64::MAX;
    for name in keep_after {
        keep = keep.min(meta(conn, name)?);
    }
    let Some(horizon) = target.map(|h| h.min(keep)).filter(|h| *h > 0) else {
        return Ok(None);
    };
    if horizon <= meta(conn, "horizon")? {
        return Ok(None);
    }
    let path = snapshot_path(db, head);
    std::fs::create_dir_all(snapshot_dir(db))
        .map_err(|e| StoreError::Corrupt(format!("cannot create the snapshot directory: {e}")))?;
    keep_bodies(conn, horizon)?;
    // Always a fresh snapshot: an older file for the same position may still hold history
    // rows that this prune removes.
    write_snapshot(conn, &path, horizon)?;
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    conn.execute("DELETE FROM events WHERE seq <= ?1", [horizon])?;
    conn.execute(
        "DELETE FROM message_history WHERE last_seq <= ?1",
        [horizon],
    )?;
    set_meta(conn, "horizon", horizon)?;
    set_meta(conn, "snapshot", head)?;
    tx.commit()?;
    // Older snapshots describe states the log can no longer be replayed from.
    if let Ok(entries) = std::fs::read_dir(snapshot_dir(db)) {
        for entry in entries.flatten() {
            if entry.path() != path {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(Some(Pruned {
        horizon,
        snapshot: head,
    }))
}

/// Message rows whose bodies [`keep_bodies`] copies per transaction.
const BODIES_PER_TRANSACTION: i64 = 1_000;

/// Copies the bodies of the messages posted at or before `horizon` from their posting events
/// into their rows (see `projections::sqlite::bodies`), so that pruning those events loses
/// no body. A batch of rows per transaction, so that memory stays bounded however many
/// messages are alive; rows so filled stay valid whether or not the prune goes on.
fn keep_bodies(conn: &Connection, horizon: i64) -> Result<(), StoreError> {
    let mut after = 0_i64;
    loop {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let rows: Vec<(i64, String, i64, i64, String)> = conn
            .prepare_cached(
                "SELECT m.rowid, m.id, m.post_index, e.seq, e.payload
                 FROM messages AS m JOIN events AS e ON e.seq = m.post_seq
                 WHERE m.rowid > ?1 AND m.post_seq <= ?2 ORDER BY m.rowid LIMIT ?3",
            )?
            .query_map(params![after, horizon, BODIES_PER_TRANSACTION], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut bodies = Bodies::default();
        let mut update = conn.prepare_cached(
            "UPDATE messages SET body = ?2, post_seq = NULL, post_index = NULL WHERE id = ?1",
        )?;
        for (_, id, index, seq, payload) in &rows {
            let body = bodies.body(None, Some(*index), Some(*seq), Some(payload))?;
            update.execute(params![id, body.get()])?;
        }
        drop(update);
        tx.commit()?;
        match rows.last() {
            Some(last) => after = last.0,
            None => return Ok(()),
        }
    }
}

/// Copies every read-model table into a new SQLite file (the history index only of the
/// messages with events after `horizon`, like the pruned store itself).
fn write_snapshot(conn: &Connection, path: &Path, horizon: i64) -> Result<(), StoreError> {
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    conn.execute("ATTACH DATABASE ?1 AS snap", [partial.to_string_lossy()])?;
    let copied = (|| {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?;
        for (table, _) in READ_MODELS {
            let rows = match table {
                "message_history" => {
                    format!("SELECT * FROM main.{table} WHERE last_seq > {horizon}")
                }
                _ => format!("SELECT * FROM main.{table}"),
            };
            conn.execute_batch(&format!("CREATE TABLE snap.{table} AS {rows}"))?;
        }
        tx.commit()
    })();
    conn.execute_batch("DETACH DATABASE snap")?;
    copied?;
    std::fs::rename(&partial, path)
        .map_err(|e| StoreError::Corrupt(format!("cannot move the snapshot in place: {e}")))?;
    // The log is pruned only after this: the new name must survive a power loss too.
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::Corrupt(format!("cannot sync the snapshot folder: {e}")))?;
    }
    Ok(())
}

/// Loads a snapshot's read models into `conn`'s (empty) read-model tables; returns the
/// snapshot's position, or 0 if the store has never been pruned.
pub fn restore(conn: &Connection, source_db: &Path, snapshot: i64) -> Result<i64, StoreError> {
    if snapshot == 0 {
        return Ok(0);
    }
    let path = snapshot_path(source_db, snapshot);
    if !path.exists() {
        return Err(StoreError::Corrupt(format!(
            "the log was pruned, but its snapshot {} is missing",
            path.display()
        )));
    }
    conn.execute("ATTACH DATABASE ?1 AS snap", [path.to_string_lossy()])?;
    let restored = (|| {
        // Snapshots taken before the history index became one row per message hold the
        // old table, one row per (message, event).
        let old_history: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM snap.sqlite_master WHERE name = 'message_events'",
            [],
            |r| r.get(0),
        )?;
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?;
        for (table, _) in READ_MODELS {
            let sql = match table {
                "message_history" if old_history => format!(
                    "INSERT INTO main.{table} (message_id, seqs, last_seq)
                     SELECT message_id, group_concat(seq, ',' ORDER BY seq), MAX(seq)
                     FROM snap.message_events GROUP BY message_id"
                ),
                // By name: the snapshot may predate columns added since (which take
                // defaults).
                _ => {
                    let columns: Option<String> = conn.query_row(
                        "SELECT group_concat(name, ', ') FROM pragma_table_info(?1, 'snap')",
                        [table],
                        |r| r.get(0),
                    )?;
                    // A snapshot taken before the table existed: it had no rows then.
                    let Some(columns) = columns else { continue };
                    format!(
                        "INSERT INTO main.{table} ({columns}) SELECT {columns} FROM snap.{table}"
                    )
                }
            };
            conn.execute_batch(&sql)?;
        }
        tx.commit()
    })();
    conn.execute_batch("DETACH DATABASE snap")?;
    restored?;
    Ok(snapshot)
}
