//! At-least-once delivery across a crash: the real binary is SIGKILLed while 4 producers
//! post to queues with webhook subscribers; after a restart on the same data directory,
//! every acknowledged message reaches the receiver (duplicates are counted and reported,
//! none may be missing), and each subscription's first deliveries follow post order.

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::process::Cairn;
use crate::common::receiver::Receiver;
use crate::common::Client;
use serde_json::json;

const PRODUCERS: usize = 4;
/// Acknowledged posts after which the server is killed, producers still posting.
const KILL_AFTER: usize = 300;
/// Upper bound of posts per producer, so the test ends even if the kill comes late.
const MAX_POSTS: usize = 400;

/// Posts one message at a time until the server goes away; the `n` of every post
/// acknowledged with 201.
async fn producer(base: String, project: String, p: usize, acked: Arc<AtomicUsize>) -> Vec<u64> {
    let c = Client::new(&base, &common::new_uuid(), &project);
    let mut ok = Vec::new();
    for n in 0..MAX_POSTS as u64 {
        let request = c
            .request(reqwest::Method::POST, &format!("/v2/queues/q{p}/messages"))
            .json(&json!({"messages": [{"body": {"p": p, "n": n}, "ttl": 3600}]}));
        let Ok(response) = request.send().await else {
            break;
        };
        if response.status().as_u16() != 201 || response.bytes().await.is_err() {
            break;
        }
        ok.push(n);
        acked.fetch_add(1, Ordering::SeqCst);
    }
    ok
}

fn args(dir: &std::path::Path) -> Vec<OsString> {
    vec![
        "--data-dir".into(),
        dir.as_os_str().to_owned(),
        "--notify-allow-hosts".into(),
        "127.0.0.1/32".into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_message_is_notified_after_a_sigkill() {
    let rx = Receiver::start().await;
    // Each subscriber fails its first message at first (4 attempts, then a 5-second wait),
    // so deliveries are still pending when the server is killed; and again once after the
    // restart.
    rx.answer(&[503; 24]);
    let dir = tempfile::tempdir().unwrap();
    let cairn = Cairn::start(&args(dir.path())).await;
    let project = format!("project-{}", common::new_uuid());
    let c = Client::new(&cairn.base, &common::new_uuid(), &project);
    for p in 0..PRODUCERS {
        c.post(
            &format!("/v2/queues/q{p}/subscriptions"),
            &json!({"subscriber": rx.url(&format!("/q{p}")), "ttl": 3600}),
        )
        .await
        .expect(201);
    }
    let acked = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (base, project) = (cairn.base.clone(), project.clone());
            tokio::spawn(producer(base, project, p, acked.clone()))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(
            Instant::now() < deadline,
            "too few posts acknowledged in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    cairn.kill();
    let mut acknowledged = Vec::new();
    for p in producers {
        acknowledged.push(p.await.unwrap());
    }
    let before_restart = rx.accepted().len();

    let _cairn = Cairn::start(&args(dir.path())).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut missing: Vec<(usize, u64)>;
    loop {
        let mut seen: HashMap<(usize, u64), usize> = HashMap::new();
        for r in rx.accepted() {
            let body = &r.json()["body"];
            let key = (
                body["p"].as_u64().unwrap() as usize,
                body["n"].as_u64().unwrap(),
            );
            *seen.entry(key).or_default() += 1;
        }
        missing = acknowledged
            .iter()
            .enumerate()
            .flat_map(|(p, ns)| ns.iter().map(move |n| (p, *n)))
            .filter(|k| !seen.contains_key(k))
            .collect();
        if missing.is_empty() {
            let total: usize = acknowledged.iter().map(Vec::len).sum();
            let duplicates: usize = seen.values().map(|n| n - 1).sum();
            eprintln!(
                "{total} acknowledged, {before_restart} notifications accepted before the \
                 kill, {} after the restart, {duplicates} duplicates, 0 missing",
                rx.accepted().len() - before_restart
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} acknowledged messages never notified, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Per subscription, first deliveries come in post order.
    for p in 0..PRODUCERS {
        let mut first: Vec<u64> = Vec::new();
        for r in rx.at(&format!("/q{p}")).iter().filter(|r| r.status < 300) {
            let n = r.json()["body"]["n"].as_u64().unwrap();
            if !first.contains(&n) {
                first.push(n);
            }
        }
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(first, sorted, "queue q{p} was first notified out of order");
    }
}
