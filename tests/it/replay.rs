//! Offline commands of the real binary on a store built through the API: `cairn verify`
//! (the read models match a replay of the log; a corrupted read model is reported) and
//! `cairn replay` (in place: the served state is unchanged; `--into … --until …`: the state
//! as it was at that point of the log).

use std::path::Path;
use std::sync::Arc;

use crate::common;
use crate::common::audit::{
    assert_exit, assert_same_snapshot, cairn, cairn_replay_in_place, cairn_replay_into,
    cairn_verify, feed, history, path_str, post_raw, seq, settle, snapshot, stdout, Inspector, Rng,
};
use crate::common::{new_uuid, Client, TestServer};
use cairn::model::{ManualClock, Timestamp};
use cairn::store::sqlite::rebuild;
use cairn::store::Quiet;
use serde_json::{json, Value};
use sqlx::{ConnectOptions, Connection};

const QUEUES: [&str; 3] = ["alpha", "beta", "gamma"];

/// One client's share of a workload on one queue: posts, claims (renewed, released, messages
/// deleted under them), pops, bulk deletes, metadata updates, subscriptions and now and then
/// a purge; worker 0 also moves the clock and sweeps. Returns the (queue, id) of every post.
async fn worker(
    c: Client,
    queue: &'static str,
    w: u64,
    rounds: usize,
    seed: u64,
    clock: Option<(ManualClock, cairn::store::Store)>,
) -> Vec<(String, String)> {
    let mut rng = Rng::new(seed);
    let mut posted: Vec<(String, String)> = Vec::new();
    let q = format!("/v2/queues/{queue}");
    let ok = |r: &common::Resp| assert!(r.status < 500, "{r:?}");
    for i in 0..rounds {
        let n = rng.range(1, 4);
        let messages: Vec<Value> = (0..n)
            .map(|k| {
                let mut m = json!({"body": {"w": w, "i": i, "k": k}, "ttl": rng.range(60, 1800)});
                if rng.chance(10) {
                    m["delay"] = rng.range(0, 30).into();
                }
                m
            })
            .collect();
        let (_, ids) = post_raw(&c, queue, json!(messages)).await;
        posted.extend(ids.into_iter().map(|id| (queue.to_owned(), id)));

        if rng.chance(45) {
            let limit = rng.range(1, 4);
            let body = json!({"ttl": rng.range(60, 300), "grace": rng.range(60, 120)});
            let r = c.post(&format!("{q}/claims?limit={limit}"), &body).await;
            ok(&r);
            if r.status == 201 {
                let claim = common::last_segment(r.location()).to_owned();
                let first =
                    common::last_segment(r.messages()[0]["href"].as_str().unwrap()).to_owned();
                if rng.chance(40) {
                    let body = json!({"ttl": rng.range(60, 300), "grace": rng.range(0, 200)});
                    ok(&c.patch(&format!("{q}/claims/{claim}"), &body).await);
                }
                if rng.chance(60) {
                    ok(&c
                        .delete(&format!("{q}/messages/{first}?claim_id={claim}"))
                        .await);
                }
                if rng.chance(50) {
                    ok(&c.delete(&format!("{q}/claims/{claim}")).await);
                }
            }
        }
        if rng.chance(10) {
            ok(&c
                .delete(&format!("{q}/messages?pop={}", rng.range(1, 2)))
                .await);
        }
        if rng.chance(10) && posted.len() > 2 {
            let a = &rng.pick(&posted).unwrap().1.clone();
            let b = &rng.pick(&posted).unwrap().1.clone();
            ok(&c.delete(&format!("{q}/messages?ids={a},{b}")).await);
        }
        if rng.chance(4) {
            let ops = json!([{"op": "add", "path": format!("/metadata/k{}", i % 5), "value": i}]);
            ok(&c.patch_queue(queue, &ops).await);
        }
        if rng.chance(3) {
            let body = json!({"subscriber": format!("http://example.com/{w}/{i}"),
                              "ttl": rng.range(60, 600), "options": {"i": i}});
            ok(&c.post(&format!("{q}/subscriptions"), &body).await);
        }
        if rng.chance(1) {
            ok(&c.post_empty(&format!("{q}/purge")).await);
        }
        if let Some((clock, store)) = &clock {
            if i % 15 == 14 {
                clock.advance_secs(45);
                store.sweep(|| true).await.expect("sweep");
            }
        }
    }
    posted
}

/// Runs one worker per (project, queue), concurrently; returns every posted (queue, id) of
/// each project.
async fn workload(
    server: &TestServer,
    projects: &[Client],
    rounds: usize,
    seed: u64,
) -> Vec<Vec<(String, String)>> {
    let mut tasks = Vec::new();
    for (pi, p) in projects.iter().enumerate() {
        for (qi, queue) in QUEUES.iter().enumerate() {
            let w = (pi * QUEUES.len() + qi) as u64;
            let clock = (w == 0).then(|| (server.clock.clone(), server.store.clone()));
            let c = p.other_client();
            tasks.push((
                pi,
                tokio::spawn(worker(c, queue, w, rounds, seed * 100 + w, clock)),
            ));
        }
    }
    let mut out = vec![Vec::new(); projects.len()];
    for (pi, t) in tasks {
        out[pi].extend(t.await.expect("worker"));
    }
    out
}

/// Dead-letter settings on the first queue of each project.
async fn prepare(projects: &[Client]) {
    for p in projects {
        p.create_queue(
            QUEUES[0],
            &json!({"_dead_letter_queue": "dead", "_max_claim_count": 2}),
        )
        .await;
    }
}

/// A few messages of each project whose histories the snapshots compare.
fn sample(posted: &[Vec<(String, String)>]) -> Vec<Vec<(String, String)>> {
    posted
        .iter()
        .map(|ids| ids.iter().step_by(25).cloned().collect())
        .collect()
}

async fn snapshots(clients: &[Client], samples: &[Vec<(String, String)>]) -> Vec<Value> {
    let mut out = Vec::new();
    for (c, s) in clients.iter().zip(samples) {
        out.push(snapshot(c, s).await);
    }
    out
}

fn db(dir: &Path) -> std::path::PathBuf {
    dir.join("cairn.db")
}

/// Clients of the same projects on another server.
fn same_projects(base: &str, projects: &[Client]) -> Vec<Client> {
    projects
        .iter()
        .map(|p| Client::new(base, &new_uuid(), &p.project))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_replay_a_store_of_thousands_of_events() {
    let server = TestServer::start().await;
    let dir = server.dir();
    let projects = vec![server.client(), server.client()];
    prepare(&projects).await;

    // Phase 1, settled (nothing expired left unswept): the state at H1, T1.
    let mut posted = workload(&server, &projects, 80, 1).await;
    settle(&server).await;
    let h1 = server.store.last_seq().await.unwrap();
    let t1 = server.clock.clone();
    let t1_at = cairn::model::Clock::now(&t1);
    let samples1 = sample(&posted);
    let s1 = snapshots(&projects, &samples1).await;
    let t1_clock = ManualClock::starting_at(t1_at);

    // Phase 2a, later; then a pause with expired messages and claims not yet swept.
    server.advance(1000);
    let more = workload(&server, &projects, 70, 2).await;
    for (p, m) in posted.iter_mut().zip(more) {
        p.extend(m);
    }
    server.advance(200);
    let h_mid = server.store.last_seq().await.unwrap();
    let t_mid = ManualClock::starting_at(cairn::model::Clock::now(&server.clock));
    let samples_mid = sample(&posted);
    let s_mid = snapshots(&projects, &samples_mid).await;

    // Phase 2b, with a verification of the live store running meanwhile.
    let path = db(dir.path());
    let scratch = tempfile::tempdir().unwrap();
    let mut quiet = Quiet;
    let (verified, more) = tokio::join!(
        rebuild::verify(&path, scratch.path(), &mut quiet),
        workload(&server, &projects, 70, 3)
    );
    for (p, m) in posted.iter_mut().zip(more) {
        p.extend(m);
    }
    let (live_summary, live_divergences) = verified.expect("verify while serving");
    assert!(
        live_divergences.is_empty(),
        "verify while the server writes: {live_divergences:?}"
    );
    assert!(live_summary.last_seq >= h_mid);
    settle(&server).await;
    let h2 = server.store.last_seq().await.unwrap();
    assert!(h2 >= 3000, "only {h2} events; the workload is too small");
    assert!(h1 < h_mid && h_mid < h2, "{h1} {h_mid} {h2}");
    let t2 = server.clock.clone();
    let samples2 = sample(&posted);
    let s2 = snapshots(&projects, &samples2).await;
    // The workload exercised every kind of event the log knows about messages.
    let kinds: std::collections::BTreeSet<String> = s2
        .iter()
        .flat_map(|s| s["events"].as_array().unwrap().clone())
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    for kind in [
        "QueueCreated",
        "QueueMetadataUpdated",
        "QueuePurged",
        "MessagesPosted",
        "MessagesDeleted",
        "MessagesPopped",
        "MessagesExpired",
        "MessageDeadLettered",
        "MessagesClaimed",
        "ClaimRenewed",
        "ClaimReleased",
        "ClaimExpired",
        "SubscriptionCreated",
        "SubscriptionsExpired",
    ] {
        assert!(kinds.contains(kind), "no {kind} in the workload: {kinds:?}");
    }
    server.shutdown().await;

    // cairn verify: the read models match.
    let out = cairn_verify(dir.path());
    assert_exit(&out, 0, "verify");
    let text = stdout(&out);
    assert!(text.contains("match"), "{text}");
    assert!(
        text.contains(&format!("verified {h2} events (up to seq {h2})")),
        "{text}"
    );
    assert!(!text.contains("DIVERGENCE"), "{text}");

    // cairn replay in place, then verify again, then serve: the same state.
    let out = cairn_replay_in_place(dir.path());
    assert_exit(&out, 0, "replay in place");
    assert!(
        stdout(&out).contains(&format!("replayed {h2} events (up to seq {h2})")),
        "{}",
        stdout(&out)
    );
    assert_exit(&cairn_verify(dir.path()), 0, "verify after replay");
    let server = TestServer::open(dir.clone(), t2.clone(), Default::default()).await;
    let clients = same_projects(&server.base, &projects);
    assert_eq!(server.store.last_seq().await.unwrap(), h2);
    let again = snapshots(&clients, &samples2).await;
    for (before, after) in s2.iter().zip(&again) {
        assert_same_snapshot(before, after, "after an in-place replay");
    }
    server.shutdown().await;

    // Time travel by position: the state at H1, and at the unsettled pause.
    for (until, clock, expected, samples, what) in [
        (h1, t1_clock.clone(), &s1, &samples1, "until H1"),
        (
            h_mid,
            t_mid.clone(),
            &s_mid,
            &samples_mid,
            "until the pause",
        ),
    ] {
        let into = tempfile::tempdir().unwrap();
        let out = cairn_replay_into(dir.path(), into.path(), &until.to_string());
        assert_exit(&out, 0, what);
        assert!(
            stdout(&out).contains(&format!("(up to seq {until})")),
            "{what}: {}",
            stdout(&out)
        );
        assert_exit(&cairn_verify(into.path()), 0, what);
        let inspector = Inspector::open(&db(into.path()), clock).await;
        assert_eq!(inspector.last_seq().await, until, "{what}");
        let clients = same_projects(&inspector.base, &projects);
        let got = snapshots(&clients, samples).await;
        for (before, after) in expected.iter().zip(&got) {
            assert_same_snapshot(before, after, what);
        }
        inspector.close().await;
    }

    // Time travel by instant: phase 2 began 1000 s after T1, so T1 ends phase 1.
    let into = tempfile::tempdir().unwrap();
    let t1_text = Timestamp(t1_at.0).to_rfc3339_secs();
    let out = cairn_replay_into(dir.path(), into.path(), &t1_text);
    assert_exit(&out, 0, "until T1");
    let inspector = Inspector::open(&db(into.path()), t1_clock.clone()).await;
    assert_eq!(inspector.last_seq().await, h1);
    let clients = same_projects(&inspector.base, &projects);
    let got = snapshots(&clients, &samples1).await;
    for (before, after) in s1.iter().zip(&got) {
        assert_same_snapshot(before, after, "until T1 (RFC 3339)");
    }
    inspector.close().await;

    // An arbitrary position: exactly the log's prefix, and consistent read models.
    let m = h1 + (h2 - h1) * 3 / 4 + 1;
    let into = tempfile::tempdir().unwrap();
    assert_exit(
        &cairn_replay_into(dir.path(), into.path(), &m.to_string()),
        0,
        "until m",
    );
    assert_exit(&cairn_verify(into.path()), 0, "verify until m");
    let inspector = Inspector::open(&db(into.path()), t2.clone()).await;
    assert_eq!(inspector.last_seq().await, m);
    for (p, full) in projects.iter().zip(&s2) {
        let c = Client::new(&inspector.base, &new_uuid(), &p.project);
        let prefix: Vec<Value> = full["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["seq"].as_i64().unwrap() <= m)
            .cloned()
            .collect();
        assert_eq!(feed(&c, "limit=100").await, prefix);
    }
    inspector.close().await;

    // The source store is untouched by all this.
    assert_exit(&cairn_verify(dir.path()), 0, "verify the source at the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_tables_of_a_corrupted_read_model_and_replay_repairs_it() {
    let server = TestServer::start().await;
    let dir = server.dir();
    let c = server.client();
    let other = server.client();
    c.create_queue("keep", &json!({})).await;
    let (_, ids) = post_raw(
        &c,
        "keep",
        json!([{"body": 1, "ttl": 600}, {"body": 2}, {"body": 3}]),
    )
    .await;
    let (claim, _) = c
        .claim("keep", &json!({"ttl": 120}), Some(1))
        .await
        .unwrap();
    post_raw(&c, "drop", json!([{"body": "x"}])).await;
    let r = c
        .post(
            "/v2/queues/keep/subscriptions",
            &json!({"subscriber": "http://example.com/h", "ttl": 600}),
        )
        .await;
    r.expect(201);
    post_raw(&other, "keep", json!([{"body": "other"}])).await;
    // A topic's events are recorded under the project's topic namespace.
    let topic = json!({"messages": [{"body": "t"}]});
    c.post("/v2/topics/news/messages", &topic).await.expect(201);
    let before = snapshot(&c, &[("keep".to_owned(), ids[1].clone())]).await;
    let clock = server.clock.clone();
    server.shutdown().await;
    assert_exit(&cairn_verify(dir.path()), 0, "verify a sound store");

    // Corrupt four read models behind the server's back.
    let path = db(dir.path());
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .connect()
        .await
        .unwrap();
    for (sql, bind) in [
        (
            "UPDATE messages SET ttl = ttl + 7 WHERE id = ?1",
            ids[0].clone(),
        ),
        (
            "DELETE FROM queues WHERE project = ?1 AND name = 'drop'",
            c.project.clone(),
        ),
        (
            "DELETE FROM message_history WHERE message_id = ?1",
            ids[1].clone(),
        ),
        (
            "UPDATE claims SET expires_at = expires_at + 1000 WHERE id = ?1",
            claim.clone(),
        ),
    ] {
        let done = sqlx::query(sql)
            .bind(bind)
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1, "{sql}");
    }
    conn.close().await.unwrap();

    let out = cairn_verify(dir.path());
    assert_exit(&out, 1, "verify a corrupted store");
    let text = stdout(&out);
    let p = &c.project;
    for line in [
        format!(
            "DIVERGENCE messages: {p}/keep/{} only in the live read model",
            ids[0]
        ),
        format!(
            "DIVERGENCE messages: {p}/keep/{} only in the replayed read model",
            ids[0]
        ),
        format!("DIVERGENCE queues: {p}/drop only in the replayed read model"),
        format!(
            "DIVERGENCE message_history: {} only in the replayed read model",
            ids[1]
        ),
        format!("DIVERGENCE claims: {claim} only in the live read model"),
        format!("DIVERGENCE claims: {claim} only in the replayed read model"),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    let divergent = text.lines().filter(|l| l.starts_with("DIVERGENCE")).count();
    assert_eq!(divergent, 6, "{text}");
    assert!(text.contains("6 divergent rows"), "{text}");

    // The library reports the same.
    let scratch = tempfile::tempdir().unwrap();
    let (_, divergences) = rebuild::verify(&path, scratch.path(), &mut Quiet)
        .await
        .unwrap();
    let mut tables: Vec<&str> = divergences.iter().map(|d| d.table).collect();
    tables.sort();
    assert_eq!(
        tables,
        [
            "claims",
            "claims",
            "message_history",
            "messages",
            "messages",
            "queues"
        ]
    );
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "verify removes its scratch copy"
    );

    // A replay in place repairs the read models; the server serves the original state.
    assert_exit(&cairn_replay_in_place(dir.path()), 0, "replay to repair");
    assert_exit(&cairn_verify(dir.path()), 0, "verify after the repair");
    let server = TestServer::open(dir.clone(), clock, Default::default()).await;
    let c2 = Client::new(&server.base, &c.client_id, &c.project);
    let after = snapshot(&c2, &[("keep".to_owned(), ids[1].clone())]).await;
    assert_same_snapshot(&before, &after, "after the repair");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_refuse_what_they_cannot_do() {
    let server = TestServer::start().await;
    let dir = server.dir();
    let c = server.client();
    let (r, _) = post_raw(&c, "q", json!([{"body": 1}])).await;
    let head = seq(&r);
    server.shutdown().await;

    let missing = tempfile::tempdir().unwrap();
    let nowhere = missing.path().join("nothing-here");
    for args in [
        vec!["verify", "--data-dir", path_str(&nowhere), "--quiet"],
        vec!["replay", "--data-dir", path_str(&nowhere), "--quiet"],
    ] {
        let out = cairn(&args);
        assert!(!out.status.success(), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no store"),
            "{args:?}: {out:?}"
        );
        assert!(!nowhere.exists(), "{args:?} created a store");
    }
    // --until needs --into; a bad --until is refused by the parser.
    let out = cairn(&["replay", "--data-dir", path_str(dir.path()), "--until", "1"]);
    assert_exit(&out, 2, "--until without --into");
    let into = tempfile::tempdir().unwrap();
    let out = cairn_replay_into(dir.path(), into.path(), "yesterday");
    assert_exit(&out, 2, "a bad --until");
    // Replaying into an existing store is refused and leaves it alone.
    let out = cairn_replay_into(dir.path(), dir.path(), &head.to_string());
    assert!(!out.status.success(), "{out:?}");
    assert_exit(&cairn_verify(dir.path()), 0, "the source is intact");
    // An --until before the first event builds an empty state.
    let empty = tempfile::tempdir().unwrap();
    assert_exit(
        &cairn_replay_into(dir.path(), empty.path(), "0"),
        0,
        "until 0",
    );
    let inspector = Inspector::open(&db(empty.path()), server_clock()).await;
    assert_eq!(inspector.last_seq().await, 0);
    let c = inspector.client(&c.project);
    assert_eq!(c.get("/v2/queues").await.body["queues"], json!([]));
    inspector.close().await;
    assert_exit(&cairn_verify(empty.path()), 0, "verify an empty replay");
    // Without --quiet, the summary still goes to standard output.
    let out = cairn(&["verify", "--data-dir", path_str(dir.path())]);
    assert_exit(&out, 0, "verify with a progress bar");
    assert!(
        stdout(&out).contains("read models match the log"),
        "{out:?}"
    );
}

fn server_clock() -> ManualClock {
    ManualClock::starting_at(common::START)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_replay_after_pruning_twice() {
    const DAY: i64 = 86_400;
    let server = TestServer::start().await;
    let dir = server.dir();
    let c = server.client();
    let (_, a) = post_raw(&c, "kept", json!([{"body": "a", "ttl": 1_209_600}])).await;
    server.advance(2 * DAY);
    let (_, b) = post_raw(&c, "kept", json!([{"body": "b", "ttl": 1_209_600}])).await;
    let now = |s: &TestServer| cairn::model::Clock::now(&s.clock).0;

    // Keep one day: the first post goes; the second stays.
    server
        .store
        .prune(Timestamp(now(&server) - DAY * 1000))
        .await
        .unwrap();
    let first = server.store.horizon().await.unwrap();
    assert!(first > 0);
    history(&c, "kept", &a[0]).await.expect(404);
    history(&c, "kept", &b[0]).await.expect(200);

    // Three quiet days later (no write in between), prune again: the second post goes too.
    server.advance(3 * DAY);
    server
        .store
        .prune(Timestamp(now(&server) - DAY * 1000))
        .await
        .unwrap();
    let second = server.store.horizon().await.unwrap();
    assert!(second > first, "{second} > {first}");
    history(&c, "kept", &b[0]).await.expect(404);
    let before = snapshot(&c, &[("kept".to_owned(), b[0].clone())]).await;
    let clock = server.clock.clone();
    server.shutdown().await;

    let out = cairn_verify(dir.path());
    assert_exit(&out, 0, "verify after two prunes");
    assert_exit(
        &cairn_replay_in_place(dir.path()),
        0,
        "replay after two prunes",
    );
    let server = TestServer::open(dir.clone(), clock, Default::default()).await;
    let c2 = Client::new(&server.base, &c.client_id, &c.project);
    let after = snapshot(&c2, &[("kept".to_owned(), b[0].clone())]).await;
    assert_same_snapshot(&before, &after, "after a replay of a twice-pruned log");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_until_past_the_end_stops_at_the_head() {
    let server = TestServer::start().await;
    let dir = server.dir();
    let c = server.client();
    let (r, _) = post_raw(&c, "q", json!([{"body": 1}])).await;
    let head = seq(&r);
    let before = snapshot(&c, &[]).await;
    let clock = server.clock.clone();
    server.shutdown().await;

    let into = tempfile::tempdir().unwrap();
    let out = cairn_replay_into(dir.path(), into.path(), &(head + 1000).to_string());
    assert_exit(&out, 0, "until past the end");
    assert_exit(&cairn_verify(into.path()), 0, "verify the copy");
    let inspector = Inspector::open(&db(into.path()), clock).await;
    assert_eq!(inspector.last_seq().await, head);
    let after = snapshot(&inspector.client(&c.project), &[]).await;
    assert_same_snapshot(&before, &after, "until past the end");
    inspector.close().await;
    // The summary names the position the copy actually reflects.
    assert!(
        stdout(&out).contains(&format!("replayed {head} events (up to seq {head})")),
        "cairn replay --until {} on a log of {head} events says: {}",
        head + 1000,
        stdout(&out)
    );
}

/// A store last opened by a binary older than migration 6 (each message row held its body):
/// `cairn verify` brings it up to this binary's schema first, as the server would at its next
/// start, then finds the read models matching the log, and a server opened afterwards serves
/// the same state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_upgrades_a_store_written_before_the_last_migration() {
    use cairn::schema::SQLITE as MIGRATIONS;

    let server = TestServer::start().await;
    let current = server.dir();
    let c = server.client();
    let bodies: Vec<Value> = (0..6)
        .map(|i| json!({"n": i, "pad": "x".repeat(i)}))
        .collect();
    let messages: Vec<Value> = bodies
        .iter()
        .map(|b| json!({"body": b, "ttl": 600}))
        .collect();
    post_raw(&c, "q", json!(messages)).await;
    let r = c
        .post("/v2/queues/q/claims?limit=2", &json!({"ttl": 300}))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let before = snapshot(&c, &[]).await;
    let clock = server.clock.clone();
    server.shutdown().await;

    // The same log and read models in the schema before migration 6.
    let old = Arc::new(tempfile::tempdir().unwrap());
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db(old.path()))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .connect()
        .await
        .unwrap();
    cairn::schema::migrator(&MIGRATIONS[..5])
        .run_direct(&mut conn)
        .await
        .unwrap();
    sqlx::query("ATTACH DATABASE ?1 AS cur")
        .bind(path_str(&db(current.path())).to_owned())
        .execute(&mut conn)
        .await
        .unwrap();
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM pragma_table_info('messages') WHERE name <> 'body' ORDER BY cid",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let (plain, prefixed) = (
        columns.join(", "),
        columns
            .iter()
            .map(|c| format!("m.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let mut copy = vec![format!(
        "INSERT INTO main.messages ({plain}, body) SELECT {prefixed}, \
         json_extract(e.payload, '$.messages[' || m.post_index || '].body') \
         FROM cur.messages AS m JOIN cur.events AS e ON e.seq = m.post_seq"
    )];
    for table in [
        "events",
        "log_meta",
        "queues",
        "claims",
        "subscriptions",
        "message_history",
        "projection_checkpoints",
    ] {
        copy.push(format!(
            "INSERT INTO main.{table} SELECT * FROM cur.{table}"
        ));
    }
    for sql in copy {
        sqlx::query(&sql).execute(&mut conn).await.unwrap();
    }
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM main.messages WHERE body IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(held, 6, "every row of the old layout holds its body");
    conn.close().await.unwrap();

    let out = cairn_verify(old.path());
    assert_exit(&out, 0, "verify of a store before the last migration");
    assert!(
        stdout(&out).contains("read models match the log"),
        "{}",
        stdout(&out)
    );

    let server = TestServer::open(old.clone(), clock, Default::default()).await;
    let c2 = Client::new(&server.base, &c.client_id, &c.project);
    let after = snapshot(&c2, &[]).await;
    assert_same_snapshot(&before, &after, "after the upgrade");
    server.shutdown().await;
}
