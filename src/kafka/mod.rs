//! The Kafka event stream: every committed event published to a Kafka topic, exactly once,
//! in log order per queue; and the reading of such a topic back into a store.
//!
//! - [`relay`] follows the log (like the notification engine, through
//!   [`crate::store::follow`], one node of a cluster at a time) and publishes its events
//!   in Kafka transactions;
//! - [`recovery`] finds, when a relay starts, how far each partition of the topic got, so
//!   that nothing is published twice after a crash;
//! - [`record`] is the record format (key, partition, headers, value);
//! - [`topic`] reads a whole topic back, for `cairn replay --from kafka://…`;
//! - [`mock`] is `cairn kafka-mock`, librdkafka's in-memory mock cluster, for trying it.
//!
//! Depends on the store, the events and the metrics; nothing below it depends on this.

pub mod mock;
pub mod record;
pub mod recovery;
pub mod relay;
pub mod topic;

use std::time::Duration;

use rdkafka::ClientConfig;

pub use relay::start;

/// The default topic.
pub const DEFAULT_TOPIC: &str = "cairn.events";

/// Where the event stream goes, and how the relay talks to Kafka.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// `bootstrap.servers`: `HOST:PORT,…`.
    pub brokers: String,
    pub topic: String,
    /// librdkafka settings passed through (`security.protocol`, `sasl.*`, `ssl.*`, …); they
    /// come last, so they override Cairn's own.
    pub options: Vec<(String, String)>,
    /// Partitions of the topic, when the relay creates it.
    pub partitions: i32,
    /// Replication factor of the topic, when the relay creates it (`-1`: the broker's
    /// default).
    pub replication: i32,
    /// The producer's `transactional.id`: a relay that starts with the same one fences off
    /// any earlier producer still running.
    pub transactional_id: String,
    /// Publish in Kafka transactions (`false`: the idempotent producer only, for brokers
    /// without transactions; exactly once then rests on the partition tails alone).
    pub transactions: bool,
    /// Most events per Kafka transaction.
    pub max_batch: usize,
    /// How long one Kafka operation may take before the relay gives up and starts over.
    pub timeout: Duration,
}

impl KafkaSettings {
    /// Settings for `brokers` and `topic`, with the defaults for the rest.
    pub fn new(brokers: &str, topic: &str) -> KafkaSettings {
        KafkaSettings {
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            options: Vec::new(),
            partitions: 6,
            replication: -1,
            transactional_id: format!("cairn-relay.{topic}"),
            transactions: true,
            max_batch: 5_000,
            timeout: Duration::from_secs(30),
        }
    }

    /// A client configuration for these brokers, with `own` settings and then the
    /// pass-through options.
    pub fn client_config(&self, own: &[(&str, &str)]) -> ClientConfig {
        client_config(&self.brokers, own, &self.options)
    }
}

/// A client configuration: `bootstrap.servers`, then `own`, then `options`.
pub fn client_config(
    brokers: &str,
    own: &[(&str, &str)],
    options: &[(String, String)],
) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    for (k, v) in own {
        config.set(*k, *v);
    }
    for (k, v) in options {
        config.set(k, v);
    }
    config
}

/// A `--kafka-option` value: `key=value`.
pub fn parse_option(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected key=value, got {text:?}")),
    }
}

/// A topic named by URL: `kafka://HOST:PORT,HOST:PORT/TOPIC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicUrl {
    pub brokers: String,
    pub topic: String,
}

impl std::str::FromStr for TopicUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix("kafka://")
            .ok_or_else(|| format!("expected kafka://BROKERS/TOPIC, got {s:?}"))?;
        match rest.split_once('/') {
            Some((brokers, topic)) if !brokers.is_empty() && !topic.is_empty() => Ok(TopicUrl {
                brokers: brokers.to_owned(),
                topic: topic.to_owned(),
            }),
            _ => Err(format!("expected kafka://BROKERS/TOPIC, got {s:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_urls_name_brokers_and_topic() {
        let url: TopicUrl = "kafka://a:9092,b:9092/cairn.events".parse().unwrap();
        assert_eq!(url.brokers, "a:9092,b:9092");
        assert_eq!(url.topic, "cairn.events");
        for bad in ["kafka://a:9092", "kafka:///t", "http://a/t", "kafka://a:1/"] {
            assert!(bad.parse::<TopicUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn options_are_key_value_pairs() {
        assert_eq!(
            parse_option("sasl.password=a=b").unwrap(),
            ("sasl.password".into(), "a=b".into())
        );
        assert!(parse_option("novalue").is_err());
        assert!(parse_option("=x").is_err());
    }
}
