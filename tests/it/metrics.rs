//! `GET /metrics`: Prometheus text that counts REST and WebSocket requests, committed
//! events, messages by outcome, the log position, group-commit batches and their times,
//! connections and message counts.

use crate::common;
use crate::common::ws::{Codec, WsClient};
use crate::common::TestServer;
use serde_json::json;

/// The value of the first sample line that starts with `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Asserts `cairn_messages_total` for each `(outcome, count)`.
#[track_caller]
fn assert_outcomes(text: &str, expected: &[(&str, f64)]) {
    for (outcome, n) in expected {
        let series = format!("cairn_messages_total{{outcome=\"{outcome}\"}}");
        assert_eq!(sample(text, &series), Some(*n), "{series}\n{text}");
    }
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let server = TestServer::start().await;
    let client = server.client();
    client.post_n("m", 3).await;
    let (claim, claimed) = client
        .claim("m", &json!({"ttl": 60, "grace": 60}), Some(2))
        .await
        .expect("claimed");
    let first = common::last_segment(claimed[0]["href"].as_str().expect("href")).to_owned();
    client
        .delete(&format!("/v2/queues/m/messages/{first}?claim_id={claim}"))
        .await
        .expect(204);
    client
        .delete("/v2/queues/m/messages?pop=1")
        .await
        .expect(200);
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
    // Messages, not events: one post of 3, one claim of 2, one delete, one pop.
    assert_outcomes(
        &text,
        &[
            ("posted", 3.0),
            ("claimed", 2.0),
            ("deleted", 1.0),
            ("popped", 1.0),
            ("expired", 0.0),
            ("dead_lettered", 0.0),
        ],
    );
    // QueueCreated, MessagesPosted, MessagesClaimed, MessagesDeleted, MessagesPopped (the
    // start-up sweep records nothing).
    assert_eq!(sample(&text, "cairn_log_position"), Some(5.0));
    assert_eq!(
        sample(&text, "cairn_messages{state=\"claimed\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&text, "cairn_messages{state=\"free\"}"), Some(0.0));
    let batches = sample(&text, "cairn_group_commit_batch_size_count").expect("batches");
    assert!(batches >= 2.0, "{text}");
    // Every batch is timed in both phases, and every command's wait for its batch.
    for phase in ["apply", "commit"] {
        let series = format!("cairn_group_commit_duration_seconds_count{{phase=\"{phase}\"}}");
        assert_eq!(sample(&text, &series), Some(batches), "{text}");
        let sum = format!("cairn_group_commit_duration_seconds_sum{{phase=\"{phase}\"}}");
        assert!(sample(&text, &sum).is_some_and(|s| s > 0.0), "{text}");
    }
    let waits = sample(&text, "cairn_group_commit_wait_seconds_count").expect("waits");
    assert!(waits >= batches, "{text}");
    assert!(text.contains("cairn_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v2/queues/{queue}/messages\",le=\"+Inf\"} 1"));
    server.shutdown().await;
}

/// Expiry and dead-lettering are counted per message too: one message moves to the
/// dead-letter queue on its second claim, another expires and is swept.
#[tokio::test]
async fn expired_and_dead_lettered_messages_are_counted() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue(
        "work",
        &json!({"_max_claim_count": 1, "_dead_letter_queue": "dlq",
                "_dead_letter_queue_messages_ttl": 3600}),
    )
    .await;
    c.post_messages("work", &[json!({"body": "job", "ttl": 3600})])
        .await;
    let (claim, _) = c.claim("work", &json!({}), None).await.expect("claim");
    c.delete(&format!("/v2/queues/work/claims/{claim}"))
        .await
        .expect(204);
    assert!(c.claim("work", &json!({}), None).await.is_none());
    c.post_messages("short", &[json!({"body": "brief", "ttl": 60})])
        .await;
    server.advance(61);
    server.sweep().await;

    let text = server.metrics().await;
    assert_outcomes(
        &text,
        &[
            ("posted", 2.0),
            ("claimed", 1.0),
            ("deleted", 0.0),
            ("expired", 1.0),
            ("dead_lettered", 1.0),
        ],
    );
    server.shutdown().await;
}

/// On SQLite the checkpointer reports the write-ahead log (its size at the last pass and
/// its restarts); on PostgreSQL there is no such log and no such series.
#[tokio::test]
async fn the_sqlite_write_ahead_log_is_reported_on_sqlite_only() {
    let server = TestServer::start().await;
    server.client().post_n("w", 3).await;
    if common::on_postgres() {
        let text = server.metrics().await;
        assert!(!text.contains("cairn_sqlite_wal"), "{text}");
    } else {
        // The checkpointer's first pass comes within 100 ms of the start.
        let mut text = server.metrics().await;
        for _ in 0..50 {
            if sample(&text, "cairn_sqlite_wal_frames").is_some_and(|f| f > 0.0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            text = server.metrics().await;
        }
        let frames = sample(&text, "cairn_sqlite_wal_frames").expect("the log's size");
        assert!(frames > 0.0, "the posts are in the log: {text}");
        assert_eq!(
            sample(&text, "cairn_sqlite_wal_restarts_total"),
            Some(0.0),
            "a few posts do not start the log over"
        );
        assert!(text.contains("# TYPE cairn_sqlite_wal_restarts_total counter"));
    }
    server.shutdown().await;
}
