//! The record format: how an event of the log becomes a Kafka record, and back.
//!
//! - **key**: `project/queue`, so that a queue's events stay in order in one partition;
//! - **partition**: chosen here, from the key, as Kafka's Java client does by default
//!   (murmur2 of the key, positive, modulo the partition count), so the relay knows where
//!   each event went when it recovers;
//! - **headers**: `seq`, `type`, `schema_version`, `project`, `queue` (UTF-8 text);
//! - **value**: the event as the event feed shows it, as JSON, with its project:
//!   `{"seq", "type", "at", "project", "queue", "client_id", "request_id", "event"}`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::events::{Envelope, Event, Fields, SCHEMA_VERSION};
use crate::model::{ClientId, ProjectId, QueueName, Timestamp};

/// The header that carries an event's log position.
pub const SEQ_HEADER: &str = "seq";

/// The record's value, as written.
#[derive(Serialize)]
struct Value<'a> {
    seq: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    at: String,
    project: &'a str,
    queue: &'a str,
    client_id: Option<&'a str>,
    request_id: Option<&'a str>,
    event: Fields<'a>,
}

/// The record's value, as read back.
#[derive(Deserialize)]
struct Decoded<'a> {
    seq: i64,
    #[serde(rename = "type")]
    kind: &'a str,
    at: &'a str,
    project: &'a str,
    queue: &'a str,
    client_id: Option<&'a str>,
    request_id: Option<&'a str>,
    #[serde(borrow)]
    event: &'a RawValue,
}

/// An event, ready to be produced.
pub struct Record {
    pub key: String,
    pub value: Vec<u8>,
    pub headers: [(&'static str, String); 5],
}

impl Record {
    pub fn of(env: &Envelope) -> Result<Record, serde_json::Error> {
        let value = serde_json::to_vec(&Value {
            seq: env.seq,
            kind: env.event.kind(),
            at: env.at.to_rfc3339_millis(),
            project: env.project.as_str(),
            queue: env.queue.as_str(),
            client_id: env.client_id.as_ref().map(|c| c.as_str()),
            request_id: env.request_id.as_deref(),
            event: Fields(&env.event),
        })?;
        Ok(Record {
            key: key(env),
            value,
            headers: [
                (SEQ_HEADER, env.seq.to_string()),
                ("type", env.event.kind().to_owned()),
                ("schema_version", SCHEMA_VERSION.to_string()),
                ("project", env.project.as_str().to_owned()),
                ("queue", env.queue.as_str().to_owned()),
            ],
        })
    }
}

/// The record key of an event: its queue, within its project.
pub fn key(env: &Envelope) -> String {
    format!("{}/{}", env.project.as_str(), env.queue.as_str())
}

/// The event a record's value holds.
pub fn decode(value: &[u8]) -> Result<Envelope, String> {
    let d: Decoded = serde_json::from_slice(value).map_err(|e| format!("not an event: {e}"))?;
    let at = Timestamp::parse_rfc3339(d.at).ok_or_else(|| format!("bad instant {:?}", d.at))?;
    let project = ProjectId::new(Some(d.project)).map_err(|_| "empty project".to_owned())?;
    let event = Event::from_stored(d.kind, d.event.get())
        .map_err(|e| format!("event {} ({}): {e}", d.seq, d.kind))?;
    Ok(Envelope {
        seq: d.seq,
        at,
        project,
        queue: QueueName::from_stored(d.queue.to_owned()),
        client_id: d.client_id.map(|c| ClientId::from_stored(c.to_owned())),
        request_id: d.request_id.map(str::to_owned),
        event,
    })
}

/// The partition of `key` among `partitions`, as Kafka's Java client chooses it.
pub fn partition(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) as i32 % partitions.max(1)
}

/// Kafka's murmur2 (the Java client's `Utils.murmur2`). Hand-written: a dozen lines, and
/// librdkafka's own copy is not exported through `rdkafka`.
fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{MessagesPosted, PostedMessage, QueueCreated};
    use crate::model::{MessageBody, MessageId};

    #[test]
    fn murmur2_matches_the_java_client() {
        // Values from the Java client's own tests (`UtilsTest.testMurmur2`).
        let cases: [(&[u8], i32); 4] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
        ];
        for (data, expected) in cases {
            assert_eq!(murmur2(data) as i32, expected, "{:?}", data);
        }
        assert!((0..6).contains(&partition(b"p/q", 6)));
    }

    #[test]
    fn a_record_decodes_to_the_event_it_was_made_of() {
        let posted = Envelope {
            seq: 42,
            at: Timestamp(1_700_000_000_123),
            project: ProjectId::new(Some("alpha")).unwrap(),
            queue: QueueName::from_stored("jobs".into()),
            client_id: Some(ClientId::from_stored("c-1".into())),
            request_id: Some("req-abc".into()),
            event: Event::MessagesPosted(MessagesPosted {
                messages: vec![PostedMessage {
                    id: MessageId::from_stored("m1".into()),
                    marker: 7,
                    body: MessageBody::from_value(&serde_json::json!({"n": 1.5, "s": "x"})),
                    ttl: 300,
                    expires_at: Timestamp(1_700_000_300_123),
                    delay_until: Timestamp(1_700_000_000_123),
                    checksum: Some("MD5:abc".into()),
                }],
            }),
        };
        let created = Envelope {
            seq: 1,
            event: Event::QueueCreated(QueueCreated {
                metadata: serde_json::Map::new(),
            }),
            client_id: None,
            request_id: None,
            ..posted.clone()
        };
        for env in [posted, created] {
            let record = Record::of(&env).unwrap();
            assert_eq!(record.key, "alpha/jobs");
            assert_eq!(record.headers[0], (SEQ_HEADER, env.seq.to_string()));
            let doc: serde_json::Value = serde_json::from_slice(&record.value).unwrap();
            assert_eq!(doc["type"], env.event.kind());
            assert!(doc["event"].get("type").is_none(), "{doc}");
            assert_eq!(decode(&record.value).unwrap(), env);
        }
        assert!(decode(b"{}").is_err());
    }
}
