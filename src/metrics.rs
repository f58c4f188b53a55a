//! Operational metrics in Prometheus' text format (`GET /metrics`): requests by route or
//! action and status with latency histograms, committed events by type, messages by what
//! happened to them (posted, claimed, deleted, popped, expired, dead-lettered), the log
//! position, group-commit batch sizes and times, the SQLite write-ahead log's size and
//! restarts, WebSocket connections, and message counts read from the store at scrape time.
//! A small registry of atomics and mutex-guarded maps; nothing here does I/O.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::events::{Envelope, Event};

/// Latency buckets (seconds).
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Group-commit time buckets (seconds): finer than [`LATENCY_BUCKETS`] below 10 ms, where a
/// batch's phases fall.
const COMMIT_BUCKETS: [f64; 12] = [
    0.00025, 0.0005, 0.001, 0.002, 0.004, 0.006, 0.008, 0.012, 0.016, 0.032, 0.064, 0.25,
];
/// The phases of a group-commit transaction, as `cairn_group_commit_duration_seconds` labels
/// them, in the order of [`Metrics::batch_phases`].
const PHASES: [&str; 2] = ["apply", "commit"];
/// Group-commit batch-size buckets (commands per transaction).
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// What can happen to a message, as counted by `cairn_messages_total{outcome}`.
const OUTCOMES: [&str; 6] = [
    "posted",
    "claimed",
    "deleted",
    "popped",
    "expired",
    "dead_lettered",
];

/// The outcome (index into [`OUTCOMES`]) and number of messages an event records, if it
/// names its messages. A purge or a queue deletion removes messages without naming them.
fn messages_of(event: &Event) -> Option<(usize, usize)> {
    Some(match event {
        Event::MessagesPosted(e) => (0, e.messages.len()),
        Event::MessagesClaimed(e) => (1, e.messages.len()),
        Event::MessagesDeleted(e) => (2, e.ids.len()),
        Event::MessagesPopped(e) => (3, e.ids.len()),
        Event::MessagesExpired(e) => (4, e.ids.len()),
        Event::MessageDeadLettered(_) => (5, 1),
        _ => return None,
    })
}

/// What can happen to a notification attempt, as counted by `cairn_notifications_total`.
const NOTIFICATION_OUTCOMES: [&str; 3] = ["delivered", "failed", "abandoned"];

/// The outcome (index into [`NOTIFICATION_OUTCOMES`]) and number of attempts an event
/// records.
fn notification_of(event: &Event) -> Option<(usize, usize)> {
    match event {
        Event::NotificationDelivered(e) => Some((0, e.deliveries.len())),
        Event::NotificationFailed(_) => Some((1, 1)),
        Event::NotificationAbandoned(_) => Some((2, 1)),
        _ => None,
    }
}

/// A histogram with fixed buckets.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    /// Sum of observations, in millionths.
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            if value <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let n = count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let total = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {total}");
    }
}

/// The Kafka relay's state, as `/metrics` and `GET /v2/health` show it.
#[derive(Debug, Default)]
struct Relay {
    enabled: AtomicBool,
    connected: AtomicBool,
    published: AtomicI64,
    events: AtomicU64,
    transactions: AtomicU64,
}

/// The Kafka relay, seen from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayStatus {
    /// Whether the relay's current term has a working producer.
    pub connected: bool,
    /// Every event up to this position is committed in the topic.
    pub published: i64,
    /// Events committed to the log but not yet to the topic.
    pub lag: i64,
}

/// Everything Cairn counts.
#[derive(Debug)]
pub struct Metrics {
    http_requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    http_latency: Mutex<BTreeMap<(String, String), Histogram>>,
    ws_requests: Mutex<BTreeMap<(String, u16), u64>>,
    ws_latency: Mutex<BTreeMap<String, Histogram>>,
    ws_connections: AtomicI64,
    events: Mutex<BTreeMap<&'static str, u64>>,
    messages: [AtomicU64; OUTCOMES.len()],
    log_position: AtomicI64,
    batch_sizes: Histogram,
    /// Per task (a command, or upkeep of the log): from its hand-off to the writer until
    /// its batch began.
    batch_waits: Histogram,
    /// Per batch, one per entry of [`PHASES`].
    batch_phases: [Histogram; PHASES.len()],
    notifications: [AtomicU64; NOTIFICATION_OUTCOMES.len()],
    notifier_checkpoint: AtomicI64,
    notifier_pending: AtomicI64,
    relay: Relay,
    /// Keystone token validations answered from the cache, and those that asked Keystone.
    token_cache: [AtomicU64; 2],
    /// Requests refused by authentication or policy, by reason.
    auth_refusals: Mutex<BTreeMap<&'static str, u64>>,
    wal: Wal,
}

/// The SQLite write-ahead log, as its checkpointer sees it (absent on PostgreSQL).
#[derive(Debug, Default)]
struct Wal {
    seen: AtomicBool,
    /// Frames in the log at the last checkpoint pass.
    frames: AtomicI64,
    /// Times the log was started over.
    restarts: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            http_requests: Mutex::default(),
            http_latency: Mutex::default(),
            ws_requests: Mutex::default(),
            ws_latency: Mutex::default(),
            ws_connections: AtomicI64::new(0),
            events: Mutex::default(),
            messages: Default::default(),
            log_position: AtomicI64::new(0),
            batch_sizes: Histogram::new(&BATCH_BUCKETS),
            batch_waits: Histogram::new(&COMMIT_BUCKETS),
            batch_phases: [
                Histogram::new(&COMMIT_BUCKETS),
                Histogram::new(&COMMIT_BUCKETS),
            ],
            notifications: Default::default(),
            notifier_checkpoint: AtomicI64::new(0),
            notifier_pending: AtomicI64::new(0),
            relay: Relay::default(),
            token_cache: Default::default(),
            auth_refusals: Mutex::default(),
            wal: Wal::default(),
        }
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// One REST request: method, route template (e.g. `/v2/queues/{queue}`) and status.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let key = (method.to_owned(), route.to_owned());
        if let Ok(mut m) = self.http_requests.lock() {
            *m.entry((key.0.clone(), key.1.clone(), status)).or_default() += 1;
        }
        if let Ok(mut m) = self.http_latency.lock() {
            m.entry(key)
                .or_insert_with(|| Histogram::new(&LATENCY_BUCKETS))
                .observe(took.as_secs_f64());
        }
    }

    /// One WebSocket request.
    pub fn ws_request(&self, action: &str, status: u16, took: Duration) {
        if let Ok(mut m) = self.ws_requests.lock() {
            *m.entry((action.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut m) = self.ws_latency.lock() {
            m.entry(action.to_owned())
                .or_insert_with(|| Histogram::new(&LATENCY_BUCKETS))
                .observe(took.as_secs_f64());
        }
    }

    /// A WebSocket connection opened (`+1`) or closed (`-1`).
    pub fn ws_connection(&self, delta: i64) {
        self.ws_connections.fetch_add(delta, Ordering::Relaxed);
    }

    /// One committed group-commit transaction and the events it appended.
    pub fn committed(&self, commands: usize, events: &[Envelope]) {
        self.batch_sizes.observe(commands as f64);
        if let Some(last) = events.last() {
            self.log_position.fetch_max(last.seq, Ordering::Relaxed);
        }
        if let Ok(mut m) = self.events.lock() {
            for env in events {
                *m.entry(env.event.kind()).or_default() += 1;
            }
        }
        for (outcome, n) in events.iter().filter_map(|env| messages_of(&env.event)) {
            self.messages[outcome].fetch_add(n as u64, Ordering::Relaxed);
        }
        for (outcome, n) in events.iter().filter_map(|env| notification_of(&env.event)) {
            self.notifications[outcome].fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Where a committed batch's time went: how long each of its tasks waited for it,
    /// how long deciding and folding them took, and how long the commit.
    pub fn batch_timed(
        &self,
        waits: impl Iterator<Item = Duration>,
        apply: Duration,
        commit: Duration,
    ) {
        for wait in waits {
            self.batch_waits.observe(wait.as_secs_f64());
        }
        for (h, took) in self.batch_phases.iter().zip([apply, commit]) {
            h.observe(took.as_secs_f64());
        }
    }

    /// The notification engine's checkpoint and deliveries waiting or in flight.
    pub fn notifier(&self, checkpoint: i64, pending: i64) {
        self.notifier_checkpoint
            .store(checkpoint, Ordering::Relaxed);
        self.notifier_pending.store(pending, Ordering::Relaxed);
    }

    /// The Kafka relay runs on this node.
    pub fn relay_enabled(&self) {
        self.relay.enabled.store(true, Ordering::Relaxed);
    }

    /// The relay's producer works (or no longer does).
    pub fn relay_connected(&self, connected: bool) {
        self.relay.connected.store(connected, Ordering::Relaxed);
    }

    /// Every event up to `seq` is in the topic (when a term starts).
    pub fn relay_published(&self, seq: i64) {
        self.relay.published.store(seq, Ordering::Relaxed);
    }

    /// One committed Kafka transaction: `events` events, up to `seq`.
    pub fn relay_transaction(&self, seq: i64, events: u64) {
        self.relay.published.fetch_max(seq, Ordering::Relaxed);
        self.relay.events.fetch_add(events, Ordering::Relaxed);
        self.relay.transactions.fetch_add(1, Ordering::Relaxed);
    }

    /// The relay's state, if it runs here.
    pub fn relay(&self) -> Option<RelayStatus> {
        if !self.relay.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let published = self.relay.published.load(Ordering::Relaxed);
        let head = self.log_position.load(Ordering::Relaxed);
        Some(RelayStatus {
            connected: self.relay.connected.load(Ordering::Relaxed),
            published,
            lag: (head - published).max(0),
        })
    }

    /// One token validation: from the cache (`hit`) or from Keystone.
    pub fn token_lookup(&self, hit: bool) {
        self.token_cache[usize::from(!hit)].fetch_add(1, Ordering::Relaxed);
    }

    /// A request refused by authentication or policy (`reason`: a fixed label).
    pub fn auth_refused(&self, reason: &'static str) {
        if let Ok(mut m) = self.auth_refusals.lock() {
            *m.entry(reason).or_default() += 1;
        }
    }

    /// The frames in the SQLite write-ahead log at a checkpoint pass.
    pub fn wal_frames(&self, frames: i64) {
        self.wal.frames.store(frames, Ordering::Relaxed);
        self.wal.seen.store(true, Ordering::Relaxed);
    }

    /// The SQLite write-ahead log started over.
    pub fn wal_restarted(&self) {
        self.wal.restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the log position (at start-up).
    pub fn set_log_position(&self, seq: i64) {
        self.log_position.fetch_max(seq, Ordering::Relaxed);
    }

    /// The exposition text; `free` and `claimed` are the store's current message counts.
    pub fn render(&self, free: i64, claimed: i64) -> String {
        let mut out = String::with_capacity(8192);
        self.render_requests(&mut out);
        self.render_log(&mut out);
        self.render_notifier(&mut out);
        self.render_relay(&mut out);
        self.render_auth(&mut out);
        MESSAGES.header(&mut out);
        MESSAGES.line(&mut out, "state=\"free\"", free);
        MESSAGES.line(&mut out, "state=\"claimed\"", claimed);
        out
    }

    /// REST and WebSocket requests, their latency and the open connections.
    fn render_requests(&self, out: &mut String) {
        HTTP_REQUESTS_TOTAL.header(out);
        if let Ok(m) = self.http_requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let route = escape(route);
                let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
                HTTP_REQUESTS_TOTAL.line(out, &labels, n);
            }
        }
        HTTP_REQUEST_DURATION_SECONDS.header(out);
        if let Ok(m) = self.http_latency.lock() {
            for ((method, route), h) in m.iter() {
                let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
                h.render(out, "cairn_http_request_duration_seconds", &labels);
            }
        }
        WS_REQUESTS_TOTAL.header(out);
        if let Ok(m) = self.ws_requests.lock() {
            for ((action, status), n) in m.iter() {
                let labels = format!("action=\"{}\",status=\"{status}\"", escape(action));
                WS_REQUESTS_TOTAL.line(out, &labels, n);
            }
        }
        WS_REQUEST_DURATION_SECONDS.header(out);
        if let Ok(m) = self.ws_latency.lock() {
            for (action, h) in m.iter() {
                let labels = format!("action=\"{}\"", escape(action));
                h.render(out, "cairn_ws_request_duration_seconds", &labels);
            }
        }
        WS_CONNECTIONS.single(out, self.ws_connections.load(Ordering::Relaxed));
    }

    /// The log: events and messages by kind, its position, the group-commit batches and,
    /// on SQLite, the write-ahead log.
    fn render_log(&self, out: &mut String) {
        EVENTS_TOTAL.header(out);
        if let Ok(m) = self.events.lock() {
            for (kind, n) in m.iter() {
                EVENTS_TOTAL.line(out, &format!("type=\"{kind}\""), n);
            }
        }
        MESSAGES_TOTAL.header(out);
        for (outcome, n) in OUTCOMES.iter().zip(&self.messages) {
            let n = n.load(Ordering::Relaxed);
            MESSAGES_TOTAL.line(out, &format!("outcome=\"{outcome}\""), n);
        }
        LOG_POSITION.single(out, self.log_position.load(Ordering::Relaxed));
        GROUP_COMMIT_BATCH_SIZE.header(out);
        self.batch_sizes
            .render(out, "cairn_group_commit_batch_size", "");
        GROUP_COMMIT_WAIT_SECONDS.header(out);
        self.batch_waits
            .render(out, "cairn_group_commit_wait_seconds", "");
        GROUP_COMMIT_DURATION_SECONDS.header(out);
        for (phase, h) in PHASES.iter().zip(&self.batch_phases) {
            let labels = format!("phase=\"{phase}\"");
            h.render(out, "cairn_group_commit_duration_seconds", &labels);
        }
        if self.wal.seen.load(Ordering::Relaxed) {
            let frames = self.wal.frames.load(Ordering::Relaxed);
            SQLITE_WAL_FRAMES.single(out, frames);
            SQLITE_WAL_RESTARTS_TOTAL.single(out, self.wal.restarts.load(Ordering::Relaxed));
        }
    }

    /// The notification engine: attempts, checkpoint, lag and pending work.
    fn render_notifier(&self, out: &mut String) {
        NOTIFICATIONS_TOTAL.header(out);
        for (outcome, n) in NOTIFICATION_OUTCOMES.iter().zip(&self.notifications) {
            let n = n.load(Ordering::Relaxed);
            NOTIFICATIONS_TOTAL.line(out, &format!("outcome=\"{outcome}\""), n);
        }
        let checkpoint = self.notifier_checkpoint.load(Ordering::Relaxed);
        NOTIFIER_CHECKPOINT.header(out);
        let _ = writeln!(out, "cairn_notifier_checkpoint {checkpoint}");
        NOTIFIER_LAG.header(out);
        let head = self.log_position.load(Ordering::Relaxed);
        let _ = writeln!(out, "cairn_notifier_lag {}", (head - checkpoint).max(0));
        NOTIFIER_PENDING.single(out, self.notifier_pending.load(Ordering::Relaxed));
    }

    /// The Kafka relay, when it runs on this node.
    fn render_relay(&self, out: &mut String) {
        if let Some(relay) = self.relay() {
            let gauges = [
                (
                    "cairn_kafka_relay_connected",
                    "Whether the Kafka relay has a working producer (1) or is retrying (0).",
                    i64::from(relay.connected),
                ),
                (
                    "cairn_kafka_relay_published_seq",
                    "Log position up to which every event is committed in the Kafka topic.",
                    relay.published,
                ),
                (
                    "cairn_kafka_relay_lag",
                    "Events committed to the log but not yet to the Kafka topic.",
                    relay.lag,
                ),
            ];
            for (name, help, value) in gauges {
                Metric(name, "gauge", help).single(out, value);
            }
            let counters = [
                (
                    "cairn_kafka_relay_events_total",
                    "Events published to the Kafka topic.",
                    self.relay.events.load(Ordering::Relaxed),
                ),
                (
                    "cairn_kafka_relay_transactions_total",
                    "Kafka transactions committed by the relay.",
                    self.relay.transactions.load(Ordering::Relaxed),
                ),
            ];
            for (name, help, value) in counters {
                Metric(name, "counter", help).single(out, value);
            }
        }
    }

    /// Authentication: the token cache and the refusals.
    fn render_auth(&self, out: &mut String) {
        AUTH_TOKEN_CACHE_TOTAL.header(out);
        for (result, n) in ["hit", "miss"].iter().zip(&self.token_cache) {
            let n = n.load(Ordering::Relaxed);
            AUTH_TOKEN_CACHE_TOTAL.line(out, &format!("result=\"{result}\""), n);
        }
        AUTH_REFUSALS_TOTAL.header(out);
        if let Ok(m) = self.auth_refusals.lock() {
            for (reason, n) in m.iter() {
                AUTH_REFUSALS_TOTAL.line(out, &format!("reason=\"{reason}\""), n);
            }
        }
    }
}

/// A metric's name, type and help text.
struct Metric(&'static str, &'static str, &'static str);

impl Metric {
    /// Writes the metric's `# HELP` and `# TYPE` lines.
    fn header(&self, out: &mut String) {
        let Metric(name, kind, help) = self;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// Writes one labelled value of the metric.
    fn line(&self, out: &mut String, labels: &str, value: impl std::fmt::Display) {
        let _ = writeln!(out, "{}{{{labels}}} {value}", self.0);
    }

    /// Writes the metric without labels: its header and its value.
    fn single(&self, out: &mut String, value: impl std::fmt::Display) {
        self.header(out);
        let _ = writeln!(out, "{} {value}", self.0);
    }
}

const MESSAGES: Metric = Metric(
    "cairn_messages",
    "gauge",
    "Unexpired messages in all queues, by state.",
);
const HTTP_REQUESTS_TOTAL: Metric = Metric(
    "cairn_http_requests_total",
    "counter",
    "REST requests by method, route and status.",
);
const HTTP_REQUEST_DURATION_SECONDS: Metric = Metric(
    "cairn_http_request_duration_seconds",
    "histogram",
    "REST request latency.",
);
const WS_REQUESTS_TOTAL: Metric = Metric(
    "cairn_ws_requests_total",
    "counter",
    "WebSocket requests by action and status.",
);
const WS_REQUEST_DURATION_SECONDS: Metric = Metric(
    "cairn_ws_request_duration_seconds",
    "histogram",
    "WebSocket request latency.",
);
const WS_CONNECTIONS: Metric = Metric(
    "cairn_ws_connections",
    "gauge",
    "Open WebSocket connections.",
);
const EVENTS_TOTAL: Metric = Metric(
    "cairn_events_total",
    "counter",
    "Events committed to the log, by type.",
);
const MESSAGES_TOTAL: Metric = Metric(
    "cairn_messages_total",
    "counter",
    "Messages by what happened to them (a purge or a \
             queue deletion is counted only in cairn_events_total).",
);
const LOG_POSITION: Metric = Metric(
    "cairn_log_position",
    "gauge",
    "Sequence number of the last committed event.",
);
const GROUP_COMMIT_BATCH_SIZE: Metric = Metric(
    "cairn_group_commit_batch_size",
    "histogram",
    "Commands per committed transaction.",
);
const GROUP_COMMIT_WAIT_SECONDS: Metric = Metric(
    "cairn_group_commit_wait_seconds",
    "histogram",
    "Time a task (a command, or upkeep of the log) waited in the writer's queue for its \
             transaction to begin.",
);
const GROUP_COMMIT_DURATION_SECONDS: Metric = Metric(
    "cairn_group_commit_duration_seconds",
    "histogram",
    "Time of a group-commit transaction, by phase: apply (deciding its commands, \
             recording and folding their events) and commit.",
);
const SQLITE_WAL_FRAMES: Metric = Metric(
    "cairn_sqlite_wal_frames",
    "gauge",
    "Pages (of 4 KiB) in SQLite's write-ahead log at the last checkpoint pass.",
);
const SQLITE_WAL_RESTARTS_TOTAL: Metric = Metric(
    "cairn_sqlite_wal_restarts_total",
    "counter",
    "Times SQLite's write-ahead log was started over from its beginning.",
);
const NOTIFICATIONS_TOTAL: Metric = Metric(
    "cairn_notifications_total",
    "counter",
    "Notification attempts by outcome (delivered, \
             failed and retried or given up, abandoned after the last retry).",
);
const NOTIFIER_CHECKPOINT: Metric = Metric(
    "cairn_notifier_checkpoint",
    "gauge",
    "Log position up to which every notification \
             has been delivered or given up.",
);
const NOTIFIER_LAG: Metric = Metric(
    "cairn_notifier_lag",
    "gauge",
    "Events committed after the notifier's checkpoint.",
);
const NOTIFIER_PENDING: Metric = Metric(
    "cairn_notifier_pending",
    "gauge",
    "Notifications waiting or in flight.",
);
const AUTH_TOKEN_CACHE_TOTAL: Metric = Metric(
    "cairn_auth_token_cache_total",
    "counter",
    "Keystone token validations, answered from \
             the cache (hit) or by Keystone (miss).",
);
const AUTH_REFUSALS_TOTAL: Metric = Metric(
    "cairn_auth_refusals_total",
    "counter",
    "Requests refused by authentication or policy.",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let h = Histogram::new(&BATCH_BUCKETS);
        h.observe(1.0);
        h.observe(3.0);
        h.observe(300.0);
        let mut out = String::new();
        h.render(&mut out, "x", "");
        assert!(out.contains("x_bucket{le=\"1\"} 1"), "{out}");
        assert!(out.contains("x_bucket{le=\"4\"} 2"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3"), "{out}");
        assert!(out.contains("x_count 3"), "{out}");
    }

    #[test]
    fn requests_are_counted_by_labels() {
        let m = Metrics::default();
        m.http_request("GET", "/v2/queues", 200, Duration::from_millis(2));
        m.http_request("GET", "/v2/queues", 200, Duration::from_millis(3));
        m.ws_request("queue_list", 200, Duration::from_millis(1));
        let text = m.render(5, 2);
        assert!(text.contains(
            "cairn_http_requests_total{method=\"GET\",route=\"/v2/queues\",status=\"200\"} 2"
        ));
        assert!(text.contains("cairn_ws_requests_total{action=\"queue_list\",status=\"200\"} 1"));
        assert!(text.contains("cairn_messages{state=\"claimed\"} 2"));
    }
}
