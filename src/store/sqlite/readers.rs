//! The reader pool of an SQLite store: connections of the same driver as the writer's
//! (rusqlite), so a read model's query is written once and serves both a client's read and
//! the writer's decisions. Each read runs on a blocking thread with a pooled connection; WAL
//! mode lets readers work while the writer commits.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::StoreError;

/// How long a read waits for a connection before the request gets a 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// A bounded pool of reading connections; cheap to clone.
#[derive(Debug, Clone)]
pub struct Readers {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection the pool may have open at once.
    /// Closed with the pool: no read starts after that.
    permits: Arc<Semaphore>,
}

impl Readers {
    /// A pool of at most `size` connections to the database at `path`, opened on demand.
    pub fn new(path: &Path, size: usize) -> Readers {
        Readers {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(size.max(1))),
            }),
        }
    }

    /// Runs `read` on a pooled connection, on a blocking thread.
    pub async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permits = self.inner.permits.clone();
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, permits.acquire_owned())
            .await
            .map_err(|_| StoreError::Busy(ACQUIRE_TIMEOUT))?
            .map_err(|_| StoreError::Closed)?;
        let inner = self.inner.clone();
        // The permit goes with the blocking thread: a caller that stops waiting does not free
        // its connection for another read while the thread still uses it.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let idle = inner.idle().pop();
            let conn = match idle {
                Some(conn) => conn,
                None => open(&inner.path)?,
            };
            let result = read(&conn);
            if !inner.permits.is_closed() {
                inner.idle().push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("a read failed: {e}")))?
    }

    /// Closes the idle connections; later reads fail, and running ones close theirs.
    pub fn close(&self) {
        self.inner.permits.close();
        self.inner.idle().clear();
    }
}

impl Inner {
    /// The idle connections; a read that panicked while holding the list left it whole.
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A reading connection to an existing store.
fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "query_only", true)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_share_connections_and_fail_once_closed() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("r.db");
        Connection::open(&path)
            .and_then(|c| c.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7);"))
            .expect("a database");
        let readers = Readers::new(&path, 2);
        for _ in 0..5 {
            let x = readers
                .read(|c| Ok(c.query_row("SELECT x FROM t", [], |r| r.get::<_, i64>(0))?))
                .await
                .expect("a read");
            assert_eq!(x, 7);
        }
        assert_eq!(
            readers.inner.idle().len(),
            1,
            "one connection served them all"
        );
        let write = readers
            .read(|c| Ok(c.execute("INSERT INTO t VALUES (8)", [])?))
            .await;
        assert!(write.is_err(), "readers cannot write");
        readers.close();
        let after = readers.read(|_| Ok(())).await;
        assert!(matches!(after, Err(StoreError::Closed)), "{after:?}");
    }
}
