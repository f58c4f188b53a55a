//! Copies the write-ahead log into the database on a thread of its own, and has the log
//! start over before it grows large.
//!
//! **Copying.** Left to itself, SQLite checkpoints inside the commit that crosses the
//! threshold, so the writer (and every request in its batch) would wait for the copy and
//! its fsync; a passive checkpoint from another connection never blocks the writer. The
//! thread runs one every 10 ms while the log grows and every 100 ms while nothing is
//! written. The writer keeps a high automatic threshold only as a safety net, should this
//! thread fall behind.
//!
//! **Starting over.** That threshold counts the frames in the log file, not the frames still
//! to copy, and SQLite starts the file over only when a write transaction begins with every
//! frame copied and no reader still on the old frames. Under steady load the writer commits
//! while a pass is copying and some read is nearly always open, so the log kept growing to
//! the safety net and stayed there: the writer then copied the log itself inside its
//! commits (a ninth of its time at 32 producers, `docs/benchmarks-history.md`), with a
//! second fsync exposed to the disk's slow moments. So once a pass finds [`RESTART_PAGES`]
//! or more in the log, the thread marks a restart due, and the writer, between two
//! batches, runs a `RESTART` checkpoint ([`Checkpointer::restart_if_due`]): it copies what
//! the pass could not (the batches committed since, and the frames an open read still
//! needed), waits a few milliseconds at most for the reads still on the old frames, and
//! starts the log over. It runs on the writer's own
//! connection, which holds the write lock anyway: another connection asking for that lock
//! would wait for a gap between batches that a busy writer hardly leaves.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StoreError;
use crate::metrics::Metrics;

/// Time between two checkpoints while the log grows.
const BUSY_PERIOD: Duration = Duration::from_millis(10);

/// Time between two checkpoints while nothing is written.
const IDLE_PERIOD: Duration = Duration::from_millis(100);

/// The writer connection's own checkpoint threshold, in pages (of 4 KiB): 32 MiB.
pub const SAFETY_NET_PAGES: i64 = 8_192;

/// The log's size, in pages (of 4 KiB), from which it is started over: 8 MiB.
pub const RESTART_PAGES: i64 = 2_048;

/// How long a restart waits for reads still on the old frames before giving up (the next
/// pass marks it due again). The writer waits as long, so this bounds the pause.
const RESTART_PATIENCE: Duration = Duration::from_millis(5);

/// How long the writer's connection waits for a lock in the normal course of things.
pub(super) const WRITER_PATIENCE: Duration = Duration::from_secs(10);

/// What a `PRAGMA wal_checkpoint` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pass {
    /// Whether it could not finish for a lock held elsewhere.
    busy: bool,
    /// Frames in the log.
    log: i64,
    /// Frames of the log copied into the database.
    copied: i64,
}

fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<Pass> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok(Pass {
            busy: row.get::<_, i64>(0)? != 0,
            log: row.get(1)?,
            copied: row.get(2)?,
        })
    })
}

/// A running checkpointer; stop it when the writer is done.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    /// Set by the thread when the log should start over; cleared by the writer.
    restart_due: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the store at `path` (which must exist, in WAL mode); the log's
    /// size and restarts go to `metrics`.
    pub fn start(
        path: &Path,
        sync_full: bool,
        metrics: Arc<Metrics>,
    ) -> Result<Checkpointer, StoreError> {
        let conn = super::connect_writer(path, sync_full)?;
        let stop = Arc::new(AtomicBool::new(false));
        let restart_due = Arc::new(AtomicBool::new(false));
        let (stopping, due, seen) = (stop.clone(), restart_due.clone(), metrics.clone());
        let thread = std::thread::Builder::new()
            .name("cairn-checkpoint".into())
            .spawn(move || {
                let mut last = None;
                let mut period = IDLE_PERIOD;
                while !stopping.load(Ordering::Relaxed) {
                    std::thread::sleep(period);
                    match checkpoint(&conn, "PASSIVE") {
                        Ok(pass) => {
                            seen.wal_frames(pass.log);
                            if pass.log >= RESTART_PAGES {
                                due.store(true, Ordering::Relaxed);
                            }
                            period = if last == Some(pass) {
                                IDLE_PERIOD
                            } else {
                                BUSY_PERIOD
                            };
                            last = Some(pass);
                        }
                        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                    }
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start the checkpointer: {e}")))?;
        Ok(Checkpointer {
            stop,
            restart_due,
            metrics,
            thread: Some(thread),
        })
    }

    /// Starts the log over if the thread found it due: for the writer, on its own
    /// connection, between two transactions. A restart that cannot finish (a read stayed
    /// on the old frames) is left for a later call; only an SQLite error is returned.
    pub fn restart_if_due(&self, writer: &Connection) -> rusqlite::Result<()> {
        if !self.restart_due.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        writer.busy_timeout(RESTART_PATIENCE)?;
        let pass = checkpoint(writer, "RESTART");
        writer.busy_timeout(WRITER_PATIENCE)?;
        if !pass?.busy {
            self.metrics.wal_restarted();
        }
        Ok(())
    }

    /// Stops the thread after its current checkpoint.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The restarts counted in the metrics' text.
    fn restarts(metrics: &Metrics) -> u64 {
        let text = metrics.render(0, 0);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("cairn_sqlite_wal_restarts_total "))
            .expect("the restarts are rendered");
        line.parse().expect("a count")
    }

    #[test]
    fn the_log_starts_over_under_steady_writes_and_overlapping_reads() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("c.db");
        let writer = crate::store::sqlite::connect_writer(&path, false).expect("the writer");
        writer
            .execute_batch("CREATE TABLE t (b BLOB)")
            .expect("a table");
        let metrics = Arc::new(Metrics::default());
        let checkpointer =
            Checkpointer::start(&path, false, metrics.clone()).expect("a checkpointer");
        // Reads that hold their snapshot a millisecond and follow one another, so that a
        // read is nearly always open on the frames of the moment, as under load: the log
        // then never starts over by itself.
        let reading = Arc::new(AtomicBool::new(true));
        let reader = {
            let (path, reading) = (path.clone(), reading.clone());
            std::thread::spawn(move || {
                let conn = Connection::open(&path).expect("a reader");
                while reading.load(Ordering::Relaxed) {
                    conn.execute_batch("BEGIN").expect("a read");
                    conn.query_row("SELECT max(rowid) FROM t", [], |_| Ok(()))
                        .expect("a read");
                    std::thread::sleep(Duration::from_millis(1));
                    conn.execute_batch("COMMIT").expect("the read's end");
                }
            })
        };
        // Twice the safety net's worth of pages, 8 rows of most of a page a transaction.
        let row = vec![7u8; 3_000];
        for _ in 0..(2 * SAFETY_NET_PAGES / 8) {
            writer
                .execute_batch("BEGIN IMMEDIATE")
                .expect("a transaction");
            for _ in 0..8 {
                writer
                    .execute("INSERT INTO t VALUES (?1)", [&row])
                    .expect("a row");
            }
            writer.execute_batch("COMMIT").expect("a commit");
            // A pause for the commit's fsync, which this connection (synchronous=NORMAL)
            // leaves out, so that the checkpointer's passes see the log grow.
            std::thread::sleep(Duration::from_micros(200));
            checkpointer
                .restart_if_due(&writer)
                .expect("a restart or none");
        }
        reading.store(false, Ordering::Relaxed);
        reader.join().expect("the reader ends");
        let log_bytes = std::fs::metadata(dir.path().join("c.db-wal"))
            .expect("the log file")
            .len();
        // The file keeps the largest size the log reached.
        assert!(
            log_bytes < (SAFETY_NET_PAGES / 2 * 4096) as u64,
            "the log grew to {log_bytes} bytes"
        );
        assert!(restarts(&metrics) >= 2, "{}", metrics.render(0, 0));
    }
}
