//! The node's resource limits on connections and requests, each with its clear error: the
//! connections a listener holds (one more is told 503 and closed), request headers that
//! must arrive in time (a slowloris client is dropped) and fit in their size (431), the
//! requests served at once (503 at once, long polls included), and the WebSocket
//! connections of one project (429 on the frame).

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::ws::{Codec, WsClient};
use crate::common::{new_uuid, TestServer, START};
use cairn::model::clock::ManualClock;

/// Reads what the server sends until it closes the connection (or `limit` passes).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok()?;
    Some(String::from_utf8_lossy(&answer).into_owned())
}

/// A request on a raw connection, answered in full (`Connection: close`).
async fn raw_request(addr: std::net::SocketAddr, head: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the server answers and closes")
}

const PING: &str = "GET /v2/ping HTTP/1.1\r\nHost: cairn\r\n\
    Client-ID: 3381af92-2b9e-11e3-b191-71861300734c\r\nX-Project-ID: p\r\nConnection: close\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_beyond_the_limit_is_told_503_and_closed() {
    let server = TestServer::custom(ManualClock::starting_at(START), |s| {
        s.connections.max_connections = 2
    })
    .await;
    // Two idle connections hold both slots.
    let first = TcpStream::connect(server.addr).await.expect("connect");
    let second = TcpStream::connect(server.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let answer = raw_request(server.addr, PING).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).expect("a body"))
        .expect("a JSON body");
    assert_eq!(body["title"], "Service temporarily unavailable");
    assert!(body["description"]
        .as_str()
        .unwrap()
        .contains("2 connections"));

    // A slot given back is taken by the next connection.
    drop(first);
    drop(second);
    let mut served = String::new();
    for _ in 0..50 {
        served = raw_request(server.addr, PING).await;
        if served.starts_with("HTTP/1.1 204") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served.starts_with("HTTP/1.1 204"), "{served}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trickles_its_headers_is_dropped() {
    let server = TestServer::custom(ManualClock::starting_at(START), |s| {
        s.connections.header_timeout = Duration::from_secs(1)
    })
    .await;
    let mut slow = TcpStream::connect(server.addr).await.expect("connect");
    slow.write_all(b"GET /v2/ping HTTP/1.1\r\nHost: cairn\r\n")
        .await
        .expect("write");
    // One header line a while later, as slowloris keeps a connection open; never the end.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = slow.write_all(b"X-Slow: 1\r\n").await;
    let started = std::time::Instant::now();
    let answer = read_until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(answer.is_some(), "the server closes the connection");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        !answer.unwrap().contains("204"),
        "the request was never served"
    );

    // Others are served meanwhile and after.
    let answer = raw_request(server.addr, PING).await;
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_beyond_their_size_are_refused_with_431() {
    let server = TestServer::custom(ManualClock::starting_at(START), |s| {
        s.connections.max_header_bytes = 8192
    })
    .await;
    let big = "x".repeat(16 * 1024);
    let head = format!(
        "GET /v2/ping HTTP/1.1\r\nHost: cairn\r\nX-Big: {big}\r\n\
         Client-ID: 3381af92-2b9e-11e3-b191-71861300734c\r\nX-Project-ID: p\r\n\r\n"
    );
    let answer = raw_request(server.addr, &head).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // Headers within the limit are served.
    let answer = raw_request(server.addr, PING).await;
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_beyond_the_concurrent_limit_is_answered_503_at_once() {
    let server = TestServer::custom(ManualClock::starting_at(START), |s| {
        s.limits.max_concurrent_requests = 1
    })
    .await;
    let c = server.client();
    c.put_empty("/v2/queues/idle").await.expect(201);
    // A long poll on an empty queue holds the only slot for two seconds.
    let waiting = {
        let c = c.clone();
        tokio::spawn(async move { c.get("/v2/queues/idle/messages?wait=2").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let refused = c.get("/v2/queues/idle/stats").await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused at once"
    );
    refused.expect_error(503, "Service temporarily unavailable");
    assert!(refused
        .description()
        .contains("as many requests as it allows"));

    let waited = waiting.await.expect("the long poll ends");
    waited.expect(200);
    c.get("/v2/queues/idle/stats").await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_holds_at_most_its_websocket_connections() {
    let server = TestServer::custom(ManualClock::starting_at(START), |s| {
        s.websocket.max_per_project = 1
    })
    .await;
    let project = format!("p-{}", new_uuid());
    let mut first = WsClient::connect(&server, Codec::Json, &new_uuid(), &project).await;
    first.send("queue_list", json!({})).await.expect(200);

    let mut second = WsClient::connect(&server, Codec::Json, &new_uuid(), &project).await;
    let refused = second.send("queue_list", json!({})).await;
    refused.expect_error(429);
    assert!(
        refused.error().contains("WebSocket connections"),
        "{}",
        refused.error()
    );
    // The same connection may act in another project.
    let other = json!({"Client-ID": second.client_id, "X-Project-ID": "elsewhere"});
    second
        .send_with_headers("queue_list", other, json!({}))
        .await
        .expect(200);
    // Once the first connection closes, its seat is free again.
    first.close().await;
    let mut status = 0;
    for _ in 0..50 {
        status = second.send("queue_list", json!({})).await.status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200);
}
