//! The PostgreSQL backend as a multi-node service: several Cairn nodes on one database
//! behave as one. These tests always use PostgreSQL (`CAIRN_TEST_POSTGRES_URL`, default the
//! machine's server) and fail, saying how to start it, when it cannot be reached. The rest
//! of the suite runs on PostgreSQL too with `CAIRN_TEST_BACKEND=postgres`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::process::Cairn;
use crate::common::ws::{Codec, WsClient};
use crate::common::{Client, TestServer, START};
use cairn::model::{Limits, ManualClock};
use cairn::store::StoreUrl;
use cairn::transports::websocket::WsSettings;
use serde_json::{json, Value};

/// A fresh schema for one test; its URL.
async fn fresh_database() -> String {
    common::fresh_schema(&format!("cairn_nodes_{}", uuid::Uuid::new_v4().simple())).await
}

/// An in-process node on the database at `url`, with its own clock.
async fn node(url: &str) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
    let store = StoreUrl::Postgres(url.to_owned());
    let clock = ManualClock::starting_at(START);
    TestServer::on_store(dir, store, clock, Limits::default(), WsSettings::default()).await
}

/// An in-process node that delivers notifications (to 127.0.0.1 only).
async fn notifying_node(url: &str) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
    let store = StoreUrl::Postgres(url.to_owned());
    let notify = common::notify_settings(&["127.0.0.1/32"]);
    let limits = common::notify_limits(&["127.0.0.1/32"]);
    let clock = ManualClock::starting_at(START);
    TestServer::with_notify(
        dir,
        store,
        clock,
        limits,
        WsSettings::default(),
        Some(notify),
    )
    .await
}

/// Bodies `{"n": …}` the receiver got at `path`, with how often each came.
fn counts(rx: &common::receiver::Receiver, path: &str) -> HashMap<u64, usize> {
    let mut seen = HashMap::new();
    for r in rx.at(path) {
        *seen
            .entry(r.json()["body"]["n"].as_u64().unwrap())
            .or_default() += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_delivers_notifications_and_another_takes_over_when_it_stops() {
    let url = fresh_database().await;
    let rx = common::receiver::Receiver::start().await;
    let (a, b) = (notifying_node(&url).await, notifying_node(&url).await);
    let on_a = a.client();
    let on_b = Client::new(&b.base, &common::new_uuid(), &on_a.project);
    on_a.post(
        "/v2/queues/q/subscriptions",
        &json!({"subscriber": rx.url("/hook"), "ttl": 3600}),
    )
    .await
    .expect(201);
    // Posts through both nodes are each delivered once: one node holds the lease.
    for n in 0..20u64 {
        let c = if n % 2 == 0 { &on_a } else { &on_b };
        c.post_one("q", json!({"n": n})).await;
    }
    rx.wait_for("/hook", 20, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = counts(&rx, "/hook");
    assert_eq!(seen.len(), 20, "{seen:?}");
    assert!(seen.values().all(|n| *n == 1), "delivered twice: {seen:?}");
    // Whichever node delivered, stopping both one at a time hands the work over: stop A,
    // post through B; then the survivor delivers everything posted.
    a.shutdown().await;
    for n in 20..30u64 {
        on_b.post_one("q", json!({"n": n})).await;
    }
    let got = rx.wait_for("/hook", 30, Duration::from_secs(20)).await;
    let seen = counts(&rx, "/hook");
    assert!(
        (0..30).all(|n| seen.contains_key(&n)),
        "missing: {seen:?} of {got:?}"
    );
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_queues_messages_claims_and_the_log() {
    let url = fresh_database().await;
    let (a, b) = (node(&url).await, node(&url).await);
    let on_a = a.client();
    let on_b = Client::new(&b.base, &common::new_uuid(), &on_a.project);

    on_a.create_queue("shared", &json!({"owner": "ops"})).await;
    let posted = on_b.post_n("shared", 6).await;
    // A write acknowledged by one node is visible through the other at once.
    let mut listed = on_a.list_ids("shared", "echo=true").await;
    listed.sort();
    let mut want = posted.clone();
    want.sort();
    assert_eq!(listed, want);

    // Claims through either node split the messages.
    let (claim_a, got_a) = on_a
        .claim("shared", &json!({"ttl": 300}), Some(4))
        .await
        .unwrap();
    let (claim_b, got_b) = on_b
        .claim("shared", &json!({"ttl": 300}), Some(4))
        .await
        .unwrap();
    assert_ne!(claim_a, claim_b);
    let ids = |ms: &[Value]| -> HashSet<String> {
        ms.iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(got_a.len(), 4);
    assert_eq!(got_b.len(), 2);
    assert!(ids(&got_a).is_disjoint(&ids(&got_b)));
    // The claim made on A is served by B.
    on_b.get(&format!("/v2/queues/shared/claims/{claim_a}"))
        .await
        .expect(200);

    // The audit trail reads the same from both nodes.
    let feed_a = on_a.get("/v2/events?limit=100").await;
    let feed_b = on_b.get("/v2/events?limit=100").await;
    feed_a.expect(200);
    assert_eq!(feed_a.body["events"], feed_b.body["events"]);
    let seqs: Vec<i64> = feed_a.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "gap-free"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscribers_are_woken_by_writes_on_another_node() {
    let url = fresh_database().await;
    let (a, b) = (node(&url).await, node(&url).await);
    let mut subscriber = WsClient::open(&a, Codec::Json).await;
    subscriber
        .send("queue_create", json!({"queue_name": "news"}))
        .await
        .expect(201);
    subscriber
        .send("subscription_create", json!({"queue_name": "news"}))
        .await
        .expect(201);

    let producer = Client::new(&b.base, &common::new_uuid(), &subscriber.project);
    producer.post_one("news", json!({"from": "node b"})).await;

    let push = subscriber.recv_push().await;
    assert_eq!(push["body"], json!({"from": "node b"}), "{push}");
    assert_eq!(push["queue_name"], "news");
    subscriber.expect_no_push(Duration::from_millis(300)).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_and_dead_lettering_on_several_nodes_happen_once() {
    let url = fresh_database().await;
    let (a, b) = (node(&url).await, node(&url).await);
    let on_a = a.client();
    let on_b = Client::new(&b.base, &common::new_uuid(), &on_a.project);
    on_a.create_queue(
        "work",
        &json!({"_max_claim_count": 1, "_dead_letter_queue": "dlq"}),
    )
    .await;
    let short: Vec<Value> = (0..20).map(|n| json!({"body": n, "ttl": 60})).collect();
    let expiring = on_a.post_messages("work", &short).await;
    let doomed = on_a
        .post_messages("work", &[json!({"body": "doomed", "ttl": 3600})])
        .await;

    // The long-lived message is claimed once (on A) and released, so its next claim
    // dead-letters it; both nodes try at once.
    a.advance(61);
    b.advance(61);
    let (claim, _) = on_a.claim("work", &json!({}), None).await.expect("a claim");
    on_a.delete(&format!("/v2/queues/work/claims/{claim}"))
        .await
        .expect(204);
    let empty = json!({});
    let (ra, rb) = tokio::join!(
        on_a.post("/v2/queues/work/claims", &empty),
        on_b.post("/v2/queues/work/claims", &empty),
    );
    ra.expect(204);
    rb.expect(204);
    // Both nodes sweep at the same moment.
    tokio::join!(a.sweep(), b.sweep(), a.sweep(), b.sweep());

    let events = whole_feed(&on_b, "queue=work").await;
    let expired: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "MessagesExpired")
        .flat_map(|e| e["event"]["ids"].as_array().unwrap())
        .collect();
    let mut want: Vec<&str> = expiring.iter().map(String::as_str).collect();
    let mut got: Vec<&str> = expired.iter().map(|v| v.as_str().unwrap()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "each expired message is recorded exactly once");
    let moved = events
        .iter()
        .filter(|e| e["type"] == "MessageDeadLettered")
        .count();
    assert_eq!(moved, 1, "the message is dead-lettered once");
    assert_eq!(on_b.list_ids("dlq", "echo=true").await, doomed);
    a.shutdown().await;
    b.shutdown().await;
}

// ---- three processes under load -----------------------------------------------------------

const PRODUCERS: usize = 6;
const POSTS_PER_PRODUCER: usize = 40;
const BATCH: usize = 5;
const CONSUMERS: usize = 6;

/// What the consumers saw: every (message id, claim id) they were handed.
type Deliveries = Arc<Mutex<Vec<(String, String)>>>;

/// Posts batches round-robin over the nodes, moving on to the next node when one fails;
/// returns the ids acknowledged with 201.
async fn produce(nodes: Vec<String>, project: String, p: usize) -> Vec<String> {
    let client_id = common::new_uuid();
    let mut acked = Vec::new();
    for i in 0..POSTS_PER_PRODUCER {
        let messages: Vec<Value> = (0..BATCH)
            .map(|k| json!({"body": {"p": p, "i": i, "k": k}, "ttl": 3600}))
            .collect();
        // Each post tries every node once at most.
        for attempt in 0..nodes.len() {
            let c = Client::new(
                &nodes[(p + i + attempt) % nodes.len()],
                &client_id,
                &project,
            );
            let sent = c
                .request(reqwest::Method::POST, "/v2/queues/work/messages")
                .json(&json!({ "messages": messages }))
                .send()
                .await;
            let Ok(response) = sent else { continue };
            if response.status().as_u16() != 201 {
                continue;
            }
            let Ok(body) = response.json::<Value>().await else {
                continue;
            };
            for href in body["resources"].as_array().expect("resources") {
                acked.push(common::last_segment(href.as_str().unwrap()).to_owned());
            }
            break;
        }
    }
    acked
}

/// Claims and deletes through the nodes in turn until `done` is set and the queue looks
/// empty, or the deadline passes.
async fn consume(
    nodes: Vec<String>,
    project: String,
    c: usize,
    done: Arc<AtomicBool>,
    deliveries: Deliveries,
) {
    let client_id = common::new_uuid();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut turn = c;
    while Instant::now() < deadline {
        turn += 1;
        let client = Client::new(&nodes[turn % nodes.len()], &client_id, &project);
        let sent = client
            .request(reqwest::Method::POST, "/v2/queues/work/claims?limit=10")
            .json(&json!({"ttl": 300, "grace": 60}))
            .send()
            .await;
        let Ok(response) = sent else { continue };
        match response.status().as_u16() {
            201 => {}
            204 if done.load(Ordering::SeqCst) => return,
            _ => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        }
        let Ok(body) = response.json::<Value>().await else {
            continue;
        };
        let claim_id = body["messages"][0]["href"]
            .as_str()
            .and_then(|h| h.split("claim_id=").nth(1))
            .expect("a claimed message names its claim")
            .to_owned();
        let ids: Vec<String> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        deliveries
            .lock()
            .unwrap()
            .extend(ids.iter().map(|id| (id.clone(), claim_id.clone())));
        // Delete by ids; a failing node is retried on the next one (deleting is idempotent).
        for attempt in 0..nodes.len() {
            let client = Client::new(&nodes[(turn + attempt) % nodes.len()], &client_id, &project);
            let path = format!("/v2/queues/work/messages?ids={}", ids.join(","));
            if let Ok(r) = client.request(reqwest::Method::DELETE, &path).send().await {
                if r.status().as_u16() == 204 {
                    break;
                }
            }
        }
    }
}

/// Runs the producers and consumers over `nodes`, calling `during` once a third of the
/// posts are acknowledged; returns the acknowledged ids and the deliveries.
async fn run_load<F: FnOnce()>(
    nodes: Vec<String>,
    project: &str,
    during: F,
) -> (Vec<String>, Vec<(String, String)>) {
    let deliveries: Deliveries = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| tokio::spawn(produce(nodes.clone(), project.to_owned(), p)))
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let (nodes, project) = (nodes.clone(), project.to_owned());
            tokio::spawn(consume(nodes, project, c, done.clone(), deliveries.clone()))
        })
        .collect();
    // Wait until a third of the messages are delivered, then act.
    let third = PRODUCERS * POSTS_PER_PRODUCER * BATCH / 3;
    let deadline = Instant::now() + Duration::from_secs(60);
    while deliveries.lock().unwrap().len() < third && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    during();
    let mut acked = Vec::new();
    for p in producers {
        acked.extend(p.await.expect("producer task"));
    }
    done.store(true, Ordering::SeqCst);
    for c in consumers {
        c.await.expect("consumer task");
    }
    let deliveries = deliveries.lock().unwrap().clone();
    (acked, deliveries)
}

/// No message was handed out twice (each claim lives 300 s, far longer than the test, so a
/// second delivery would mean two live claims on one message); returns the acknowledged
/// messages that were never delivered.
fn undelivered(acked: &[String], deliveries: &[(String, String)]) -> Vec<String> {
    let mut claims_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, claim) in deliveries {
        claims_of.entry(id).or_default().push(claim);
    }
    let twice: Vec<_> = claims_of.iter().filter(|(_, c)| c.len() > 1).collect();
    assert!(twice.is_empty(), "messages in two live claims: {twice:?}");
    acked
        .iter()
        .filter(|id| !claims_of.contains_key(id.as_str()))
        .cloned()
        .collect()
}

/// The whole event feed of the project, paged as a client would.
async fn whole_feed(c: &Client, query: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut marker = 0;
    loop {
        let r = c
            .get(&format!("/v2/events?limit=100&marker={marker}&{query}"))
            .await;
        r.expect(200);
        let page = r.body["events"].as_array().unwrap().clone();
        let Some(last) = page.last() else {
            return events;
        };
        marker = last["seq"].as_i64().unwrap();
        events.extend(page);
    }
}

/// `cairn verify` on the database: the log replays to the live read models.
fn verify(url: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["verify", "--quiet", "--store", url])
        .output()
        .expect("cairn verify runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("read models match the log"), "{stdout}");
}

async fn start_nodes(url: &str, n: usize) -> Vec<Cairn> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(Cairn::start(&["--store", url, "--sweep-interval", "1"]).await);
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_under_concurrent_load_deliver_everything_once() {
    let url = fresh_database().await;
    let nodes = start_nodes(&url, 3).await;
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let project = format!("project-{}", common::new_uuid());
    Client::new(&bases[0], &common::new_uuid(), &project)
        .create_queue("work", &json!({}))
        .await;

    let (acked, deliveries) = run_load(bases.clone(), &project, || {}).await;

    assert_eq!(
        acked.len(),
        PRODUCERS * POSTS_PER_PRODUCER * BATCH,
        "every post succeeds"
    );
    let missing = undelivered(&acked, &deliveries);
    assert!(
        missing.is_empty(),
        "acknowledged but never delivered: {missing:?}"
    );
    assert_eq!(deliveries.len(), acked.len());
    // Every node reads the same log, in the same order.
    let mut feeds = Vec::new();
    for base in &bases {
        let c = Client::new(base, &common::new_uuid(), &project);
        feeds.push(whole_feed(&c, "queue=work").await);
    }
    let posts = feeds[0]
        .iter()
        .filter(|e| e["type"] == "MessagesPosted")
        .count();
    assert_eq!(posts, PRODUCERS * POSTS_PER_PRODUCER);
    assert!(
        feeds.iter().all(|f| *f == feeds[0]),
        "the nodes disagree on the log"
    );
    verify(&url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_node_under_load_loses_nothing_acknowledged() {
    let url = fresh_database().await;
    let mut nodes = start_nodes(&url, 3).await;
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let project = format!("project-{}", common::new_uuid());
    Client::new(&bases[0], &common::new_uuid(), &project)
        .create_queue("work", &json!({}))
        .await;
    let victim = nodes.remove(2);
    let killed = Arc::new(AtomicUsize::new(0));
    let flag = killed.clone();

    let (acked, deliveries) = run_load(bases.clone(), &project, move || {
        victim.kill();
        flag.store(1, Ordering::SeqCst);
    })
    .await;

    assert_eq!(killed.load(Ordering::SeqCst), 1);
    // The survivors served the rest: every post was acknowledged by some node.
    assert_eq!(acked.len(), PRODUCERS * POSTS_PER_PRODUCER * BATCH);
    // A claim granted just as its node died reached no consumer: its messages wait, still
    // stored and claimed, for the claim to expire. Everything else was delivered.
    let missing = undelivered(&acked, &deliveries);
    let survivor = Client::new(&bases[0], &common::new_uuid(), &project);
    for chunk in missing.chunks(20) {
        let r = survivor
            .get(&format!("/v2/queues/work/messages?ids={}", chunk.join(",")))
            .await;
        r.expect(200);
        assert_eq!(
            r.messages().len(),
            chunk.len(),
            "acknowledged messages lost: {r:?}"
        );
    }
    let stats = survivor.stats("work").await;
    assert_eq!(stats["total"], missing.len(), "{stats}");
    assert_eq!(stats["free"], 0, "the queue drained: {stats}");
    verify(&url);
}

// ---- database outage ----------------------------------------------------------------------

/// A TCP proxy in front of PostgreSQL that can be cut (every connection dropped, new ones
/// refused) and restored on the same port.
struct Proxy {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(port: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                links.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Proxy {
            port,
            task: Some(task),
        }
    }

    /// Drops every connection and stops listening (the JoinSet aborts its links on drop).
    fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_gives_503_and_the_node_recovers() {
    let direct = fresh_database().await;
    let mut proxy = Proxy::start(0).await;
    let via_proxy = direct.replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port), 1);
    assert_ne!(
        direct, via_proxy,
        "the test database must be on 127.0.0.1:5432"
    );
    let server = node(&via_proxy).await;
    let c = server.client();
    c.create_queue("q", &json!({})).await;
    c.post_one("q", json!("before")).await;

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = c
        .post(
            "/v2/queues/q/messages",
            &json!({"messages": [{"body": "during"}]}),
        )
        .await;
    r.expect_error(503, "Service temporarily unavailable");
    let r = c.get("/v2/queues/q/stats").await;
    r.expect_error(503, "Service temporarily unavailable");

    let port = proxy.port;
    let _proxy = Proxy::start(port).await;
    posts_succeed_again(&c, "q", json!("after")).await;
    let stats = c.stats("q").await;
    assert_eq!(stats["total"], 2, "{stats}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restarted_under_load_loses_nothing_acknowledged() {
    // A server of the test's own, so that crashing it cuts no other test.
    let cluster = common::pg_cluster::PgCluster::start();
    let server = node(&cluster.url()).await;
    let c = server.client();
    c.create_queue("load", &json!({})).await;

    // Four producers post until told to stop; each keeps the bodies acknowledged with 201.
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let (c, stop, refused) = (c.clone(), stop.clone(), refused.clone());
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let body = json!({"p": p, "n": n});
                    let r = c
                        .post(
                            "/v2/queues/load/messages",
                            &json!({"messages": [{"body": body}]}),
                        )
                        .await;
                    match r.status {
                        201 => acknowledged.push(body),
                        503 => {
                            refused.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        _ => panic!("a post answered {r:?}"),
                    }
                }
                acknowledged
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(1)).await;
    // The crash and restart block; they run beside the producers' runtime threads.
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.crash();
        std::thread::sleep(Duration::from_secs(1));
        cluster.start_again();
        cluster
    })
    .await
    .expect("the cluster restarts");
    // The node recovers by itself: posts succeed again without a restart of Cairn.
    posts_succeed_again(&c, "load", json!("probe")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for producer in producers {
        acknowledged.extend(producer.await.expect("a producer ends"));
    }
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "no post saw the database down: the crash missed the load"
    );

    // Every acknowledged message is there (a post whose answer was lost may be there too).
    let mut stored = HashSet::new();
    let mut next = Some("/v2/queues/load/messages?echo=true&limit=20".to_owned());
    while let Some(page) = next {
        let r = c.get(&page).await;
        if r.status == 204 {
            break;
        }
        r.expect(200);
        if r.messages().is_empty() {
            break;
        }
        stored.extend(r.messages().iter().map(|m| m["body"].to_string()));
        next = r.next_link();
    }
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|b| !stored.contains(&b.to_string()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost, e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        lost.first()
    );
    server.shutdown().await;
    verify(&cluster.url());
}

/// Posts `body` to `queue` until it is accepted (the node recovered by itself), within 30 s;
/// meanwhile every answer must be a 503.
async fn posts_succeed_again(c: &Client, queue: &str, body: Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c
            .post(
                &format!("/v2/queues/{queue}/messages"),
                &json!({"messages": [{"body": body}]}),
            )
            .await;
        if r.status == 201 {
            return;
        }
        assert_eq!(r.status, 503, "{r:?}");
        assert!(
            Instant::now() < deadline,
            "the node did not recover in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A new database on the test server; its URL.
async fn new_database() -> (String, String) {
    use sqlx::Connection as _;
    let base = common::postgres_url();
    let name = format!("cairn_pool_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .expect("PostgreSQL is reachable");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create a database");
    let mut url = url::Url::parse(&base).expect("a URL");
    url.set_path(&format!("/{name}"));
    (name, url.to_string())
}

/// Drops the databases `new_database` made.
async fn drop_databases(names: &[String]) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&common::postgres_url())
        .await
        .expect("PostgreSQL is reachable");
    for name in names {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

/// How many messages of `queue` the store of the database at `url` holds.
async fn messages_in(url: &str, queue: &str) -> i64 {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("the pool's database");
    sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE queue = $1")
        .bind(queue)
        .fetch_one(&mut conn)
        .await
        .expect("count messages")
}

/// A node in admin mode on the database at `url`.
async fn admin_node(url: &str) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
    let store = StoreUrl::Postgres(url.to_owned());
    let clock = ManualClock::starting_at(START);
    TestServer::custom_in(dir, store, clock, |s| s.admin_mode = true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_a_catalogue_of_pools_on_two_databases() {
    let home = fresh_database().await;
    let (a, b) = (admin_node(&home).await, admin_node(&home).await);
    let on_a = a.client();
    let on_b = Client::new(&b.base, &common::new_uuid(), &on_a.project);
    let (one, one_url) = new_database().await;
    let (two, two_url) = new_database().await;
    for (pool, url) in [("one", &one_url), ("two", &two_url)] {
        on_a.put(
            &format!("/v2/pools/{pool}"),
            &json!({"uri": url, "weight": 1}),
        )
        .await
        .expect(201);
    }
    // B hears of the pools from A's events: wait until a queue it creates lands on one.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut probe = 0;
    loop {
        let name = format!("probe{probe}");
        on_b.post_n(&name, 1).await;
        if messages_in(&one_url, &name).await + messages_in(&two_url, &name).await == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node B never placed a queue on a pool"
        );
        probe += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Queues created through B spread over both databases, each whole in one of them.
    let mut on_one = 0;
    for i in 0..16 {
        let queue = format!("q{i:02}");
        on_b.post_n(&queue, 3).await;
        let (x, y) = (
            messages_in(&one_url, &queue).await,
            messages_in(&two_url, &queue).await,
        );
        assert!((x, y) == (3, 0) || (x, y) == (0, 3), "{queue}: {x} and {y}");
        on_one += usize::from(x == 3);
        // A finds each where B put it.
        assert_eq!(on_a.list_ids(&queue, "echo=true").await.len(), 3);
    }
    assert!(
        (1..16).contains(&on_one),
        "both pools take queues: {on_one} of 16 on one"
    );
    assert_eq!(
        messages_in(&home, "q00").await,
        0,
        "the node's own store holds none"
    );
    let listed = on_a.get("/v2/queues?limit=20").await;
    let names = listed.body["queues"].as_array().expect("queues").len();
    assert_eq!(names, (16 + probe + 1).min(20), "{listed:?}");

    // Both nodes refuse to drop a pool that holds queues; A deletes a queue B made.
    on_b.delete("/v2/pools/one")
        .await
        .expect_error(403, "Unable to delete");
    on_a.delete("/v2/queues/q00").await.expect(204);
    on_b.get("/v2/queues/q00/stats").await.expect(200);
    a.shutdown().await;
    b.shutdown().await;
    drop_databases(&[one, two]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_on_one_node_is_woken_by_a_post_on_another() {
    let url = fresh_database().await;
    let (a, b) = (node(&url).await, node(&url).await);
    let on_a = a.client();
    let on_b = Client::new(&b.base, &common::new_uuid(), &on_a.project);
    on_a.create_queue("polled", &json!({})).await;
    let waiting = {
        let on_a = on_a.clone();
        tokio::spawn(async move {
            let r = on_a
                .post("/v2/queues/polled/claims?wait=10", &json!({"ttl": 60}))
                .await;
            (r, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the claim waits");
    let posted_at = Instant::now();
    let id = on_b.post_one("polled", json!({"n": 1})).await;
    let (r, answered_at) = waiting.await.expect("the waiting claim");
    r.expect(201);
    assert_eq!(r.message_ids(), vec![id]);
    let woken = answered_at.saturating_duration_since(posted_at);
    assert!(
        woken < Duration::from_secs(2),
        "woken {woken:?} after the post on B"
    );
    a.shutdown().await;
    b.shutdown().await;
}
