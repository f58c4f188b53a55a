//! Copies the write-ahead log into the database on a thread of its own. Left to itself,
//! SQLite checkpoints inside the commit that crosses the threshold, so the writer (and every
//! request in its batch) would wait for the copy and its fsync; a passive checkpoint from
//! another connection never blocks the writer. The writer keeps a high automatic threshold
//! only as a safety net, should this thread fall behind.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::StoreError;

/// Time between two checkpoints.
const PERIOD: Duration = Duration::from_millis(10);

/// The writer connection's own checkpoint threshold, in pages (of 4 KiB): 8 MiB.
pub const SAFETY_NET_PAGES: i64 = 2_048;

/// A running checkpointer; stop it when the writer is done.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the store at `path` (which must exist, in WAL mode).
    pub fn start(path: &Path, sync_full: bool) -> Result<Checkpointer, StoreError> {
        let conn = super::writer::connect(path, sync_full)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("cairn-checkpoint".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    std::thread::sleep(PERIOD);
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    if let Err(e) = done {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
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
