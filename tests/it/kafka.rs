//! The Kafka event stream against librdkafka's mock cluster (3 brokers, in this process):
//! the record format and order per queue, exactly once after a SIGKILL mid-stream, a broker
//! outage (the write path goes on, the lag shows, retention waits, the relay catches up),
//! replay from the topic into a store equal to the original, and one relay at a time among
//! PostgreSQL nodes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common;
use crate::common::audit::{assert_exit, cairn, path_str, stdout};
use crate::common::kafka::{
    assert_exactly_once, gauge, mock_cluster, read_topic, wait_caught_up, Rec, PARTITIONS, TOPIC,
};
use crate::common::process::Cairn;
use crate::common::{Client, TestServer, START};
use cairn::kafka::KafkaSettings;
use cairn::model::{Clock, ManualClock, Timestamp};
use cairn::store::RELAY_CHECKPOINT;
use serde_json::json;

/// An in-process server relaying to `brokers`.
async fn relaying(brokers: &str) -> TestServer {
    let mut kafka = KafkaSettings::new(brokers, TOPIC);
    kafka.timeout = Duration::from_secs(5);
    TestServer::custom(ManualClock::starting_at(START), |s| s.kafka = Some(kafka)).await
}

/// Posts, claims, deletes and metadata changes over several projects and queues.
async fn workload(server: &TestServer) -> Vec<(String, String)> {
    let mut queues = Vec::new();
    for p in 0..2 {
        let project = format!("project-{p}");
        let c = Client::new(&server.base, &common::new_uuid(), &project);
        for q in 0..3 {
            let queue = format!("q{q}");
            c.create_queue(&queue, &json!({"_default_message_ttl": 3600}))
                .await;
            for n in 0..5 {
                c.post_one(&queue, json!({"p": p, "q": q, "n": n, "x": 1.50}))
                    .await;
            }
            let claimed = c
                .post(
                    &format!("/v2/queues/{queue}/claims?limit=2"),
                    &json!({"ttl": 60, "grace": 60}),
                )
                .await;
            assert_eq!(claimed.status, 201, "{claimed:?}");
            queues.push((project.clone(), queue));
        }
        c.delete("/v2/queues/q2").await;
    }
    queues
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_topic_once_in_order_per_queue_and_replay_rebuilds_the_store() {
    let cluster = mock_cluster();
    let brokers = cluster.bootstrap_servers();
    let server = relaying(&brokers).await;
    let queues = workload(&server).await;
    let last = wait_caught_up(&server.base, Duration::from_secs(30)).await;

    // Health and metrics show the relay.
    let admin = Client::new(&server.base, &common::new_uuid(), "project-0");
    let health = admin.get("/v2/health").await;
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.body["event_stream"]["connected"], true, "{health:?}");
    assert_eq!(health.body["event_stream"]["lag"], 0);
    assert_eq!(health.body["event_stream"]["published_seq"], last);
    assert_eq!(
        gauge(&server.base, "cairn_kafka_relay_events_total").await,
        Some(last)
    );

    let records = read_topic(&brokers, TOPIC);
    let by_seq = assert_exactly_once(&records, last);
    // Within each partition, every queue's events are in log order; each queue keeps to
    // one partition, chosen as Kafka's Java client would from the key.
    let mut partition_of: HashMap<String, i32> = HashMap::new();
    let mut last_seen: HashMap<String, i64> = HashMap::new();
    for r in &records {
        let expected = cairn::kafka::record::partition(r.key.as_bytes(), PARTITIONS);
        assert_eq!(r.partition, expected, "{r:?}");
        assert_eq!(
            *partition_of.entry(r.key.clone()).or_insert(r.partition),
            r.partition
        );
        let previous = last_seen.insert(r.key.clone(), r.seq());
        assert!(previous.is_none_or(|p| p < r.seq()), "out of order: {r:?}");
    }
    for (project, queue) in &queues {
        assert!(partition_of.contains_key(&format!("{project}/{queue}")));
    }
    // Headers and value: the event as the feed shows it, with its project.
    let c = Client::new(&server.base, &common::new_uuid(), "project-1");
    let feed = c.get("/v2/events?limit=100").await;
    assert_eq!(feed.status, 200, "{feed:?}");
    let feed_events = feed.body["events"].as_array().unwrap().clone();
    assert!(!feed_events.is_empty());
    let records_of: HashMap<i64, &Rec> = by_seq.iter().map(|r| (r.seq(), r)).collect();
    for e in &feed_events {
        let r = records_of[&e["seq"].as_i64().unwrap()];
        assert_eq!(r.header("type"), e["type"].as_str());
        assert_eq!(r.header("project"), Some("project-1"));
        assert_eq!(r.header("queue"), e["queue"].as_str());
        assert_eq!(r.header("schema_version"), Some("1"));
        assert_eq!(r.key, format!("project-1/{}", e["queue"].as_str().unwrap()));
        let mut value = r.value.clone();
        assert_eq!(value["project"], "project-1");
        value.as_object_mut().unwrap().remove("project");
        assert_eq!(&value, e, "the record's value is the feed's event");
    }

    // Replay from the topic builds a store equal to this one.
    let dir = server.dir();
    server.shutdown().await;
    let into = tempfile::tempdir().unwrap();
    let rebuilt = into.path().join("rebuilt");
    let url = format!("kafka://{brokers}/{TOPIC}");
    let out = cairn(&[
        "replay",
        "--from",
        &url,
        "--into",
        path_str(&rebuilt),
        "--quiet",
    ]);
    assert_exit(&out, 0, "replay --from kafka");
    assert!(
        stdout(&out).contains(&format!("up to seq {last}")),
        "{}",
        stdout(&out)
    );
    let out = cairn(&["verify", "--data-dir", path_str(&rebuilt), "--quiet"]);
    assert_exit(&out, 0, "verify of the rebuilt store");
    let original = dir.path().join("cairn.db");
    let copy = rebuilt.join("cairn.db");
    for sql in [
        "SELECT seq, recorded_at, project, queue, kind, version, client_id, request_id, payload
         FROM events ORDER BY seq",
        "SELECT * FROM queues ORDER BY project, name",
        "SELECT * FROM messages ORDER BY project, queue, id",
        "SELECT * FROM claims ORDER BY id",
    ] {
        assert_eq!(rows(&original, sql), rows(&copy, sql), "{sql}");
    }
    // Into an existing directory, replay refuses.
    let out = cairn(&[
        "replay",
        "--from",
        &url,
        "--into",
        path_str(&rebuilt),
        "--quiet",
    ]);
    assert_exit(&out, 1, "replay into an existing store");
}

/// Every row of a query, as text.
fn rows(db: &std::path::Path, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(db).expect("open the store");
    let mut statement = conn.prepare(sql).expect("a query");
    let width = statement.column_count();
    let rows = statement
        .query_map([], |row| {
            (0..width)
                .map(|i| {
                    let v: rusqlite::types::Value = row.get(i)?;
                    Ok(format!("{v:?}"))
                })
                .collect()
        })
        .expect("rows");
    rows.map(|r| r.expect("a row")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_sigkill_mid_stream_each_event_is_in_the_topic_exactly_once() {
    let cluster = mock_cluster();
    let brokers = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    // Small transactions, so that the kill lands among many of them.
    let args = [
        "--data-dir",
        path_str(dir.path()),
        "--kafka-brokers",
        &brokers,
        "--kafka-batch",
        "7",
    ];
    for round in 0..2 {
        let server = Cairn::start(&args).await;
        let acked = Arc::new(AtomicUsize::new(0));
        let producers: Vec<_> = (0..4)
            .map(|p| {
                tokio::spawn(common::kafka::producer(
                    server.base.clone(),
                    p,
                    acked.clone(),
                    400,
                ))
            })
            .collect();
        // Kill once the relay is publishing and producers are still posting.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let published = gauge(&server.base, "cairn_kafka_relay_published_seq")
                .await
                .unwrap_or(0);
            if published > 100 * (round + 1) && acked.load(Ordering::SeqCst) > 300 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the relay did not publish"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.kill();
        for p in producers {
            p.await.unwrap();
        }
    }
    // The last start publishes what the killed ones left, and nothing twice.
    let server = Cairn::start(&args).await;
    let last = wait_caught_up(&server.base, Duration::from_secs(60)).await;
    let records = read_topic(&brokers, TOPIC);
    assert_exactly_once(&records, last);
    drop(server);
    let out = cairn(&["verify", "--data-dir", path_str(dir.path()), "--quiet"]);
    assert_exit(&out, 0, "verify after the kills");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_delays_the_stream_but_not_the_writes() {
    let cluster = mock_cluster();
    let brokers = cluster.bootstrap_servers();
    let server = relaying(&brokers).await;
    let c = server.client();
    c.post_n("before", 20).await;
    let before = wait_caught_up(&server.base, Duration::from_secs(30)).await;

    for broker in 1..=3 {
        cluster.broker_down(broker).unwrap();
    }
    // Writes go on while Kafka is away; the lag shows.
    for _ in 0..10 {
        c.post_n("during", 10).await;
    }
    let head = gauge(&server.base, "cairn_log_position").await.unwrap();
    assert!(head > before);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let connected = gauge(&server.base, "cairn_kafka_relay_connected").await;
        let lag = gauge(&server.base, "cairn_kafka_relay_lag").await.unwrap();
        if connected == Some(0) {
            assert!(lag > 0, "the lag shows while Kafka is away");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the relay never noticed the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let admin = Client::new(&server.base, &common::new_uuid(), "p");
    let health = admin.get("/v2/health").await;
    assert_eq!(
        health.body["event_stream"]["connected"], false,
        "{health:?}"
    );
    assert!(health.body["event_stream"]["lag"].as_i64().unwrap() > 0);

    // Retention never prunes what Kafka does not have yet.
    let published = server.store.checkpoint(RELAY_CHECKPOINT).await.unwrap();
    assert!(published >= before && published < head, "{published}");
    let tomorrow = Timestamp(server.clock.now().0 + 86_400_000);
    server
        .store
        .prune_keeping(tomorrow, vec![RELAY_CHECKPOINT])
        .await
        .unwrap();
    let horizon = server.store.horizon().await.unwrap();
    assert!(
        horizon <= published,
        "pruned to {horizon}, published {published}"
    );

    for broker in 1..=3 {
        cluster.broker_up(broker).unwrap();
    }
    let last = wait_caught_up(&server.base, Duration::from_secs(60)).await;
    assert!(last >= head);
    assert_exactly_once(&read_topic(&brokers, TOPIC), last);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_postgres_node_relays_at_a_time_and_another_takes_over() {
    let cluster = mock_cluster();
    let brokers = cluster.bootstrap_servers();
    let schema = format!("kafka_{}", common::new_uuid().replace('-', ""));
    let url = common::fresh_schema(&schema).await;
    let args = ["--store", &url, "--kafka-brokers", &brokers];
    let mut nodes = vec![Cairn::start(&args).await, Cairn::start(&args).await];
    for (i, node) in nodes.iter().enumerate() {
        let c = Client::new(&node.base, &common::new_uuid(), "shared");
        c.post_n(&format!("q{i}"), 30).await;
    }
    // Exactly one node holds the relay's lease.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let leader = loop {
        let mut connected = Vec::new();
        for node in &nodes {
            connected.push(gauge(&node.base, "cairn_kafka_relay_connected").await == Some(1));
        }
        if connected.iter().filter(|c| **c).count() == 1 {
            break connected.iter().position(|c| *c).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no single relay: {connected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    wait_caught_up(&nodes[leader].base, Duration::from_secs(30)).await;
    // The leader dies; the other node takes over and publishes what is posted next.
    nodes.remove(leader).kill();
    let survivor = &nodes[0];
    let c = Client::new(&survivor.base, &common::new_uuid(), "shared");
    c.post_n("after", 30).await;
    let last = wait_caught_up(&survivor.base, Duration::from_secs(60)).await;
    assert_exactly_once(&read_topic(&brokers, TOPIC), last);
}
