//! Helpers for the audit, replay and event-tail tests: the `X-Cairn-Sequence` header, paging
//! through the event feed and other listings, message histories, a whole-project snapshot
//! (to compare the state a server serves before and after a replay), the `cairn` binary's
//! offline commands, and a tiny seeded pseudo-random generator.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use cairn::app::{Server, Settings};
use cairn::model::ManualClock;
use cairn::state::Core;
use cairn::store::StoreUrl;
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{last_segment, new_uuid, Client, Resp, TestServer};

/// The response header carrying the log position of a write.
pub const SEQ_HEADER: &str = "x-cairn-sequence";

/// Most pages any listing helper follows before giving up (a runaway `next` link).
const MAX_PAGES: usize = 10_000;

/// The `X-Cairn-Sequence` of a response, if it has one (panics if it is not an integer).
pub fn seq_of(r: &Resp) -> Option<i64> {
    r.header(SEQ_HEADER).map(|v| {
        v.parse::<i64>()
            .unwrap_or_else(|_| panic!("X-Cairn-Sequence is not an integer: {v:?} in {r:?}"))
    })
}

/// The `X-Cairn-Sequence` of a write's response; panics if it is missing.
#[track_caller]
pub fn seq(r: &Resp) -> i64 {
    seq_of(r).unwrap_or_else(|| panic!("no X-Cairn-Sequence header on a write: {r:?}"))
}

/// The `x-openstack-request-id` of a response.
#[track_caller]
pub fn request_id(r: &Resp) -> String {
    r.header("x-openstack-request-id")
        .unwrap_or_else(|| panic!("no request id in {r:?}"))
        .to_owned()
}

/// The `seq` of each event document.
pub fn seqs(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| {
            e["seq"]
                .as_i64()
                .unwrap_or_else(|| panic!("event without seq: {e}"))
        })
        .collect()
}

/// The `type` of each event document.
pub fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e["type"]
                .as_str()
                .unwrap_or_else(|| panic!("event without type: {e}"))
                .to_owned()
        })
        .collect()
}

/// Asserts that `seqs` strictly increase (ordered, no duplicate).
#[track_caller]
pub fn assert_increasing(seqs: &[i64]) {
    for pair in seqs.windows(2) {
        assert!(
            pair[0] < pair[1],
            "positions do not strictly increase at {pair:?}: {seqs:?}"
        );
    }
}

/// Every item of a paged listing: follows `next` links from `first` until an empty page,
/// collecting the `key` array of each page; returns the items and the pages' sizes.
pub async fn collect_pages(c: &Client, first: &str, key: &str) -> (Vec<Value>, Vec<usize>) {
    let mut items = Vec::new();
    let mut sizes = Vec::new();
    let mut path = first.to_owned();
    for _ in 0..MAX_PAGES {
        let r = c.get(&path).await;
        r.expect(200);
        let page = r.body[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} array in {r:?}"))
            .clone();
        if page.is_empty() {
            assert_eq!(
                r.body["links"],
                json!([]),
                "an empty page has no next link: {r:?}"
            );
            return (items, sizes);
        }
        sizes.push(page.len());
        items.extend(page);
        path = r
            .next_link()
            .unwrap_or_else(|| panic!("a non-empty page without next link: {r:?}"));
    }
    panic!("more than {MAX_PAGES} pages from {first}");
}

/// The whole event feed of the client's project matching `query` (e.g. `queue=q&limit=50`),
/// following `next` links to the end.
pub async fn feed(c: &Client, query: &str) -> Vec<Value> {
    let first = if query.is_empty() {
        "/v2/events".to_owned()
    } else {
        format!("/v2/events?{query}")
    };
    collect_pages(c, &first, "events").await.0
}

/// `GET …/messages/{id}/history`.
pub async fn history(c: &Client, queue: &str, id: &str) -> Resp {
    c.get(&format!("/v2/queues/{queue}/messages/{id}/history"))
        .await
}

/// The history events of a message, asserting 200 and the echoed id.
#[track_caller]
pub fn history_events(r: &Resp, id: &str) -> Vec<Value> {
    r.expect(200);
    assert_eq!(
        r.body["message_id"], id,
        "history of another message: {r:?}"
    );
    r.body["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events array in {r:?}"))
        .clone()
}

/// Posts messages and returns the response (for its header) and the new ids.
pub async fn post_raw(c: &Client, queue: &str, messages: Value) -> (Resp, Vec<String>) {
    let r = c
        .post(
            &format!("/v2/queues/{queue}/messages"),
            &json!({ "messages": messages }),
        )
        .await;
    r.expect(201);
    let ids = r.body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|h| last_segment(h.as_str().expect("href")).to_owned())
        .collect();
    (r, ids)
}

/// The claim id in a `201` claim response's `Location`.
#[track_caller]
pub fn claim_id(r: &Resp) -> String {
    r.expect(201);
    last_segment(r.location()).to_owned()
}

/// The claim id a message href carries (`…?claim_id=X`), if any.
pub fn href_claim(href: &str) -> Option<&str> {
    href.split_once("?claim_id=").map(|(_, c)| c)
}

/// Runs sweeps until one records nothing more (a sweep handles at most a batch of expiries).
pub async fn settle(server: &TestServer) {
    for _ in 0..100 {
        let before = server.store.last_seq().await.expect("log head");
        server.sweep().await;
        let after = server.store.last_seq().await.expect("log head");
        if after == before {
            return;
        }
    }
    panic!("the sweeps never settle");
}

/// Everything a client of one project can read: queues (with metadata and stats), every
/// message (claimed and delayed ones included), the claims they are under, subscriptions,
/// the whole event feed and the history of `histories` (queue and message id).
pub async fn snapshot(c: &Client, histories: &[(String, String)]) -> Value {
    let (queues, _) = collect_pages(c, "/v2/queues?detailed=true&limit=20", "queues").await;
    let mut out = Map::new();
    let mut names = Vec::new();
    for q in &queues {
        let name = q["name"].as_str().expect("queue name").to_owned();
        names.push(name.clone());
        let metadata = c.get(&format!("/v2/queues/{name}")).await;
        metadata.expect(200);
        let stats = c.get(&format!("/v2/queues/{name}/stats")).await;
        stats.expect(200);
        let (messages, _) = collect_pages(
            c,
            &format!(
                "/v2/queues/{name}/messages?echo=true&include_claimed=true\
                 &include_delayed=true&limit=20"
            ),
            "messages",
        )
        .await;
        let mut claim_ids: Vec<String> = messages
            .iter()
            .filter_map(|m| m["href"].as_str().and_then(href_claim).map(str::to_owned))
            .collect();
        claim_ids.sort();
        claim_ids.dedup();
        let mut claims = Map::new();
        for id in &claim_ids {
            let r = c.get(&format!("/v2/queues/{name}/claims/{id}")).await;
            claims.insert(id.clone(), json!({"status": r.status, "body": r.body}));
        }
        let (subscriptions, _) = collect_pages(
            c,
            &format!("/v2/queues/{name}/subscriptions?limit=20"),
            "subscriptions",
        )
        .await;
        out.insert(
            name,
            json!({
                "listed": q,
                "metadata": metadata.body,
                "stats": stats.body,
                "messages": messages,
                "claims": claims,
                "subscriptions": subscriptions,
            }),
        );
    }
    let mut histories_out = Map::new();
    for (queue, id) in histories {
        let r = history(c, queue, id).await;
        histories_out.insert(id.clone(), json!({"status": r.status, "body": r.body}));
    }
    json!({
        "queue_names": names,
        "queues": out,
        "events": feed(c, "limit=100").await,
        "histories": histories_out,
    })
}

/// Asserts two snapshots are equal, naming the first part that differs.
#[track_caller]
pub fn assert_same_snapshot(before: &Value, after: &Value, what: &str) {
    if before == after {
        return;
    }
    let keys = ["queue_names", "queues", "events", "histories"];
    for key in keys {
        if before[key] != after[key] {
            if let (Some(b), Some(a)) = (before[key].as_object(), after[key].as_object()) {
                for (k, v) in b {
                    if a.get(k) != Some(v) {
                        panic!(
                            "{what}: {key}/{k} differs\nbefore: {v}\nafter:  {}",
                            a.get(k).unwrap_or(&Value::Null)
                        );
                    }
                }
                for k in a.keys() {
                    if !b.contains_key(k) {
                        panic!("{what}: {key}/{k} appeared: {}", a[k]);
                    }
                }
            }
            panic!(
                "{what}: {key} differs\nbefore: {}\nafter:  {}",
                before[key], after[key]
            );
        }
    }
    panic!("{what}: snapshots differ\nbefore: {before}\nafter:  {after}");
}

/// A REST server on a store *without* the expiry sweeper (which `TestServer` runs once at
/// start-up): it serves a store exactly as it is, e.g. a replay up to some point, at the
/// instant of the given clock, and writes nothing unless asked to.
pub struct Inspector {
    pub base: String,
    state: Core,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Inspector {
    /// Serves the SQLite database at `db`.
    pub async fn open(db: &Path, clock: ManualClock) -> Inspector {
        let settings = Settings::on_store(
            StoreUrl::Sqlite(db.to_path_buf()),
            Duration::from_secs(3600),
        );
        let server = Server::open(&settings, Arc::new(clock.clone()))
            .await
            .expect("the store opens");
        let state = server.state().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let router = cairn::transports::http::router(state.clone(), None, Default::default());
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("the inspector serves");
        });
        Inspector {
            base: format!("http://{addr}"),
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A client of `project` (any Client-ID).
    pub fn client(&self, project: &str) -> Client {
        Client::new(&self.base, &new_uuid(), project)
    }

    pub async fn last_seq(&self) -> i64 {
        self.state.store.last_seq().await.expect("log head")
    }

    /// Stops serving and closes the store.
    pub async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("the inspector stops within 20 s")
                .expect("the inspector does not panic");
        }
        self.state.store.close().await;
    }
}

impl Drop for Inspector {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Runs the `cairn` binary with these arguments (no inherited `CAIRN_*` store settings).
pub fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env_remove("CAIRN_DATA_DIR")
        .env_remove("CAIRN_STORE")
        .stdin(Stdio::null())
        .output()
        .expect("the cairn binary runs")
}

/// `cairn verify --data-dir DIR --quiet`.
pub fn cairn_verify(dir: &Path) -> Output {
    cairn(&["verify", "--data-dir", path_str(dir), "--quiet"])
}

/// `cairn replay --data-dir DIR --quiet` (in place).
pub fn cairn_replay_in_place(dir: &Path) -> Output {
    cairn(&["replay", "--data-dir", path_str(dir), "--quiet"])
}

/// `cairn replay --data-dir DIR --into INTO --until UNTIL --quiet`.
pub fn cairn_replay_into(dir: &Path, into: &Path, until: &str) -> Output {
    cairn(&[
        "replay",
        "--data-dir",
        path_str(dir),
        "--into",
        path_str(into),
        "--until",
        until,
        "--quiet",
    ])
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Standard output of a run, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts an exit code, showing both output streams otherwise.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32, what: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: unexpected exit status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// xorshift64*: a tiny, seeded, reproducible pseudo-random generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Never zero (xorshift's fixed point); mix the seed a little.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "an empty range");
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A random element (`None` if empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.below(items.len() as u64) as usize])
        }
    }
}
