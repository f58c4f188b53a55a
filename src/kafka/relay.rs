//! The relay: terms of leadership, one after another. A term takes the relay's lease,
//! starts a transactional producer (fencing off any earlier one with the same
//! `transactional.id`), creates the topic if it is missing, asks the topic how far it got
//! ([`super::recovery`]), then follows the log from there and publishes each page of events
//! in one Kafka transaction. Any Kafka error ends the term; the next one, after a pause,
//! starts over from what the topic holds. The write path never waits for any of this:
//! while Kafka is away the lag grows (`/metrics`, `GET /v2/health`), and the relay catches
//! up when it returns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use tokio::sync::watch;

use super::record::{self, Record};
use super::{recovery, KafkaSettings};
use crate::events::Envelope;
use crate::state::Core;
use crate::store::follow::{self, Follower};
use crate::store::{Singleton, RELAY_CHECKPOINT};

/// The longest pause between two terms after Kafka failed.
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// Pages of the log read ahead of the one being published.
const READ_AHEAD: usize = 3;
/// How often the local copy of the checkpoint is written while events are published.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Starts the relay; it runs until `stop` turns true.
pub fn start(
    app: Core,
    settings: KafkaSettings,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    app.metrics.relay_enabled();
    tokio::spawn(run(app, Arc::new(settings), stop))
}

async fn run(app: Core, settings: Arc<KafkaSettings>, mut stop: watch::Receiver<bool>) {
    let mut pause = Duration::from_secs(1);
    loop {
        let Some(mut lease) = follow::lead(&app.store, Singleton::Relay, &mut stop).await else {
            return;
        };
        let mut term = Term {
            app: app.clone(),
            settings: settings.clone(),
            published: 0,
            recorded: 0,
        };
        let ended = tokio::select! {
            ended = term.run() => ended,
            _ = lease.lost() => Err("the relay lost its lease; another node takes over".into()),
            _ = stop.changed() => Ok(()),
        };
        // What this term published is in the topic: keep the local copy of the checkpoint.
        term.record_checkpoint().await;
        app.metrics.relay_connected(false);
        match ended {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, pause_s = pause.as_secs(), "the Kafka relay stopped; it starts over after a pause");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
        pause = (pause * 2).min(MAX_PAUSE);
        if term.published > 0 {
            pause = Duration::from_secs(1);
        }
    }
}

/// One term of leadership.
struct Term {
    app: Core,
    settings: Arc<KafkaSettings>,
    /// Every event up to here is committed in the topic.
    published: i64,
    /// The value of the local checkpoint as last written.
    recorded: i64,
}

impl Term {
    /// Publishes until the store closes (`Ok`) or Kafka fails (`Err`).
    async fn run(&mut self) -> Result<(), String> {
        let settings = self.settings.clone();
        let producer = blocking(move || producer(&settings)).await?;
        let partitions = self.topic_partitions(&producer).await?;
        let settings = self.settings.clone();
        let tails = blocking(move || {
            let config = settings.client_config(&[]);
            recovery::tails(&config, &settings.topic, partitions, settings.timeout)
        })
        .await?;
        let local = self
            .app
            .store
            .checkpoint(RELAY_CHECKPOINT)
            .await
            .map_err(|e| e.to_string())?;
        let start = resume_at(&tails, local);
        if start < local {
            tracing::warn!(
                local,
                "the topic holds none of the events this store published: publishing the log again"
            );
        }
        self.published = start;
        self.recorded = local;
        self.app.metrics.relay_published(start);
        self.app.metrics.relay_connected(true);
        tracing::info!(topic = %self.settings.topic, partitions, from = start, "relaying events to Kafka");
        // The log is read a few pages ahead, so reading overlaps with publishing.
        let mut follower = Follower::new(
            self.app.store.clone(),
            start,
            self.settings.max_batch as i64,
        );
        let (pages, mut received) = tokio::sync::mpsc::channel(READ_AHEAD);
        let reader = AbortOnDrop(tokio::spawn(async move {
            while let Some(page) = follower.next().await {
                if pages.send(page).await.is_err() {
                    return;
                }
            }
        }));
        let outlet = Arc::new(Outlet {
            producer,
            settings: self.settings.clone(),
            partitions,
            tails,
        });
        let mut last_record = Instant::now();
        while let Some(batch) = received.recv().await {
            let last = batch.last().map_or(self.published, |e| e.seq);
            let outlet = outlet.clone();
            let sent = blocking(move || outlet.publish(&batch)).await?;
            self.published = last;
            self.app.metrics.relay_transaction(last, sent);
            if last_record.elapsed() >= CHECKPOINT_EVERY {
                self.record_checkpoint().await;
                last_record = Instant::now();
            }
        }
        drop(reader);
        Ok(())
    }

    /// The partition count of the topic, after creating it if it is missing.
    async fn topic_partitions(&self, producer: &Relaying) -> Result<i32, String> {
        let settings = &self.settings;
        let existing = partitions_of(producer, &settings.topic, settings.timeout)?;
        if let Some(n) = existing {
            return Ok(n);
        }
        let admin: AdminClient<DefaultClientContext> = settings
            .client_config(&[])
            .create()
            .map_err(|e| format!("cannot create a Kafka admin client: {e}"))?;
        let topic = NewTopic::new(
            &settings.topic,
            settings.partitions.max(1),
            TopicReplication::Fixed(settings.replication),
        );
        let options = AdminOptions::new().operation_timeout(Some(settings.timeout));
        let results = admin
            .create_topics([&topic], &options)
            .await
            .map_err(|e| format!("cannot create the topic {}: {e}", settings.topic))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, e)) => return Err(format!("cannot create the topic {name}: {e}")),
            }
        }
        tracing::info!(topic = %settings.topic, partitions = settings.partitions, "created the Kafka topic");
        // The new topic's metadata reaches every broker a moment later.
        let deadline = Instant::now() + settings.timeout;
        loop {
            if let Some(n) = partitions_of(producer, &settings.topic, settings.timeout)? {
                return Ok(n);
            }
            if Instant::now() > deadline {
                return Err(format!("the topic {} did not appear", settings.topic));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Writes the local copy of the checkpoint (retention keeps every event after it).
    async fn record_checkpoint(&mut self) {
        if self.published <= self.recorded {
            return;
        }
        match self
            .app
            .store
            .advance_checkpoint(RELAY_CHECKPOINT, self.published)
            .await
        {
            Ok(()) => self.recorded = self.published,
            Err(e) => tracing::warn!(error = %e, "cannot record the Kafka relay's checkpoint"),
        }
    }
}

/// Where publishing resumes: after every event the topic is known to hold. Each partition
/// holds a gap-free prefix, so every event up to the lowest partition tail is in; so is
/// every event up to the local checkpoint — unless the topic holds nothing at all (a new
/// or emptied topic), when the whole retained log is published again.
pub fn resume_at(tails: &[i64], local: i64) -> i64 {
    if tails.iter().all(|t| *t == 0) {
        return 0;
    }
    tails.iter().copied().min().unwrap_or(0).max(local)
}

/// Whether the event at `seq`, in `partition`, still has to be published.
fn unpublished(tails: &[i64], partition: i32, seq: i64) -> bool {
    tails.get(partition as usize).is_none_or(|tail| seq > *tail)
}

/// Stops a task when the term that started it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs blocking Kafka work off the runtime's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("the Kafka worker failed: {e}"))?
}

/// The relay's producer.
type Relaying = BaseProducer<Deliveries>;

/// Counts the records Kafka refused for good (without transactions, the only sign of it).
#[derive(Default)]
struct Deliveries {
    failed: std::sync::atomic::AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Ok(mut last) = self.last_error.lock() {
                *last = Some(e.to_string());
            }
        }
    }
}

/// The relay's producer: idempotent, and transactional with `settings.transactions`, its
/// transactions initialised (which fences off any earlier producer with the same
/// `transactional.id` and aborts what it left open).
fn producer(settings: &KafkaSettings) -> Result<Relaying, String> {
    let timeout_ms = settings.timeout.as_millis().to_string();
    let mut own = vec![
        ("enable.idempotence", "true"),
        ("acks", "all"),
        ("linger.ms", "5"),
        ("socket.timeout.ms", timeout_ms.as_str()),
    ];
    if settings.transactions {
        own.push(("transactional.id", settings.transactional_id.as_str()));
        own.push(("transaction.timeout.ms", "60000"));
    }
    let producer: Relaying = settings
        .client_config(&own)
        .create_with_context(Deliveries::default())
        .map_err(|e| format!("cannot create the Kafka producer: {e}"))?;
    if settings.transactions {
        producer
            .init_transactions(settings.timeout)
            .map_err(|e| format!("cannot start Kafka transactions: {e}"))?;
    }
    Ok(producer)
}

/// The partition count of `topic`, or `None` if it does not exist.
fn partitions_of(
    producer: &Relaying,
    topic: &str,
    timeout: Duration,
) -> Result<Option<i32>, String> {
    let metadata = producer
        .client()
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| format!("cannot read the metadata of {topic}: {e}"))?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len() as i32))
}

/// Where a term's batches go: its producer, the topic's settings and partition count, and
/// the last position each partition held when the term began.
struct Outlet {
    producer: Relaying,
    settings: Arc<KafkaSettings>,
    partitions: i32,
    tails: Vec<i64>,
}

impl Outlet {
    /// Publishes `events` in one transaction (those the topic does not hold yet); how many.
    fn publish(&self, events: &[Arc<Envelope>]) -> Result<u64, String> {
        let (producer, settings) = (&self.producer, &self.settings);
        if !settings.transactions {
            let sent = self.send_all(events)?;
            producer
                .flush(settings.timeout)
                .map_err(|e| format!("cannot deliver to Kafka: {e}"))?;
            let context = producer.context();
            if context.failed.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                let last = context.last_error.lock().ok().and_then(|e| e.clone());
                return Err(format!(
                    "Kafka refused records: {}",
                    last.unwrap_or_default()
                ));
            }
            return Ok(sent);
        }
        producer
            .begin_transaction()
            .map_err(|e| format!("cannot begin a Kafka transaction: {e}"))?;
        let sent = self.send_all(events);
        let ended = sent.and_then(|sent| {
            producer
                .commit_transaction(settings.timeout)
                .map(|()| sent)
                .map_err(|e| format!("cannot commit a Kafka transaction: {e}"))
        });
        if ended.is_err() {
            // Best effort: the next term's producer aborts it anyway.
            let _ = producer.abort_transaction(settings.timeout);
        }
        ended
    }

    fn send_all(&self, events: &[Arc<Envelope>]) -> Result<u64, String> {
        let (producer, settings) = (&self.producer, &self.settings);
        let mut sent = 0;
        for env in events {
            let record =
                Record::of(env).map_err(|e| format!("cannot encode event {}: {e}", env.seq))?;
            let partition = record::partition(record.key.as_bytes(), self.partitions);
            if !unpublished(&self.tails, partition, env.seq) {
                continue;
            }
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for (key, value) in &record.headers {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                });
            }
            let mut message = BaseRecord::to(&settings.topic)
                .key(record.key.as_bytes())
                .payload(&record.value)
                .partition(partition)
                .headers(headers);
            let deadline = Instant::now() + settings.timeout;
            loop {
                match producer.send(message) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                        if Instant::now() < deadline =>
                    {
                        message = back;
                        producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => return Err(format!("cannot send event {}: {e}", env.seq)),
                }
            }
            sent += 1;
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishing_resumes_after_what_the_topic_holds() {
        // A new topic: everything again, whatever the local checkpoint says.
        assert_eq!(resume_at(&[0, 0, 0], 0), 0);
        assert_eq!(resume_at(&[0, 0, 0], 50), 0);
        // The lowest tail, or the local checkpoint if it is further.
        assert_eq!(resume_at(&[10, 7, 12], 0), 7);
        assert_eq!(resume_at(&[10, 7, 12], 9), 9);
        // A partition that never got an event does not hold the others back past the
        // local checkpoint.
        assert_eq!(resume_at(&[10, 0, 12], 8), 8);
        assert!(unpublished(&[10, 7], 1, 8));
        assert!(!unpublished(&[10, 7], 0, 8));
    }
}
