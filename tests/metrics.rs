//! `GET /metrics`: Prometheus text that counts REST and WebSocket requests, committed
//! events, the log position, group-commit batches, connections and message counts.

mod common;

use common::ws::{Codec, WsClient};
use common::TestServer;
use serde_json::json;

/// The value of the first sample line that starts with `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let server = TestServer::start().await;
    let client = server.client();
    client.post_n("m", 3).await;
    client
        .claim("m", &json!({"ttl": 60, "grace": 60}), Some(2))
        .await
        .expect("claimed");
    client.get("/v2/no-such-route").await.expect(404);
    let mut ws = WsClient::open(&server, Codec::Json).await;
    ws.send("queue_list", json!({})).await;

    let r = reqwest::get(format!("{}/metrics", server.base))
        .await
        .expect("scrape");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain")));
    let text = r.text().await.expect("body");

    let posted = "cairn_http_requests_total{method=\"POST\",route=\"/v2/queues/{queue}/messages\",status=\"201\"}";
    assert_eq!(sample(&text, posted), Some(1.0), "{text}");
    let unmatched = "cairn_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}";
    assert_eq!(sample(&text, unmatched), Some(1.0));
    assert_eq!(
        sample(
            &text,
            "cairn_ws_requests_total{action=\"queue_list\",status=\"200\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "cairn_ws_connections"), Some(1.0));
    assert_eq!(
        sample(&text, "cairn_events_total{type=\"MessagesPosted\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "cairn_events_total{type=\"MessagesClaimed\"}"),
        Some(1.0)
    );
    // QueueCreated, MessagesPosted, MessagesClaimed (the start-up sweep records nothing).
    assert_eq!(sample(&text, "cairn_log_position"), Some(3.0));
    assert_eq!(
        sample(&text, "cairn_messages{state=\"claimed\"}"),
        Some(2.0)
    );
    assert_eq!(sample(&text, "cairn_messages{state=\"free\"}"), Some(1.0));
    let batches = sample(&text, "cairn_group_commit_batch_size_count").expect("batches");
    assert!(batches >= 2.0, "{text}");
    assert!(text.contains("cairn_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v2/queues/{queue}/messages\",le=\"+Inf\"} 1"));
    server.shutdown().await;
}
