//! Counting and reporting: per-operation counters and latency histograms (microseconds,
//! three significant digits), merged per role into a [`Report`] printed as an aligned table
//! or serialized as JSON.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::check::Check;
use super::Options;

/// The roles of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Producer,
    Consumer,
    Observer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Producer, Role::Consumer, Role::Observer];

    pub fn name(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
            Role::Observer => "observer",
        }
    }

    /// The operations of this role; the first one's messages are the role's messages.
    fn ops(self) -> &'static [Op] {
        match self {
            Role::Producer => &[Op::Post],
            Role::Consumer => &[Op::Claim, Op::Delete],
            Role::Observer => &[Op::List],
        }
    }
}

/// One kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Post,
    Claim,
    Delete,
    List,
}

impl Op {
    const COUNT: usize = 4;

    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Op::Post => "post",
            Op::Claim => "claim",
            Op::Delete => "delete",
            Op::List => "list",
        }
    }
}

/// Longest latency a histogram holds (one hour, in µs); longer ones are clamped.
const HIGHEST_US: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid histogram bounds")
}

/// Counters of one operation, kept by one worker and then merged.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    /// Requests sent, failed ones included.
    pub requests: u64,
    pub errors: u64,
    /// Messages posted, claimed, deleted or listed.
    pub messages: u64,
    /// Successful requests that returned nothing (claims answered 204).
    pub empty: u64,
    /// Latency of successful requests, in µs.
    pub latency: Histogram<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            requests: 0,
            errors: 0,
            messages: 0,
            empty: 0,
            latency: histogram(),
        }
    }
}

impl Stats {
    pub fn ok(&mut self, took: Duration, messages: usize) {
        self.requests += 1;
        self.messages += messages as u64;
        if messages == 0 {
            self.empty += 1;
        }
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency.saturating_record(us.clamp(1, HIGHEST_US));
    }

    pub fn error(&mut self) {
        self.requests += 1;
        self.errors += 1;
    }

    fn merge(&mut self, other: &Stats) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.messages += other.messages;
        self.empty += other.empty;
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }
}

/// Per-operation counters of one worker (or of all of them, once merged).
#[derive(Debug, Clone)]
pub(crate) struct OpStats([Stats; Op::COUNT]);

impl Default for OpStats {
    fn default() -> Self {
        OpStats(std::array::from_fn(|_| Stats::default()))
    }
}

impl OpStats {
    pub fn of(&mut self, op: Op) -> &mut Stats {
        &mut self.0[op.index()]
    }

    pub fn merge(&mut self, other: &OpStats) {
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            mine.merge(theirs);
        }
    }
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency {
                count: 0,
                mean: 0.0,
                p50: 0,
                p90: 0,
                p99: 0,
                p99_9: 0,
                max: 0,
            };
        }
        Latency {
            count: h.len(),
            mean: (h.mean() * 10.0).round() / 10.0,
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// One operation of a role.
#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    pub op: String,
    pub requests: u64,
    pub errors: u64,
    pub messages: u64,
    /// Successful requests that found nothing (claims answered 204).
    pub empty: u64,
    pub requests_per_sec: f64,
    pub messages_per_sec: f64,
    /// Latency of successful requests.
    pub latency_us: Latency,
}

/// One role: its operations together, then each.
#[derive(Debug, Clone, Serialize)]
pub struct RoleReport {
    pub role: String,
    pub workers: usize,
    pub requests: u64,
    pub errors: u64,
    /// Messages posted (producers), claimed (consumers) or listed (observers).
    pub messages: u64,
    pub requests_per_sec: f64,
    pub messages_per_sec: f64,
    pub latency_us: Latency,
    pub ops: Vec<OpReport>,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The `run` of every message body of this run.
    pub run: String,
    pub project: String,
    pub options: Options,
    /// Messages posted before the clock started (`--prefill` × queues).
    pub prefilled: u64,
    /// From the start of the load until the last worker stopped.
    pub elapsed_secs: f64,
    pub roles: Vec<RoleReport>,
    pub check: Check,
}

fn rate(count: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        (count as f64 / secs * 10.0).round() / 10.0
    } else {
        0.0
    }
}

/// Assembles the report from the merged counters.
pub(crate) fn build(
    options: Options,
    run: String,
    project: String,
    prefilled: u64,
    elapsed: Duration,
    stats: &OpStats,
    check: Check,
) -> Report {
    let secs = elapsed.as_secs_f64();
    let workers = |role| match role {
        Role::Producer => options.producers,
        Role::Consumer => options.consumers,
        Role::Observer => options.observers,
    };
    let roles = Role::ALL
        .into_iter()
        .filter(|&role| workers(role) > 0)
        .map(|role| {
            let mut all = Stats::default();
            let ops = role
                .ops()
                .iter()
                .map(|&op| {
                    let s = &stats.0[op.index()];
                    all.merge(s);
                    OpReport {
                        op: op.name().to_owned(),
                        requests: s.requests,
                        errors: s.errors,
                        messages: s.messages,
                        empty: s.empty,
                        requests_per_sec: rate(s.requests, secs),
                        messages_per_sec: rate(s.messages, secs),
                        latency_us: Latency::of(&s.latency),
                    }
                })
                .collect::<Vec<_>>();
            let messages = ops[0].messages;
            RoleReport {
                role: role.name().to_owned(),
                workers: workers(role),
                requests: all.requests,
                errors: all.errors,
                messages,
                requests_per_sec: rate(all.requests, secs),
                messages_per_sec: rate(messages, secs),
                latency_us: Latency::of(&all.latency),
                ops,
            }
        })
        .collect();
    Report {
        run,
        project,
        options,
        prefilled,
        elapsed_secs: (secs * 1000.0).round() / 1000.0,
        roles,
        check,
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

impl Report {
    /// The role producing, claiming or listing (`"producer"`, …), if it ran.
    pub fn role(&self, name: &str) -> Option<&RoleReport> {
        self.roles.iter().find(|r| r.role == name)
    }

    /// The report as an aligned table, for people.
    pub fn table(&self) -> String {
        let mut out = self.preamble();
        out.push_str(&aligned(&self.rows()));
        for role in &self.roles {
            for op in role
                .ops
                .iter()
                .filter(|op| op.op == "claim" && op.empty > 0)
            {
                let _ = writeln!(out, "{} claims found no message", op.empty);
            }
        }
        let _ = writeln!(out, "{}", self.check.summary());
        for problem in &self.check.problems {
            let _ = writeln!(out, "  {problem}");
        }
        out
    }

    /// What ran, where, and for how long.
    fn preamble(&self) -> String {
        let o = &self.options;
        let mut out = String::new();
        let via = match o.transport {
            super::Transport::Http => format!("http {}", o.url),
            super::Transport::Ws => format!("ws ({}) {}", o.codec.name(), o.ws_url),
        };
        let _ = writeln!(
            out,
            "run {} over {via}, project {}: {} queue(s), {} B messages, batch {}, claim \
             limit {}, {:.3} s",
            self.run,
            self.project,
            o.queues,
            o.message_size,
            o.batch,
            o.claim_limit,
            self.elapsed_secs
        );
        if o.rate > 0.0 {
            let _ = writeln!(out, "paced: at most {} iterations/s per worker", o.rate);
        }
        if self.prefilled > 0 {
            let _ = writeln!(out, "prefilled {} messages", self.prefilled);
        }
        out
    }

    /// The header, then a row per role and, for roles of several operations, one per
    /// operation.
    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows: Vec<Vec<String>> = vec![HEADER.iter().map(|h| h.to_string()).collect()];
        for role in &self.roles {
            let single = role.ops.len() == 1;
            let name = if single {
                role.ops[0].op.as_str()
            } else {
                "all"
            };
            let figures = Figures {
                requests: role.requests,
                requests_per_sec: role.requests_per_sec,
                messages: role.messages,
                messages_per_sec: role.messages_per_sec,
                errors: role.errors,
                latency: &role.latency_us,
            };
            rows.push(figures.row(&role.role, name, role.workers.to_string()));
            if single {
                continue;
            }
            for op in &role.ops {
                let figures = Figures {
                    requests: op.requests,
                    requests_per_sec: op.requests_per_sec,
                    messages: op.messages,
                    messages_per_sec: op.messages_per_sec,
                    errors: op.errors,
                    latency: &op.latency_us,
                };
                rows.push(figures.row("", &op.op, String::new()));
            }
        }
        rows
    }
}

/// The columns of the table.
const HEADER: [&str; 13] = [
    "role", "op", "workers", "requests", "req/s", "messages", "msg/s", "errors", "p50 ms",
    "p90 ms", "p99 ms", "p99.9 ms", "max ms",
];

/// What one row of the table shows.
struct Figures<'a> {
    requests: u64,
    requests_per_sec: f64,
    messages: u64,
    messages_per_sec: f64,
    errors: u64,
    latency: &'a Latency,
}

impl Figures<'_> {
    fn row(&self, role: &str, op: &str, workers: String) -> Vec<String> {
        let l = self.latency;
        vec![
            role.to_owned(),
            op.to_owned(),
            workers,
            self.requests.to_string(),
            format!("{:.1}", self.requests_per_sec),
            self.messages.to_string(),
            format!("{:.1}", self.messages_per_sec),
            self.errors.to_string(),
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p99_9),
            ms(l.max),
        ]
    }
}

/// Rows as aligned lines: names to the left, numbers to the right.
fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c < 2 {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            } else {
                let _ = write!(line, "{cell:>w$}  ", w = widths[c]);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_merge_into_role_rows() {
        let mut a = OpStats::default();
        a.of(Op::Claim).ok(Duration::from_micros(1500), 10);
        a.of(Op::Claim).ok(Duration::from_micros(500), 0);
        a.of(Op::Delete).ok(Duration::from_micros(800), 10);
        let mut b = OpStats::default();
        b.of(Op::Delete).error();
        b.of(Op::Post).ok(Duration::from_millis(2), 10);
        a.merge(&b);
        let options = Options {
            observers: 0,
            ..Options::default()
        };
        let check = super::super::check::check(&Default::default());
        let r = build(
            options,
            "run".into(),
            "p".into(),
            0,
            Duration::from_secs(2),
            &a,
            check,
        );
        assert_eq!(r.roles.len(), 2);
        let consumer = r.role("consumer").unwrap();
        assert_eq!((consumer.requests, consumer.errors), (4, 1));
        assert_eq!(consumer.messages, 10);
        assert_eq!(consumer.messages_per_sec, 5.0);
        assert_eq!(consumer.ops[0].empty, 1);
        assert_eq!(consumer.latency_us.count, 3);
        assert!(consumer.latency_us.max >= 1499);
        let table = r.table();
        assert!(table.contains("p99.9 ms"), "{table}");
        assert!(table.contains("self-check passed"), "{table}");
    }
}
