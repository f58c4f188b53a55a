//! How far the topic got: for each partition, the highest log position among its
//! committed records. The relay's producer is idempotent and transactional, so within a
//! partition the committed records are a gap-free prefix, in log order, of the events that
//! belong there: an event is in the topic exactly when its position is at most its
//! partition's highest. That makes the topic its own checkpoint, whatever a crash
//! interrupted (even on a broker, like librdkafka's mock cluster, that shows records of
//! unfinished transactions).
//!
//! Blocking: run it on a blocking thread.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::record::SEQ_HEADER;

/// Records read back from the end of a partition at first; doubled while none of them is
/// one of ours (aborted transactions and their markers take offsets too).
const FIRST_WINDOW: i64 = 64;

/// The log position a record carries, if it is one of the relay's.
pub fn seq_of<M: Message>(message: &M) -> Option<i64> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == SEQ_HEADER)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
}

/// A consumer that reads only committed records, without a group.
pub fn consumer(config: &ClientConfig) -> Result<BaseConsumer, KafkaError> {
    let mut config = config.clone();
    config
        .set("group.id", "cairn-reader")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed");
    config.create()
}

/// The highest log position committed in each of the `partitions` of `topic` (0 for a
/// partition without any).
pub fn tails(
    config: &ClientConfig,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<Vec<i64>, String> {
    let consumer = consumer(config).map_err(|e| format!("cannot create a consumer: {e}"))?;
    (0..partitions)
        .map(|p| tail(&consumer, topic, p, timeout))
        .collect()
}

/// The highest log position committed in one partition.
fn tail(consumer: &BaseConsumer, topic: &str, p: i32, timeout: Duration) -> Result<i64, String> {
    let (low, high) = consumer
        .fetch_watermarks(topic, p, timeout)
        .map_err(|e| format!("cannot read the offsets of {topic}/{p}: {e}"))?;
    let mut window = FIRST_WINDOW;
    loop {
        let from = (high - window).max(low);
        if from >= high {
            return Ok(0);
        }
        if let Some(seq) = highest_from(consumer, topic, p, from, high, timeout)? {
            return Ok(seq);
        }
        if from == low {
            return Ok(0);
        }
        window = window.saturating_mul(2);
    }
}

/// The highest log position among the committed records of a partition from offset
/// `from` to its end (`high` when it was looked up).
fn highest_from(
    consumer: &BaseConsumer,
    topic: &str,
    p: i32,
    from: i64,
    high: i64,
    timeout: Duration,
) -> Result<Option<i64>, String> {
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, p, Offset::Offset(from))
        .map_err(|e| e.to_string())?;
    consumer
        .assign(&list)
        .map_err(|e| format!("cannot read {topic}/{p}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut highest = None;
    loop {
        if Instant::now() > deadline {
            return Err(format!("reading the end of {topic}/{p} timed out"));
        }
        match consumer.poll(Duration::from_millis(200)) {
            None => continue,
            Some(Ok(m)) if m.partition() == p => {
                if let Some(seq) = seq_of(&m) {
                    highest = highest.max(Some(seq));
                }
                if m.offset() + 1 >= high {
                    return Ok(highest);
                }
            }
            Some(Ok(_)) => continue,
            Some(Err(KafkaError::PartitionEOF(q))) if q == p => return Ok(highest),
            Some(Err(KafkaError::PartitionEOF(_))) => continue,
            Some(Err(e)) => return Err(format!("cannot read {topic}/{p}: {e}")),
        }
    }
}
