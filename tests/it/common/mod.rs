//! Shared harness for the integration tests: a real Cairn server running in-process on an
//! ephemeral port, driven by a manual clock, plus a small HTTP client that speaks Zaqar's
//! headers. The backend is SQLite in a temporary directory, or, with
//! `CAIRN_TEST_BACKEND=postgres`, a fresh schema of the PostgreSQL database at
//! `CAIRN_TEST_POSTGRES_URL` (default: the machine's server, database `test`) — one suite,
//! two backends.

pub mod audit;
pub mod kafka;
pub mod keystone;
pub mod pg_cluster;
pub mod process;
pub mod receiver;
pub mod smtp;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn::app::{Server, Settings};
use cairn::model::{Limits, ManualClock, Timestamp};
use cairn::store::{Store, StoreUrl};
use cairn::transports::websocket::WsSettings;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where every test clock starts: 2023-11-14T22:13:20Z.
pub const START: Timestamp = Timestamp(1_700_000_000_000);
/// `START` as Zaqar formats creation times.
pub const START_RFC3339: &str = "2023-11-14T22:13:20Z";
/// The JSON-patch media type required by queue PATCH.
pub const JSON_PATCH: &str = "application/openstack-messaging-v2.0-json-patch";

/// A running in-process server. Dropping it without [`TestServer::shutdown`] just aborts it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub clock: ManualClock,
    pub store: Store,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    dir: Arc<TempDir>,
}

impl TestServer {
    /// A server with Zaqar's default limits.
    pub async fn start() -> TestServer {
        TestServer::with_limits(Limits::default()).await
    }

    /// A server with custom limits, on a fresh database.
    pub async fn with_limits(limits: Limits) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
        let clock = ManualClock::starting_at(START);
        TestServer::open(dir, clock, limits).await
    }

    /// A server with custom limits and WebSocket settings, on a fresh database.
    pub async fn with_settings(limits: Limits, websocket: WsSettings) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
        let clock = ManualClock::starting_at(START);
        TestServer::open_with(dir, clock, limits, websocket).await
    }

    /// A server on the database of `dir` (e.g. reopening after a shutdown) with `clock`.
    pub async fn open(dir: Arc<TempDir>, clock: ManualClock, limits: Limits) -> TestServer {
        TestServer::open_with(dir, clock, limits, WsSettings::default()).await
    }

    /// [`TestServer::open`] with custom WebSocket settings.
    pub async fn open_with(
        dir: Arc<TempDir>,
        clock: ManualClock,
        limits: Limits,
        websocket: WsSettings,
    ) -> TestServer {
        let store = store_url(&dir).await;
        TestServer::on_store(dir, store, clock, limits, websocket).await
    }

    /// A server on a given store (e.g. a second node on the database of another server).
    pub async fn on_store(
        dir: Arc<TempDir>,
        store: StoreUrl,
        clock: ManualClock,
        limits: Limits,
        websocket: WsSettings,
    ) -> TestServer {
        TestServer::with_notify(dir, store, clock, limits, websocket, None).await
    }

    /// [`TestServer::on_store`] with notification delivery.
    pub async fn with_notify(
        dir: Arc<TempDir>,
        store: StoreUrl,
        clock: ManualClock,
        limits: Limits,
        websocket: WsSettings,
        notify: Option<cairn::notify::NotifySettings>,
    ) -> TestServer {
        let settings = Settings {
            limits,
            websocket,
            // One signing key signs confirmation requests and verifies them, as with
            // `--signing-key`.
            auth: cairn::auth::AuthSettings {
                signing_key: notify.as_ref().and_then(|n| n.confirmation_key.clone()),
                ..Default::default()
            },
            notify,
            ..Settings::on_store(store, Duration::from_secs(3600))
        };
        TestServer::launch(dir, settings, clock).await
    }

    /// A server on a fresh database whose settings `adjust` changes from the defaults.
    pub async fn custom(clock: ManualClock, adjust: impl FnOnce(&mut Settings)) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
        let store = store_url(&dir).await;
        TestServer::custom_in(dir, store, clock, adjust).await
    }

    /// [`TestServer::custom`] on the store of `dir` (e.g. reopening after a shutdown).
    pub async fn custom_in(
        dir: Arc<TempDir>,
        store: StoreUrl,
        clock: ManualClock,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestServer {
        let mut settings = Settings::on_store(store, Duration::from_secs(3600));
        adjust(&mut settings);
        TestServer::launch(dir, settings, clock).await
    }

    /// Opens and serves `settings`.
    pub async fn launch(dir: Arc<TempDir>, settings: Settings, clock: ManualClock) -> TestServer {
        let server = Server::open(&settings, Arc::new(clock.clone()))
            .await
            .expect("the server opens its store");
        let store = server.state().store.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(server.run(listener, shutdown));
        TestServer {
            addr,
            base: format!("http://{addr}"),
            clock,
            store,
            stop: Some(stop),
            task: Some(task),
            dir,
        }
    }

    /// The temporary directory holding the database (to reopen it after a shutdown).
    pub fn dir(&self) -> Arc<TempDir> {
        self.dir.clone()
    }

    /// The WebSocket API of this server (served on the REST port).
    pub fn ws_url(&self) -> String {
        format!("ws://{}/v2/ws", self.addr)
    }

    /// A client with a fresh Client-ID in a fresh project.
    pub fn client(&self) -> Client {
        Client::new(&self.base, &new_uuid(), &format!("project-{}", new_uuid()))
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, secs: i64) {
        self.clock.advance_secs(secs);
    }

    /// The Prometheus text `GET /metrics` serves.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body")
    }

    /// Records every expiry due now.
    pub async fn sweep(&self) {
        self.store.sweep(|| true).await.expect("the sweep succeeds");
    }

    /// Stops the server cleanly: in-flight requests finish, the store closes.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("the server stops within 20 s")
                .expect("the server task does not panic")
                .expect("the server stops without error");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Notification delivery as the tests run it: 5-second timeout, addresses in `allow` open
/// to the SSRF guard (e.g. `127.0.0.1/32` for a local receiver).
pub fn notify_settings(allow: &[&str]) -> cairn::notify::NotifySettings {
    let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
    cairn::notify::NotifySettings {
        send: cairn::notify::send::SendSettings {
            timeout: Duration::from_secs(5),
            per_subscriber: 4,
            policy: Arc::new(cairn::model::AddressPolicy::new(&allow).unwrap()),
            webhook_key: None,
            smtp_url: None,
            mail_from: "cairn@localhost".into(),
            mails: Default::default(),
        },
        max_pending: 10_000,
        confirmation_key: None,
    }
}

/// Zaqar's default limits, with the same exceptions to the SSRF guard at creation.
pub fn notify_limits(allow: &[&str]) -> Limits {
    Limits {
        notify_allow_hosts: allow.iter().map(|s| s.to_string()).collect(),
        ..Limits::default()
    }
}

/// The PostgreSQL server the tests use.
pub fn postgres_url() -> String {
    std::env::var("CAIRN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The machine's cache of test installs (`CAIRN_CACHE`, default `~/.cache/cairn`), where
/// `scripts/test` puts the Keystone venv and the Tansu broker; see `scripts/cache-paths`.
pub fn cache_dir() -> std::path::PathBuf {
    match std::env::var_os("CAIRN_CACHE") {
        Some(dir) => dir.into(),
        None => std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
            .join(".cache/cairn"),
    }
}

/// Whether this run tests the PostgreSQL backend.
pub fn on_postgres() -> bool {
    std::env::var("CAIRN_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The store of a test server whose files live in `dir`: SQLite in `dir`, or a PostgreSQL
/// schema named after `dir` (so reopening `dir` reopens the same database).
pub async fn store_url(dir: &TempDir) -> StoreUrl {
    if !on_postgres() {
        return StoreUrl::Sqlite(dir.path().join("cairn.db"));
    }
    let name = dir.path().file_name().unwrap().to_string_lossy();
    let schema: String = format!("cairn_{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    StoreUrl::Postgres(fresh_schema(&schema).await)
}

/// Creates `schema` (if new) in the test database; returns a URL that works inside it.
pub async fn fresh_schema(schema: &str) -> String {
    use sqlx::Connection as _;
    let url = postgres_url();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {url} ({e}). Start it (e.g. `service postgresql \
             start`) or point CAIRN_TEST_POSTGRES_URL at a server with trust authentication."
        )
    });
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(&mut conn)
        .await
        .expect("create the test schema");
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options[search_path]={schema}")
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An HTTP response, read in full.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body parsed as JSON; `Value::Null` when empty, a string when not JSON.
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> &str {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location header in {self:?}"))
    }

    /// Asserts the status, panicking with the whole response otherwise.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status; response: {self:?}");
        self
    }

    /// Asserts a Zaqar error: the status and a JSON body with this title and a non-empty
    /// description.
    #[track_caller]
    pub fn expect_error(&self, status: u16, title: &str) -> &Self {
        self.expect(status);
        assert_eq!(
            self.body["title"], title,
            "unexpected error title; response: {self:?}"
        );
        let description = self.body["description"].as_str().unwrap_or("");
        assert!(
            !description.is_empty(),
            "error without a description; response: {self:?}"
        );
        self
    }

    /// Asserts an empty body (204s and friends).
    #[track_caller]
    pub fn expect_empty(&self) -> &Self {
        assert!(self.text.is_empty(), "expected no body; response: {self:?}");
        self
    }

    /// The error description (empty if none).
    pub fn description(&self) -> &str {
        self.body["description"].as_str().unwrap_or("")
    }

    /// The `messages` array of the body.
    pub fn messages(&self) -> &Vec<Value> {
        self.body["messages"]
            .as_array()
            .unwrap_or_else(|| panic!("no messages array in {self:?}"))
    }

    /// The ids of the `messages` of the body, in order.
    pub fn message_ids(&self) -> Vec<String> {
        self.messages()
            .iter()
            .map(|m| m["id"].as_str().expect("message id").to_owned())
            .collect()
    }

    /// The href of the `next` link, if the page has one.
    pub fn next_link(&self) -> Option<String> {
        let links = self.body["links"]
            .as_array()
            .unwrap_or_else(|| panic!("no links array in {self:?}"));
        links
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().expect("link href").to_owned())
    }
}

/// A Zaqar client: every request carries its `Client-ID` and `X-Project-ID`.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    pub client_id: String,
    pub project: String,
    /// Headers every request carries besides Client-ID and X-Project-ID (e.g. a token).
    pub extra: Vec<(String, String)>,
}

impl Client {
    pub fn new(base: &str, client_id: &str, project: &str) -> Client {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        Client {
            http,
            base: base.to_owned(),
            client_id: client_id.to_owned(),
            project: project.to_owned(),
            extra: Vec::new(),
        }
    }

    /// This client, sending also `name: value` on every request.
    pub fn with_header(&self, name: &str, value: &str) -> Client {
        let mut client = self.clone();
        client.extra.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        client.extra.push((name.to_owned(), value.to_owned()));
        client
    }

    /// The same project, another Client-ID (another instance of the same tenant).
    pub fn other_client(&self) -> Client {
        self.with_client_id(&new_uuid())
    }

    pub fn with_client_id(&self, client_id: &str) -> Client {
        Client {
            client_id: client_id.to_owned(),
            ..self.clone()
        }
    }

    pub fn with_project(&self, project: &str) -> Client {
        Client {
            project: project.to_owned(),
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with the default headers.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .bare(method, path)
            .header("Client-ID", &self.client_id)
            .header("X-Project-ID", &self.project);
        for (name, value) in &self.extra {
            request = request.header(name, value);
        }
        request
    }

    /// A request without any default header.
    pub fn bare(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Sends a request and reads the whole response.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let response = request
            .send()
            .await
            .expect("the request reaches the server");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()))
        };
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn head(&self, path: &str) -> Resp {
        self.send(self.request(Method::HEAD, path)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn put_empty(&self, path: &str) -> Resp {
        self.send(self.request(Method::PUT, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn post_empty(&self, path: &str) -> Resp {
        self.send(self.request(Method::POST, path)).await
    }

    /// A body sent verbatim as `application/json` (malformed documents, exact sizes).
    pub async fn send_raw(&self, method: Method, path: &str, body: impl Into<Vec<u8>>) -> Resp {
        let request = self
            .request(method, path)
            .header("Content-Type", "application/json")
            .body(body.into());
        self.send(request).await
    }

    /// A plain JSON PATCH (claims).
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send(self.request(Method::PATCH, path).json(body))
            .await
    }

    /// A queue metadata PATCH with the JSON-patch media type.
    pub async fn patch_queue(&self, queue: &str, ops: &Value) -> Resp {
        let request = self
            .request(Method::PATCH, &format!("/v2/queues/{queue}"))
            .header("Content-Type", JSON_PATCH)
            .body(ops.to_string());
        self.send(request).await
    }

    // ---- domain helpers -------------------------------------------------------------

    /// Creates a queue with metadata, asserting 201.
    pub async fn create_queue(&self, queue: &str, metadata: &Value) {
        self.put(&format!("/v2/queues/{queue}"), metadata)
            .await
            .expect(201);
    }

    /// Posts messages (each a full message document), asserting 201; returns the new ids.
    pub async fn post_messages(&self, queue: &str, messages: &[Value]) -> Vec<String> {
        let r = self
            .post(
                &format!("/v2/queues/{queue}/messages"),
                &json!({ "messages": messages }),
            )
            .await;
        r.expect(201);
        r.body["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|href| last_segment(href.as_str().expect("href")).to_owned())
            .collect()
    }

    /// Posts one message with this body (default TTL); returns its id.
    pub async fn post_one(&self, queue: &str, body: Value) -> String {
        self.post_messages(queue, &[json!({ "body": body })])
            .await
            .remove(0)
    }

    /// Posts `n` messages with bodies `{"n": 0..n}`; returns their ids in order.
    pub async fn post_n(&self, queue: &str, n: usize) -> Vec<String> {
        let messages: Vec<Value> = (0..n).map(|i| json!({ "body": { "n": i } })).collect();
        self.post_messages(queue, &messages).await
    }

    /// Claims messages; `None` on 204, else the claim id and the claimed messages.
    pub async fn claim(
        &self,
        queue: &str,
        body: &Value,
        limit: Option<u32>,
    ) -> Option<(String, Vec<Value>)> {
        let path = match limit {
            Some(n) => format!("/v2/queues/{queue}/claims?limit={n}"),
            None => format!("/v2/queues/{queue}/claims"),
        };
        let r = self.post(&path, body).await;
        match r.status {
            204 => {
                r.expect_empty();
                None
            }
            201 => {
                let claim_id = last_segment(r.location()).to_owned();
                Some((claim_id, r.messages().clone()))
            }
            _ => panic!("unexpected claim response: {r:?}"),
        }
    }

    /// Lists messages with `query` (e.g. `echo=true`), returning the ids on the page.
    pub async fn list_ids(&self, queue: &str, query: &str) -> Vec<String> {
        let r = self
            .get(&format!("/v2/queues/{queue}/messages?{query}"))
            .await;
        r.expect(200);
        r.message_ids()
    }

    /// The `messages` object of the queue's stats.
    pub async fn stats(&self, queue: &str) -> Value {
        let r = self.get(&format!("/v2/queues/{queue}/stats")).await;
        r.expect(200);
        r.body["messages"].clone()
    }
}

/// The last path segment of an href, without any query string.
pub fn last_segment(href: &str) -> &str {
    let path = href.split('?').next().unwrap_or(href);
    path.rsplit('/').next().unwrap_or(path)
}

/// The metadata Zaqar reports for a queue with nothing stored, under default limits.
pub fn default_metadata() -> Value {
    json!({
        "_max_messages_post_size": 262144,
        "_default_message_ttl": 3600,
        "_default_message_delay": 0,
        "_dead_letter_queue": null,
        "_dead_letter_queue_messages_ttl": null,
        "_max_claim_count": null,
        "_enable_encrypt_messages": false,
    })
}

/// `default_metadata()` with `extra` merged over it.
pub fn metadata_with(extra: Value) -> Value {
    let mut md = default_metadata();
    for (k, v) in extra.as_object().expect("an object") {
        md[k] = v.clone();
    }
    md
}

/// Sorts a list of ids (for order-insensitive comparisons).
pub fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}
