//! `cairn bench` against an in-process server: a short run over REST and over WebSocket
//! (JSON and MessagePack) with producers, consumers and an observer, and a consumers-only
//! run on prefilled queues. Only correctness is asserted (the self-check passed, messages
//! went through); throughput is never asserted.

use crate::common::TestServer;
use cairn::bench::{self, Codec, Options, Report, Transport};

fn options(server: &TestServer, transport: Transport, codec: Codec) -> Options {
    Options {
        url: server.base.clone(),
        ws_url: server.ws_url(),
        transport,
        codec,
        producers: 2,
        consumers: 2,
        observers: 1,
        message_size: 512,
        queues: 2,
        duration: 2.0,
        ..Options::default()
    }
}

#[track_caller]
fn assert_sound(report: &Report) {
    let check = &report.check;
    assert!(check.passed, "self-check failed: {check:?}");
    assert!(check.problems.is_empty(), "{check:?}");
    for role in &report.roles {
        assert_eq!(role.errors, 0, "errors in {role:?}");
        assert!(role.requests > 0, "no request in {role:?}");
        assert!(role.latency_us.count > 0, "no latency in {role:?}");
        assert!(role.latency_us.p50 <= role.latency_us.max, "{role:?}");
    }
    let table = report.table();
    assert!(table.contains("self-check passed"), "{table}");
    let json = serde_json::to_value(report).expect("the report serializes");
    assert_eq!(json["check"]["passed"], true);
}

async fn mixed(transport: Transport, codec: Codec) {
    let server = TestServer::start().await;
    let report = bench::run(options(&server, transport, codec))
        .await
        .expect("the bench runs");
    assert_sound(&report);
    let produced = report.role("producer").expect("producers ran").messages;
    let consumed = report.role("consumer").expect("consumers ran").messages;
    assert!(report.role("observer").is_some());
    assert!(produced > 0, "nothing produced: {report:?}");
    assert!(consumed > 0, "nothing consumed: {report:?}");
    assert!(consumed <= produced, "{report:?}");
    assert_eq!(report.check.produced, produced);
    assert_eq!(report.check.received, consumed);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http() {
    mixed(Transport::Http, Codec::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_json() {
    mixed(Transport::Ws, Codec::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_msgpack() {
    mixed(Transport::Ws, Codec::Msgpack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_drain_prefilled_queues() {
    let server = TestServer::start().await;
    let options = Options {
        producers: 0,
        observers: 0,
        prefill: 100,
        duration: 1.0,
        ..options(&server, Transport::Http, Codec::Json)
    };
    let report = bench::run(options).await.expect("the bench runs");
    assert_sound(&report);
    assert_eq!(report.prefilled, 200);
    assert_eq!(report.check.produced, 200);
    let consumed = report.role("consumer").expect("consumers ran").messages;
    assert!(consumed > 0 && consumed <= 200, "{report:?}");
    assert!(report.role("producer").is_none());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_an_error() {
    let server = TestServer::start().await;
    let mut options = options(&server, Transport::Http, Codec::Json);
    server.shutdown().await;
    options.duration = 0.5;
    assert!(bench::run(options).await.is_err());
}

/// `--rate` paces each worker: a paced run never exceeds the rate (an upper bound on the
/// request count, which cannot depend on the machine's speed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_workers_keep_to_the_rate() {
    let server = TestServer::start().await;
    let report = bench::run(Options {
        producers: 2,
        consumers: 0,
        observers: 0,
        duration: 1.0,
        rate: 10.0,
        ..options(&server, Transport::Http, Codec::Json)
    })
    .await
    .expect("the bench runs");
    assert_sound(&report);
    let posts = report.role("producer").expect("producers ran").requests;
    // Each worker: one post at once, then one per 100 ms until the 1 s deadline.
    assert!(
        (2..=22).contains(&posts),
        "{posts} posts in 1 s at 10/s per worker"
    );
    assert!(report
        .table()
        .contains("paced: at most 10 iterations/s per worker"));
    server.shutdown().await;
}
