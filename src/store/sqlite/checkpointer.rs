//! Copies the write-ahead log into the database on a thread of its own. Left to itself,
//! SQLite checkpoints inside the commit that crosses the threshold, so the writer (and every
//! request in its batch) would wait for the copy and its fsync; a passive checkpoint from
//! another connection never blocks the writer. It runs every 10 ms while the log grows and
//! every 100 ms while nothing is written. The writer keeps a high automatic threshold
//! only as a safety net, should this thread fall behind.
//!
//! That threshold counts the frames in the log file, not the frames still to copy. Under
//! steady load the writer commits while a pass is copying, so the log is seldom fully
//! copied at the start of a transaction, which is when SQLite starts the file over; the
//! file keeps growing although this thread keeps up. With 32 producers posting, the
//! writer then copies the log itself inside its commits: at 8 MiB that took over a quarter
//! of its time 30 s into the run, at 32 MiB a ninth (`docs/benchmarks.md`).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::StoreError;

/// Time between two checkpoints while the log grows.
const BUSY_PERIOD: Duration = Duration::from_millis(10);

/// Time between two checkpoints while nothing is written.
const IDLE_PERIOD: Duration = Duration::from_millis(100);

/// The writer connection's own checkpoint threshold, in pages (of 4 KiB): 32 MiB.
pub const SAFETY_NET_PAGES: i64 = 8_192;

/// A running checkpointer; stop it when the writer is done.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the store at `path` (which must exist, in WAL mode).
    pub fn start(path: &Path, sync_full: bool) -> Result<Checkpointer, StoreError> {
        let conn = super::connect_writer(path, sync_full)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("cairn-checkpoint".into())
            .spawn(move || {
                // (frames in the log, frames copied) after the previous checkpoint.
                let mut last = (0, 0);
                let mut period = IDLE_PERIOD;
                while !stopping.load(Ordering::Relaxed) {
                    std::thread::sleep(period);
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                    });
                    match done {
                        Ok(frames) => {
                            period = if frames == last {
                                IDLE_PERIOD
                            } else {
                                BUSY_PERIOD
                            };
                            last = frames;
                        }
                        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                    }
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start the checkpointer: {e}")))?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
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
