//! Durability: everything acknowledged survives a restart, both a clean in-process one and
//! a SIGKILL of the real binary in the middle of concurrent writes.

use std::ffi::OsStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::process::Cairn;
use crate::common::{metadata_with, Client, TestServer};
use cairn::model::Limits;
use serde_json::{json, Value};

// ---- in-process restart ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_restart_keeps_queues_messages_and_claims() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({"owner": "ops", "_default_message_ttl": 600}))
        .await;
    let ids = c.post_n("q", 5).await;
    let (claim_id, _) = c
        .claim("q", &json!({"ttl": 120}), Some(2))
        .await
        .expect("claim");
    c.delete(&format!("/v2/queues/q/messages/{}", ids[4]))
        .await
        .expect(204);
    server.advance(30);
    let (dir, clock) = (server.dir(), server.clock.clone());
    server.shutdown().await;

    let server = TestServer::open(dir, clock, Limits::default()).await;
    let c = Client::new(&server.base, &c.client_id, &c.project);

    assert_eq!(
        c.get("/v2/queues/q").await.body,
        metadata_with(json!({"owner": "ops", "_default_message_ttl": 600}))
    );
    assert_eq!(
        c.list_ids("q", "echo=true&include_claimed=true").await,
        ids[..4].to_vec()
    );
    let claim = c.get(&format!("/v2/queues/q/claims/{claim_id}")).await;
    claim.expect(200);
    assert_eq!(
        (&claim.body["age"], &claim.body["ttl"]),
        (&json!(30), &json!(120))
    );
    assert_eq!(claim.message_ids(), ids[..2].to_vec());
    let stats = c.stats("q").await;
    assert_eq!(
        (&stats["claimed"], &stats["free"], &stats["total"]),
        (&json!(2), &json!(2), &json!(4))
    );

    // New messages continue the posting order.
    let more = c.post_n("q", 1).await;
    let mut expected = ids[2..4].to_vec();
    expected.extend(more);
    assert_eq!(c.list_ids("q", "echo=true").await, expected);

    // Expiry goes on from the restored state.
    server.advance(91);
    c.get(&format!("/v2/queues/q/claims/{claim_id}"))
        .await
        .expect(404);
    assert_eq!(c.stats("q").await["claimed"], 0);
    server.advance(600);
    server.sweep().await;
    assert_eq!(c.list_ids("q", "echo=true").await, Vec::<String>::new());
    server.shutdown().await;
}

// ---- crash of the real binary --------------------------------------------------------------

const WRITERS: usize = 8;
/// Acknowledged posts after which the server is killed, writers still in full flight.
const KILL_AFTER: usize = 200;
/// Upper bound of posts per writer, so the test ends even if the kill comes late.
const MAX_POSTS_PER_WRITER: usize = 200;

/// One writer: posts batches of 1–3 messages until the server goes away; returns the
/// (id, body) of every message acknowledged with 201, in acknowledgement order.
async fn writer(
    base: String,
    project: String,
    w: usize,
    acked_posts: Arc<AtomicUsize>,
) -> Vec<(String, Value)> {
    let c = Client::new(&base, &common::new_uuid(), &project);
    let mut acked = Vec::new();
    for i in 0..MAX_POSTS_PER_WRITER {
        let messages: Vec<Value> = (0..=(i % 3))
            .map(|k| json!({"body": {"writer": w, "post": i, "k": k}, "ttl": 3600}))
            .collect();
        let request = c
            .request(reqwest::Method::POST, "/v2/queues/durable/messages")
            .json(&json!({ "messages": messages }));
        let Ok(response) = request.send().await else {
            break; // the server is gone
        };
        if response.status().as_u16() != 201 {
            continue;
        }
        let Ok(body) = response.json::<Value>().await else {
            break; // killed while answering: not acknowledged
        };
        let resources = body["resources"].as_array().expect("resources");
        assert_eq!(resources.len(), messages.len());
        for (href, m) in resources.iter().zip(&messages) {
            let id = common::last_segment(href.as_str().unwrap()).to_owned();
            acked.push((id, m["body"].clone()));
        }
        acked_posts.fetch_add(1, Ordering::SeqCst);
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_messages_survive_a_sigkill_during_concurrent_posts() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cairn = Cairn::start(&[OsStr::new("--data-dir"), dir.path().as_os_str()]).await;
    let project = format!("project-{}", common::new_uuid());
    let acked_posts = Arc::new(AtomicUsize::new(0));

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (base, project) = (cairn.base.clone(), project.clone());
            tokio::spawn(writer(base, project, w, acked_posts.clone()))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked_posts.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(
            Instant::now() < deadline,
            "too few posts acknowledged in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cairn.kill();

    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.expect("writer task"));
    }
    assert!(acked_posts.load(Ordering::SeqCst) >= KILL_AFTER);

    let cairn = Cairn::start(&[OsStr::new("--data-dir"), dir.path().as_os_str()]).await;
    let c = Client::new(&cairn.base, &common::new_uuid(), &project);
    for chunk in acked.chunks(20) {
        let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
        let r = c
            .get(&format!(
                "/v2/queues/durable/messages?ids={}",
                ids.join(",")
            ))
            .await;
        r.expect(200);
        let mut found: Vec<(String, Value)> = r
            .messages()
            .iter()
            .map(|m| (m["id"].as_str().unwrap().to_owned(), m["body"].clone()))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let mut wanted = chunk.to_vec();
        wanted.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(found, wanted, "acknowledged messages lost after SIGKILL");
    }

    // Every stored message is listed once; each writer's acknowledged messages appear in
    // acknowledgement order (a post cut short by the kill may or may not have been stored).
    let mut listed: Vec<Value> = Vec::new();
    let mut path = "/v2/queues/durable/messages?echo=true&limit=20".to_owned();
    loop {
        let r = c.get(&path).await;
        r.expect(200);
        if r.messages().is_empty() {
            break;
        }
        listed.extend(r.messages().iter().map(|m| m["body"].clone()));
        path = r.next_link().expect("next link");
    }
    assert!(
        listed.len() >= acked.len(),
        "{} < {}",
        listed.len(),
        acked.len()
    );
    assert_eq!(c.stats("durable").await["total"], listed.len());
    for w in 0..WRITERS {
        let listed_of_writer: Vec<&Value> = listed.iter().filter(|b| b["writer"] == w).collect();
        let acked_of_writer: Vec<&Value> = acked
            .iter()
            .map(|(_, b)| b)
            .filter(|b| b["writer"] == w)
            .collect();
        assert!(
            listed_of_writer.starts_with(&acked_of_writer),
            "order of writer {w}: listed {listed_of_writer:?}, acknowledged {acked_of_writer:?}"
        );
    }

    // The restarted server takes writes as usual.
    c.post_one("durable", json!("after restart")).await;
    cairn.kill();
}
