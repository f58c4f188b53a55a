//! The run itself: queues are created, optionally prefilled, every worker opens its
//! connection, then the clock starts and each worker loops until the deadline. A worker
//! never starts a request after the deadline (a consumer still deletes what its last claim
//! returned), and every request is bounded by [`REQUEST_TIMEOUT`](super::request::REQUEST_TIMEOUT).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::future::try_join_all;
use serde_json::Value;
use uuid::Uuid;

use super::check::{self, Ledger, Received};
use super::http::HttpConn;
use super::report::{self, Op, OpStats, Report, Role};
use super::request::{Body, ClaimSpec, Claimed, NewMessage, OpError, OpResult};
use super::ws::WsConn;
use super::{Codec, Options, Transport};

/// Pause after a request whose outcome is unknown (connection refused, timeout), so a dead
/// server is not hammered until the deadline.
const BACKOFF: Duration = Duration::from_millis(50);
/// Connections used to prefill the queues.
const PREFILL_CONNECTIONS: usize = 4;

/// Where and as whom workers connect.
struct Target {
    transport: Transport,
    codec: Codec,
    /// REST base URLs (several nodes of one service); worker `i` uses `urls[i % len]`.
    urls: Vec<String>,
    /// WebSocket URLs, likewise.
    ws_urls: Vec<String>,
    project: String,
    token: Option<String>,
}

/// A comma-separated list of URLs.
fn url_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .collect()
}

/// One worker's connection.
pub(crate) enum Conn {
    Http(HttpConn),
    Ws(Box<WsConn>),
}

impl Conn {
    /// Opens worker `i`'s connection with a fresh Client-ID (an HTTP one is opened by a
    /// ping).
    async fn open(target: &Target, i: usize) -> anyhow::Result<Conn> {
        let client_id = Uuid::new_v4().to_string();
        Ok(match target.transport {
            Transport::Http => {
                let url = &target.urls[i % target.urls.len()];
                let mut conn =
                    HttpConn::new(url, &client_id, &target.project, target.token.as_deref())?;
                conn.ping()
                    .await
                    .with_context(|| format!("cannot reach {url}"))?;
                Conn::Http(conn)
            }
            Transport::Ws => {
                let url = &target.ws_urls[i % target.ws_urls.len()];
                let conn = WsConn::open(url, target.codec, &client_id, &target.project).await?;
                Conn::Ws(Box::new(conn))
            }
        })
    }

    async fn subscribe(&mut self, queue: &str, subscriber: &str) -> OpResult<()> {
        match self {
            Conn::Http(c) => c.subscribe(queue, subscriber).await,
            Conn::Ws(c) => c.subscribe(queue, subscriber).await,
        }
    }

    async fn create_queue(&mut self, queue: &str) -> OpResult<()> {
        match self {
            Conn::Http(c) => c.create_queue(queue).await,
            Conn::Ws(c) => c.create_queue(queue).await,
        }
    }

    async fn post(&mut self, queue: &str, messages: &[NewMessage<'_>]) -> OpResult<Vec<String>> {
        match self {
            Conn::Http(c) => c.post(queue, messages).await,
            Conn::Ws(c) => c.post(queue, messages).await,
        }
    }

    async fn claim(&mut self, queue: &str, spec: ClaimSpec) -> OpResult<Option<Claimed>> {
        match self {
            Conn::Http(c) => c.claim(queue, spec).await,
            Conn::Ws(c) => c.claim(queue, spec).await,
        }
    }

    async fn delete(&mut self, queue: &str, ids: &[String], claim: &str) -> OpResult<()> {
        match self {
            Conn::Http(c) => c.delete(queue, ids, claim).await,
            Conn::Ws(c) => c.delete(queue, ids, claim).await,
        }
    }

    async fn list(&mut self, queue: &str) -> OpResult<Vec<Value>> {
        match self {
            Conn::Http(c) => c.list(queue).await,
            Conn::Ws(c) => c.list(queue).await,
        }
    }
}

/// What every worker shares.
struct Ctx {
    run: String,
    pad: String,
    next_n: AtomicU64,
    batch: usize,
    message_ttl: u64,
    claim: ClaimSpec,
    /// Time between two iterations of one worker, when paced.
    pace: Option<Duration>,
}

/// Waits for a worker's next turn, if it is paced.
async fn wait_turn(pacer: &mut Option<tokio::time::Interval>) {
    if let Some(pacer) = pacer {
        pacer.tick().await;
    }
}

impl Ctx {
    /// A worker's pacer: ticks at the configured rate (the first at once), or `None`.
    fn pacer(&self) -> Option<tokio::time::Interval> {
        self.pace.map(|period| {
            let mut pacer = tokio::time::interval(period);
            pacer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            pacer
        })
    }

    /// The next `batch` messages, numbered from a run-wide counter.
    fn messages(&self) -> Vec<NewMessage<'_>> {
        let first = self.next_n.fetch_add(self.batch as u64, Ordering::Relaxed);
        (first..first + self.batch as u64)
            .map(|n| NewMessage {
                ttl: self.message_ttl,
                body: Body {
                    run: &self.run,
                    n,
                    pad: &self.pad,
                },
            })
            .collect()
    }
}

/// What one worker measured and saw.
#[derive(Default)]
struct Outcome {
    stats: OpStats,
    ledger: Ledger,
}

impl Outcome {
    /// Records a post's answer.
    fn posted(&mut self, took: Duration, sent: &[NewMessage<'_>], answer: OpResult<Vec<String>>) {
        match answer {
            Ok(ids) if ids.len() == sent.len() => {
                self.stats.of(Op::Post).ok(took, ids.len());
                let ns = sent.iter().map(|m| m.body.n);
                self.ledger.produced.extend(ids.into_iter().zip(ns));
            }
            Ok(_) | Err(OpError::Lost(_)) => {
                self.stats.of(Op::Post).error();
                let ns = sent.iter().map(|m| m.body.n);
                self.ledger.unacknowledged.extend(ns);
            }
            Err(OpError::Refused(..)) => self.stats.of(Op::Post).error(),
        }
    }
}

async fn pause_if_lost<T>(answer: &OpResult<T>) {
    if let Err(OpError::Lost(_)) = answer {
        tokio::time::sleep(BACKOFF).await;
    }
}

/// Runs a request and times it; after a lost answer, pauses before going on.
async fn timed<T>(
    request: impl std::future::Future<Output = OpResult<T>>,
) -> (OpResult<T>, Duration) {
    let started = Instant::now();
    let answer = request.await;
    let took = started.elapsed();
    pause_if_lost(&answer).await;
    (answer, took)
}

async fn producer(mut conn: Conn, ctx: Arc<Ctx>, queue: String, deadline: Instant) -> Outcome {
    let mut out = Outcome::default();
    let mut pacer = ctx.pacer();
    while Instant::now() < deadline {
        wait_turn(&mut pacer).await;
        let messages = ctx.messages();
        let (answer, took) = timed(conn.post(&queue, &messages)).await;
        out.posted(took, &messages, answer);
    }
    out
}

async fn consumer(mut conn: Conn, ctx: Arc<Ctx>, queue: String, deadline: Instant) -> Outcome {
    let mut out = Outcome::default();
    let mut pacer = ctx.pacer();
    while Instant::now() < deadline {
        wait_turn(&mut pacer).await;
        let (answer, took) = timed(conn.claim(&queue, ctx.claim)).await;
        let claimed = match answer {
            Ok(None) => {
                out.stats.of(Op::Claim).ok(took, 0);
                continue;
            }
            Ok(Some(claimed)) => claimed,
            Err(_) => {
                out.stats.of(Op::Claim).error();
                continue;
            }
        };
        out.stats.of(Op::Claim).ok(took, claimed.messages.len());
        let mut ids = Vec::with_capacity(claimed.messages.len());
        for m in &claimed.messages {
            let received = Received::from_message(m, &ctx.run);
            ids.push(received.id.clone());
            out.ledger.received.push(received);
        }
        if ids.is_empty() {
            continue;
        }
        let (answer, took) = timed(conn.delete(&queue, &ids, &claimed.claim_id)).await;
        match answer {
            Ok(()) => out.stats.of(Op::Delete).ok(took, ids.len()),
            Err(_) => out.stats.of(Op::Delete).error(),
        }
    }
    out
}

async fn observer(mut conn: Conn, ctx: Arc<Ctx>, queue: String, deadline: Instant) -> Outcome {
    let mut out = Outcome::default();
    let mut pacer = ctx.pacer();
    while Instant::now() < deadline {
        wait_turn(&mut pacer).await;
        let (answer, took) = timed(conn.list(&queue)).await;
        match answer {
            Ok(messages) => {
                out.stats.of(Op::List).ok(took, messages.len());
                let seen = messages.iter().map(|m| Received::from_message(m, &ctx.run));
                out.ledger.observed.extend(seen);
            }
            Err(_) => out.stats.of(Op::List).error(),
        }
    }
    out
}

/// Posts `per_queue` messages to every queue over a few connections; any failure fails
/// the run (the state the load starts from would be unknown).
async fn prefill(
    target: &Target,
    ctx: &Arc<Ctx>,
    queues: &[String],
    per_queue: usize,
) -> anyhow::Result<Ledger> {
    // (queue, messages in this post), dealt round-robin to the connections.
    let mut posts = Vec::new();
    for queue in queues {
        let mut left = per_queue;
        while left > 0 {
            let n = left.min(ctx.batch);
            posts.push((queue.clone(), n));
            left -= n;
        }
    }
    let connections = PREFILL_CONNECTIONS.min(posts.len()).max(1);
    let mut tasks = Vec::new();
    for k in 0..connections {
        let mine: Vec<(String, usize)> =
            posts.iter().skip(k).step_by(connections).cloned().collect();
        let mut conn = Conn::open(target, k).await?;
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            let mut ledger = Ledger::default();
            for (queue, n) in mine {
                let mut messages = ctx.messages();
                messages.truncate(n);
                let ids = conn
                    .post(&queue, &messages)
                    .await
                    .with_context(|| format!("prefilling {queue}"))?;
                anyhow::ensure!(
                    ids.len() == n,
                    "prefilling {queue}: {} ids for {n} messages",
                    ids.len()
                );
                ledger
                    .produced
                    .extend(ids.into_iter().zip(messages.iter().map(|m| m.body.n)));
            }
            Ok::<_, anyhow::Error>(ledger)
        }));
    }
    let mut ledger = Ledger::default();
    for task in tasks {
        ledger.append(task.await??);
    }
    Ok(ledger)
}

pub(crate) async fn run(options: Options) -> anyhow::Result<Report> {
    let run = Uuid::new_v4().to_string();
    let project = options
        .project
        .clone()
        .unwrap_or_else(|| format!("bench-{}", Uuid::new_v4()));
    let target = Target {
        transport: options.transport,
        codec: options.codec,
        urls: url_list(&options.url),
        ws_urls: url_list(&options.ws_url),
        project: project.clone(),
        token: options.token.clone(),
    };
    anyhow::ensure!(
        !target.urls.is_empty() && !target.ws_urls.is_empty(),
        "no URL to connect to"
    );
    let queues: Vec<String> = (0..options.queues).map(|i| format!("bench-{i}")).collect();
    let mut setup = Conn::open(&target, 0).await?;
    for queue in &queues {
        setup
            .create_queue(queue)
            .await
            .with_context(|| format!("creating queue {queue}"))?;
        if let Some(url) = &options.subscriber {
            let subscriber = format!("{}/{queue}", url.trim_end_matches('/'));
            setup
                .subscribe(queue, &subscriber)
                .await
                .with_context(|| format!("subscribing {subscriber} to {queue}"))?;
        }
    }
    drop(setup);

    let pad_for = |run: &str| {
        let empty = serde_json::to_string(&Body { run, n: 0, pad: "" }).map_or(0, |s| s.len());
        "x".repeat(options.message_size.saturating_sub(empty))
    };
    let secs = options.duration.ceil() as u64;
    let ctx = Arc::new(Ctx {
        pad: pad_for(&run),
        run: run.clone(),
        next_n: AtomicU64::new(0),
        batch: options.batch,
        // Messages outlive the run; claims too, so no message can legitimately be
        // handed out twice while the run lasts.
        message_ttl: (secs + 300).max(3600),
        claim: ClaimSpec {
            limit: options.claim_limit,
            ttl: secs + 60,
            grace: 60,
        },
        pace: (options.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / options.rate)),
    });

    let mut ledger = Ledger::default();
    if options.prefill > 0 {
        ledger.append(prefill(&target, &ctx, &queues, options.prefill).await?);
    }
    let prefilled = ledger.produced.len() as u64;

    let mut roles = Vec::new();
    for role in Role::ALL {
        let workers = match role {
            Role::Producer => options.producers,
            Role::Consumer => options.consumers,
            Role::Observer => options.observers,
        };
        roles.extend((0..workers).map(|i| (role, queues[i % queues.len()].clone())));
    }
    let conns = try_join_all((0..roles.len()).map(|i| Conn::open(&target, i))).await?;

    let started = Instant::now();
    let deadline = started + options.duration();
    let mut tasks = Vec::with_capacity(conns.len());
    for ((role, queue), conn) in roles.into_iter().zip(conns) {
        let ctx = ctx.clone();
        tasks.push(match role {
            Role::Producer => tokio::spawn(producer(conn, ctx, queue, deadline)),
            Role::Consumer => tokio::spawn(consumer(conn, ctx, queue, deadline)),
            Role::Observer => tokio::spawn(observer(conn, ctx, queue, deadline)),
        });
    }
    let mut stats = OpStats::default();
    for task in tasks {
        let outcome = task.await.context("a worker failed")?;
        stats.merge(&outcome.stats);
        ledger.append(outcome.ledger);
    }
    let elapsed = started.elapsed();
    let check = check::check(&ledger);
    Ok(report::build(
        options, run, project, prefilled, elapsed, &stats, check,
    ))
}
