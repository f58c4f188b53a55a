//! Rebuilding SQLite read models from the log: in place, into a separate store up to a
//! point in the log (time travel), or into a scratch file to verify the live read models.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::{log, retention};
use crate::error::StoreError;
use crate::model::Timestamp;
use crate::projections::sqlite as views;
use crate::projections::sqlite::window::{Window, DEFAULT_ENTRIES};
use crate::store::Progress;

/// Events the log reader hands to the fold at a time.
const CHUNK: usize = 256;

/// Batches the reader may be ahead of the fold.
const CHUNKS_IN_FLIGHT: usize = 64;

/// How much of the store the log reader maps into memory.
const READER_MMAP_BYTES: i64 = 1 << 30;

/// Page cache of the folding connection (KiB): the tables being rebuilt stay in memory.
const FOLD_CACHE_KIB: i64 = 256 * 1024;

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

/// A connection to the store at `path`, in this binary's schema (migrated first, as the
/// server would at its next start; created if `create`).
async fn migrated(path: &Path, create: bool) -> Result<Connection, StoreError> {
    super::migrate(path, create, false).await?;
    super::connect_writer(path, false)
}

fn resolve(conn: &Connection, until: Until) -> Result<i64, StoreError> {
    Ok(match until {
        Until::End => log::head(conn)?,
        Until::Seq(seq) => seq.min(log::head(conn)?),
        Until::Time(t) => conn
            .query_row(
                "SELECT MAX(seq) FROM events WHERE recorded_at <= ?1",
                [t.0],
                |r| r.get::<_, Option<i64>>(0),
            )?
            .unwrap_or(0),
    })
}

/// Events in `(after, last]`: the log is gap-free (the fold checks as it reads).
fn count(after: i64, last: i64) -> u64 {
    (last - after).max(0) as u64
}

/// Copies the events in `(after, last]` of the log at `source` into the log at `target`,
/// without folding.
fn copy_log(source: &Path, target: &Path, after: i64, last: i64) -> Result<(), StoreError> {
    let conn = super::connect_writer(target, false)?;
    conn.execute("ATTACH DATABASE ?1 AS source", [source.to_string_lossy()])?;
    conn.execute(
        "INSERT INTO main.events SELECT * FROM source.events WHERE seq > ?1 AND seq <= ?2",
        [after, last],
    )?;
    conn.execute_batch("DETACH DATABASE source")?;
    Ok(())
}

/// Folds the events of the log at `source` in `(after, last]` into the store at `target`,
/// whose read models hold the state at `after` (or are cleared first, with `clear`, in the
/// same transaction as the first events). One thread reads and decodes the log while
/// this one folds it (see `projections::sqlite::window`). Decoding costs more than folding,
/// so whenever the fold has caught up, the reader hands it a batch undecoded and the fold
/// decodes that one itself. `target` must have no transaction open. Nothing is committed
/// past an error of either.
fn fold(
    source: &Path,
    target: &Path,
    after: i64,
    last: i64,
    clear: bool,
    window_entries: usize,
    progress: &mut dyn Progress,
) -> Result<u64, StoreError> {
    let folder = super::connect_writer(target, false)?;
    folder.pragma_update(None, "cache_size", -FOLD_CACHE_KIB)?;
    // Each window commits to the WAL with an fsync, and the WAL is left for the server's
    // checkpointer to fold into the database file in the background, as after any write.
    folder.pragma_update(None, "synchronous", "FULL")?;
    folder.pragma_update(None, "wal_autocheckpoint", 0)?;
    folder.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    let (chunks, received) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
    let in_flight = AtomicUsize::new(0);
    thread::scope(|scope| {
        // The sender moves to the reader, so the channel closes when it is done.
        let shared = &in_flight;
        let reader = scope.spawn(move || read_log(source, after, last, &chunks, shared));
        let folded = fold_chunks(
            &folder,
            received,
            &in_flight,
            after,
            clear,
            window_entries,
            progress,
        );
        let read = reader
            .join()
            .map_err(|_| StoreError::Corrupt("the log reader panicked".into()))?;
        // A fold error explains a reader cut off; a reader error ends the fold early.
        let folded = folded?;
        read?;
        Ok(folded)
    })
}

/// Reads the log on a thread of its own and sends it a batch at a time, counting the
/// batches sent but not yet received in `in_flight`: when none is, the fold is idle and gets
/// the next batch undecoded. An error is sent on as the last item.
fn read_log(
    source: &Path,
    after: i64,
    last: i64,
    chunks: &mpsc::SyncSender<Result<log::Batch, StoreError>>,
    in_flight: &AtomicUsize,
) -> Result<(), StoreError> {
    let read = || -> Result<(), StoreError> {
        let conn = rusqlite::Connection::open_with_flags(
            source,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // The log is read once, front to back: map it rather than copy each page in.
        conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
        log::scan(
            &conn,
            after,
            last,
            CHUNK,
            || in_flight.load(Ordering::Acquire) == 0,
            |batch| {
                in_flight.fetch_add(1, Ordering::AcqRel);
                chunks.send(Ok(batch)).map_err(|_| StoreError::Closed)
            },
        )
    };
    match read() {
        Ok(()) => Ok(()),
        // The fold stopped first and reports why.
        Err(StoreError::Closed) => Ok(()),
        Err(e) => {
            let _ = chunks.send(Err(StoreError::Corrupt(e.to_string())));
            Err(e)
        }
    }
}

/// Folds the batches as they arrive, committing once per window.
fn fold_chunks(
    folder: &rusqlite::Connection,
    chunks: mpsc::Receiver<Result<log::Batch, StoreError>>,
    in_flight: &AtomicUsize,
    after: i64,
    clear: bool,
    window_entries: usize,
    progress: &mut dyn Progress,
) -> Result<u64, StoreError> {
    let mut window = Window::new(folder, window_entries);
    let mut names = log::Names::default();
    let mut folded = 0;
    let mut at = after;
    folder.execute_batch("BEGIN IMMEDIATE")?;
    if clear {
        for (table, _) in views::READ_MODELS {
            folder.execute_batch(&format!("DELETE FROM {table}"))?;
        }
    }
    for batch in chunks {
        let batch = batch?;
        in_flight.fetch_sub(1, Ordering::AcqRel);
        let events = batch.decode(&mut names)?;
        let n = events.len() as u64;
        for env in &events {
            at = env.seq;
            window.apply(env)?;
            if window.is_full() {
                window.write_out()?;
                views::fold::checkpoint(folder, at)?;
                folder.execute_batch("COMMIT; BEGIN IMMEDIATE")?;
            }
        }
        folded += n;
        progress.done(n);
    }
    window.write_out()?;
    if at > after {
        views::fold::checkpoint(folder, at)?;
    }
    folder.execute_batch("COMMIT")?;
    Ok(folded)
}

/// Rebuilds the read models of the store at `path` in place from its whole log. The server
/// must not be running on it.
pub async fn in_place(path: &Path, progress: &mut dyn Progress) -> Result<Summary, StoreError> {
    in_place_windowed(path, DEFAULT_ENTRIES, progress).await
}

/// [`in_place`], writing out and committing every `window_entries` rows (fewer: less
/// memory, more commits). A replay interrupted between two commits is finished by the next
/// start of the store ([`catch_up`]).
pub async fn in_place_windowed(
    path: &Path,
    window_entries: usize,
    progress: &mut dyn Progress,
) -> Result<Summary, StoreError> {
    let started = Instant::now();
    let conn = migrated(path, false).await?;
    let last = log::head(&conn)?;
    let snapshot = retention::meta(&conn, "snapshot")?;
    progress.total(count(snapshot, last));
    let from = if snapshot > 0 {
        // Start from the snapshot: clear the read models and restore it first.
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        for (table, _) in views::READ_MODELS {
            conn.execute_batch(&format!("DELETE FROM {table}"))?;
        }
        tx.commit()?;
        retention::restore(&conn, path, snapshot)?
    } else {
        0
    };
    drop(conn);
    // Without a snapshot, the fold clears the read models in its first transaction.
    let events = fold(
        path,
        path,
        from,
        last,
        snapshot == 0,
        window_entries.max(1),
        progress,
    )?;
    Ok(Summary {
        events,
        last_seq: last,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// How far the log is folded into the read models (their checkpoint; 0: not at all).
fn folded_to(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .query_row(
            "SELECT seq FROM projection_checkpoints WHERE name = ?1",
            [views::CHECKPOINT],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// Folds into the read models of the store at `path` whatever the log holds beyond their
/// checkpoint, and returns how many events that was. Every commit moves the checkpoint with
/// the log, so it lags only after a replay in place was interrupted (its windows commit one
/// by one): the next start finishes that replay here, before serving. The server must not
/// be running on the store.
pub fn catch_up(path: &Path) -> Result<u64, StoreError> {
    let conn = super::connect_writer(path, false)?;
    let head = log::head(&conn)?;
    let folded = folded_to(&conn)?;
    drop(conn);
    if folded >= head {
        return Ok(0);
    }
    tracing::warn!(
        folded,
        head,
        "the read models lag the log (an interrupted replay); folding the rest"
    );
    fold(
        path,
        path,
        folded,
        head,
        false,
        DEFAULT_ENTRIES,
        &mut crate::store::Quiet,
    )
}

/// Builds a new store at `into` holding the log of `path` up to `until` and the read models
/// folded from it: the state as it was then.
pub async fn into(
    path: &Path,
    into: &Path,
    until: Until,
    progress: &mut dyn Progress,
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
    let source = super::connect_writer(path, false)?;
    let target = migrated(into, true).await?;
    let last = resolve(&source, until)?;
    let horizon = retention::meta(&source, "horizon")?;
    let snapshot = retention::meta(&source, "snapshot")?;
    drop(source);
    if last < snapshot {
        return Err(StoreError::Corrupt(format!(
            "the log was pruned: the earliest state it can rebuild is at seq {snapshot}"
        )));
    }
    progress.total(count(snapshot, last));
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
        retention::set_meta(&target, "horizon", horizon)?;
        retention::set_meta(&target, "snapshot", snapshot)?;
    }
    let from = retention::restore(&target, into, snapshot)?;
    // The copy is the past: the notifications its log called for were due then, not now.
    target.execute(
        "UPDATE log_meta SET value = ?1 WHERE key = ?2",
        params![last, crate::store::NOTIFIER_CHECKPOINT],
    )?;
    drop(target);
    copy_log(path, into, horizon, last)?;
    let events = fold(path, into, from, last, false, DEFAULT_ENTRIES, progress)?;
    Ok(Summary {
        events,
        last_seq: last,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A new store being filled with events that arrive in any order, each perhaps more than
/// once (a Kafka topic, read partition by partition). [`Importer::finish`] checks that the
/// log is whole; [`in_place`] then folds the read models from it.
pub struct Importer {
    conn: rusqlite::Connection,
    path: PathBuf,
    in_transaction: usize,
}

/// Events appended per transaction while importing.
const IMPORT_TRANSACTION: usize = 10_000;

impl Importer {
    /// Creates the store at `path`, which must not exist yet.
    pub async fn create(path: &Path) -> Result<Importer, StoreError> {
        if path.exists() {
            return Err(StoreError::Corrupt(format!(
                "{} already exists; replay builds a new store",
                path.display()
            )));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = migrated(path, true).await?;
        Ok(Importer {
            conn,
            path: path.to_owned(),
            in_transaction: 0,
        })
    }

    /// Adds an event to the log; `false` if its position was already taken.
    pub fn add(&mut self, env: &crate::events::Envelope) -> Result<bool, StoreError> {
        if self.in_transaction == 0 {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
        }
        let added = views::fold::append_once(&self.conn, env)?;
        self.in_transaction += 1;
        if self.in_transaction == IMPORT_TRANSACTION {
            self.conn.execute_batch("COMMIT")?;
            self.in_transaction = 0;
        }
        Ok(added)
    }

    /// Commits the log and checks it is whole: from position 1 to its last, without a gap.
    /// The consumers' checkpoints are set at its end: the notifications and publications
    /// this log called for were due when it was written, not now. Returns the store's path
    /// and its last position.
    pub fn finish(self) -> Result<(PathBuf, i64), StoreError> {
        if self.in_transaction > 0 {
            self.conn.execute_batch("COMMIT")?;
        }
        let (first, last, count): (Option<i64>, Option<i64>, i64) =
            self.conn
                .query_row("SELECT MIN(seq), MAX(seq), COUNT(*) FROM events", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        let (Some(first), Some(last)) = (first, last) else {
            return Err(StoreError::Corrupt("the source holds no events".into()));
        };
        if first != 1 {
            return Err(StoreError::Corrupt(format!(
                "the source starts at seq {first}: the events before it are gone, so the \
                 state cannot be rebuilt"
            )));
        }
        if count != last {
            let missing: i64 = self.conn.query_row(
                "SELECT MIN(seq) + 1 FROM events e
                 WHERE seq < ?1 AND NOT EXISTS (SELECT 1 FROM events n WHERE n.seq = e.seq + 1)",
                [last],
                |r| r.get(0),
            )?;
            return Err(StoreError::Corrupt(format!(
                "the source has gaps: {} of the events up to seq {last} are missing, the \
                 first at seq {missing}",
                last - count
            )));
        }
        for name in [
            crate::store::NOTIFIER_CHECKPOINT,
            crate::store::RELAY_CHECKPOINT,
        ] {
            views::fold::advance_checkpoint(&self.conn, name, last)?;
        }
        Ok((self.path, last))
    }
}

/// Replays the log of the store at `path` into a scratch file and compares every read model
/// with the live one, within one consistent snapshot of the live store. A store last opened
/// by an older binary is migrated first.
pub async fn verify(
    path: &Path,
    scratch_dir: &Path,
    progress: &mut dyn Progress,
) -> Result<(Summary, Vec<Divergence>), StoreError> {
    verify_in_windows(path, scratch_dir, DEFAULT_ENTRIES, progress).await
}

/// [`verify`], writing the replay out whenever `window_entries` entries are in memory (tests
/// use tiny windows to exercise every path between the window and the tables).
pub async fn verify_in_windows(
    path: &Path,
    scratch_dir: &Path,
    window_entries: usize,
    progress: &mut dyn Progress,
) -> Result<(Summary, Vec<Divergence>), StoreError> {
    let started = Instant::now();
    let scratch: PathBuf = scratch_dir.join(format!("verify-{}.db", uuid::Uuid::new_v4()));
    // The live store in this binary's schema, as the server would bring it at its next start
    // (a no-op once the server has opened it); otherwise the tables could not be compared.
    let live = migrated(path, false).await?;
    let target = migrated(&scratch, true).await?;
    // SQLite attaches only outside transactions; the scratch file is read (and its read
    // snapshot taken) only after the replay below has committed into it.
    live.execute(
        "ATTACH DATABASE ?1 AS replayed",
        [scratch.to_string_lossy()],
    )?;
    // One read transaction: the log and the read models are compared as of one instant.
    let reading = Transaction::new_unchecked(&live, TransactionBehavior::Deferred)?;
    let last = folded_to(&live)?;
    let snapshot = retention::meta(&live, "snapshot")?;
    progress.total(count(snapshot, last));
    let from = retention::restore(&target, path, snapshot)?;
    drop(target);
    let events = fold(path, &scratch, from, last, false, window_entries, progress)?;
    let mut divergences = Vec::new();
    for (table, key) in views::READ_MODELS {
        for (side, left, right) in [
            ("live", "main", "replayed"),
            ("replayed", "replayed", "main"),
        ] {
            let sql = format!(
                "SELECT {key} FROM (SELECT * FROM {left}.{table} EXCEPT SELECT * FROM {right}.{table}) LIMIT 50"
            );
            let mut select = live.prepare(&sql)?;
            let keys = select.query_map([], |r| Ok(r.get::<_, String>(0).unwrap_or_default()))?;
            for key in keys {
                divergences.push(Divergence {
                    table,
                    key: key?,
                    side,
                });
            }
        }
    }
    reading.commit()?;
    live.execute_batch("DETACH DATABASE replayed")?;
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
