//! The reader pool of an SQLite store: connections of the same driver as the writer's
//! (rusqlite), so a read model's query is written once and serves both a client's read and
//! the writer's decisions. Each read runs on a blocking thread with a pooled connection; WAL
//! mode lets readers work while the writer commits.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::StoreError;

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
    permits: Semaphore,
}

impl Readers {
    /// A pool of at most `size` connections to the database at `path`, opened on demand.
    pub fn new(path: &Path, size: usize) -> Readers {
        Readers {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(size.max(1)),
            }),
        }
    }

    /// Runs `read` on a pooled connection, on a blocking thread.
    pub async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match inner.idle.lock().map_err(|_| StoreError::Closed)?.pop() {
                Some(conn) => conn,
                None => open(&inner.path)?,
            };
            let result = read(&conn);
            if let Ok(mut idle) = inner.idle.lock() {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("a read failed: {e}")))?
    }

    /// Closes the idle connections; reads after this open new ones.
    pub fn close(&self) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            idle.clear();
        }
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
