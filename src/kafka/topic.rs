//! Reading a whole topic back: every committed record of every partition, from the first
//! offset to the end the partition had when reading began, decoded into events. Partitions
//! are read together, so events arrive in log order within a partition only; the store they
//! go into puts them in place by position (and drops any duplicate).
//!
//! Blocking: run it on a blocking thread.

use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::record;
use super::recovery::{consumer, seq_of};
use crate::events::Envelope;

/// What reading a topic found.
#[derive(Debug, Default)]
pub struct Read {
    /// Records of the relay's read and handed on.
    pub events: u64,
    /// Records without the relay's headers, skipped.
    pub foreign: u64,
}

/// Reads every committed record of `topic` and hands each event to `each`. `total` is told
/// first how many records (at most) there are; `progress` after each one.
pub fn read(
    config: &ClientConfig,
    topic: &str,
    timeout: Duration,
    total: &mut dyn FnMut(u64),
    progress: &mut dyn FnMut(u64),
    each: &mut dyn FnMut(Envelope) -> Result<(), String>,
) -> Result<Read, String> {
    let consumer = consumer(config).map_err(|e| format!("cannot create a consumer: {e}"))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| format!("cannot read the metadata of {topic}: {e}"))?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len() as i32)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("there is no topic {topic}"))?;
    // The end of each partition, as reading begins; `None` once it is reached.
    let mut ends = Vec::new();
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .map_err(|e| format!("cannot read the offsets of {topic}/{p}: {e}"))?;
        ends.push((high > low).then_some(high));
        total((high - low).max(0) as u64);
        list.add_partition_offset(topic, p, Offset::Offset(low))
            .map_err(|e| e.to_string())?;
    }
    consumer
        .assign(&list)
        .map_err(|e| format!("cannot read {topic}: {e}"))?;
    let mut read = Read::default();
    let mut last_progress = Instant::now();
    while ends.iter().any(Option::is_some) {
        if last_progress.elapsed() > timeout {
            return Err(format!("reading {topic} made no progress for {timeout:?}"));
        }
        let m = match consumer.poll(Duration::from_millis(200)) {
            None => continue,
            Some(Ok(m)) => m,
            Some(Err(KafkaError::PartitionEOF(p))) => {
                if let Some(end) = ends.get_mut(p as usize) {
                    *end = None;
                }
                continue;
            }
            Some(Err(e)) => return Err(format!("cannot read {topic}: {e}")),
        };
        last_progress = Instant::now();
        let p = m.partition() as usize;
        let Some(Some(end)) = ends.get(p).copied() else {
            continue;
        };
        if m.offset() + 1 >= end {
            ends[p] = None;
        }
        progress(1);
        if seq_of(&m).is_none() {
            read.foreign += 1;
            continue;
        }
        let value = m.payload().unwrap_or_default();
        let env = record::decode(value)
            .map_err(|e| format!("{topic}/{p} at offset {}: {e}", m.offset()))?;
        each(env)?;
        read.events += 1;
    }
    Ok(read)
}
