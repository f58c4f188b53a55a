//! What the fuzz targets share: one real node (a SQLite store in a temporary folder, the
//! REST router, the core the WebSocket decoder's actions run on), opened once per fuzzing
//! process, and a fresh project for every input, so that an input sees only what it made
//! itself and a crash replays from the input alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use cairn::app::{Server, Settings};
use cairn::model::{ProjectId, SystemClock};
use cairn::state::Core;
use cairn::store::StoreUrl;
use cairn::transports::websocket::WsSettings;
use tokio::runtime::Runtime;

/// A node serving nothing over sockets: requests reach its router in process.
pub struct Node {
    pub runtime: Runtime,
    pub core: Core,
    pub router: Router,
    _dir: tempfile::TempDir,
}

/// The process's node, opened on first use.
///
/// Its `Server` is dropped once the core is taken: that closes the shutdown signal, so a
/// long poll (`?wait=20`) answers at once instead of holding the fuzzer for 20 seconds.
pub fn node() -> &'static Node {
    static NODE: OnceLock<Node> = OnceLock::new();
    NODE.get_or_init(|| {
        // On tmpfs where there is one: the store's fsyncs then cost nothing.
        let base = match std::path::Path::new("/dev/shm").is_dir() {
            true => std::path::PathBuf::from("/dev/shm"),
            false => std::env::temp_dir(),
        };
        let dir = tempfile::Builder::new()
            .prefix("cairn-fuzz-")
            .tempdir_in(base)
            .expect("a temporary folder for the store");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let store = StoreUrl::Sqlite(dir.path().join("cairn.db"));
        let settings = Settings::on_store(store, Duration::from_secs(3600));
        let core = runtime.block_on(async {
            let server = Server::open(&settings, Arc::new(SystemClock))
                .await
                .expect("the store opens");
            server.state().clone()
        });
        let router =
            cairn::transports::http::router(core.clone(), None, Arc::new(WsSettings::default()));
        Node {
            runtime,
            core,
            router,
            _dir: dir,
        }
    })
}

/// A project no earlier input of this process has used.
pub fn fresh_project() -> ProjectId {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    ProjectId::new(Some(&format!("fuzz-{}-{n}", std::process::id()))).expect("a valid project")
}
