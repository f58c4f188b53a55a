//! Kafka for the event-stream tests: librdkafka's mock cluster (in this process, on
//! 127.0.0.1), a read_committed reader of a whole topic, and waits on a server's relay.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// The topic the tests create.
pub const TOPIC: &str = "cairn.events";
/// Partitions of that topic.
pub const PARTITIONS: i32 = 4;

/// A mock cluster of 3 brokers with the test topic (replicated 3 times).
pub fn mock_cluster() -> MockCluster<'static, DefaultProducerContext> {
    let cluster = MockCluster::new(3).expect("librdkafka's mock cluster starts");
    cluster
        .create_topic(TOPIC, PARTITIONS, 3)
        .expect("the mock cluster creates the topic");
    cluster
}

/// One record of the topic, as a read_committed consumer sees it.
#[derive(Debug, Clone)]
pub struct Rec {
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub headers: Vec<(String, String)>,
    pub value: serde_json::Value,
}

impl Rec {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn seq(&self) -> i64 {
        self.header("seq")
            .expect("a seq header")
            .parse()
            .expect("a number")
    }
}

/// Every record of `topic`, partition by partition, in offset order.
pub fn read_topic(brokers: &str, topic: &str) -> Vec<Rec> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "cairn-test-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create()
        .expect("a consumer");
    let timeout = Duration::from_secs(10);
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .expect("topic metadata");
    let partitions = metadata.topics()[0].partitions().len() as i32;
    let mut list = TopicPartitionList::new();
    let mut open = Vec::new();
    for p in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .expect("offsets");
        if high > low {
            list.add_partition_offset(topic, p, Offset::Offset(low))
                .unwrap();
            open.push(p);
        }
    }
    let mut records = Vec::new();
    if open.is_empty() {
        return records;
    }
    consumer.assign(&list).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !open.is_empty() {
        assert!(
            Instant::now() < deadline,
            "reading the topic took over 30 s"
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => open.retain(|q| *q != p),
            Some(Err(e)) => panic!("reading the topic: {e}"),
            Some(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                let value =
                                    h.value.map(|v| String::from_utf8_lossy(v).into_owned());
                                (h.key.to_owned(), value.unwrap_or_default())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                records.push(Rec {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                    headers,
                    value: serde_json::from_slice(m.payload().unwrap_or_default())
                        .expect("a JSON value"),
                });
            }
        }
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    records
}

/// Asserts that the topic holds every event from 1 to `last` exactly once, and returns its
/// records in log order.
pub fn assert_exactly_once(records: &[Rec], last: i64) -> Vec<Rec> {
    let mut by_seq: Vec<Rec> = records.to_vec();
    by_seq.sort_by_key(Rec::seq);
    let seqs: Vec<i64> = by_seq.iter().map(Rec::seq).collect();
    let mut duplicates: Vec<i64> = seqs
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    duplicates.dedup();
    assert!(
        duplicates.is_empty(),
        "duplicated in the topic: {duplicates:?}"
    );
    let missing: Vec<i64> = (1..=last)
        .filter(|s| seqs.binary_search(s).is_err())
        .collect();
    assert!(missing.is_empty(), "missing from the topic: {missing:?}");
    assert_eq!(seqs.len() as i64, last, "events beyond {last} in the topic");
    by_seq
}

/// A gauge of the server's `/metrics`.
pub async fn gauge(base: &str, name: &str) -> Option<i64> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Waits (at most `limit`) until the server's relay has published up to its log position;
/// returns that position.
pub async fn wait_caught_up(base: &str, limit: Duration) -> i64 {
    let deadline = Instant::now() + limit;
    loop {
        let head = gauge(base, "cairn_log_position").await;
        let published = gauge(base, "cairn_kafka_relay_published_seq").await;
        if let (Some(head), Some(published)) = (head, published) {
            if head > 0 && published == head {
                return head;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the relay did not catch up within {limit:?} (log {head:?}, published {published:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Posts one message at a time to `q{p}` until the server goes away or `max` are posted,
/// counting the acknowledged ones in `acked`.
pub async fn producer(
    base: String,
    p: usize,
    acked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    max: usize,
) {
    let c = super::Client::new(&base, &super::new_uuid(), &format!("project-{}", p % 2));
    for n in 0..max {
        let request = c
            .request(reqwest::Method::POST, &format!("/v2/queues/q{p}/messages"))
            .json(&serde_json::json!({"messages": [{"body": {"p": p, "n": n}, "ttl": 3600}]}));
        let Ok(response) = request.send().await else {
            return;
        };
        if response.status().as_u16() != 201 || response.bytes().await.is_err() {
            return;
        }
        acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
