//! Micro-benchmarks of the hot paths of a post and a claim, without I/O: decoding a post body
//! into validated messages, deciding a post and a claim, and serializing the resulting events
//! as the log stores them (JSON) and as the WebSocket API sends them (a JSON document encoded
//! as MessagePack).
//!
//! `cargo bench --bench hot_paths`; figures in `docs/benchmarks.md`.

use std::hint::black_box;

use cairn::actions::decode;
use cairn::commands::claim::{self, ClaimInput, ClaimMessages};
use cairn::commands::message::{self, PostMessages};
use cairn::model::{ClientId, Limits, MessageId, ProjectId, QueueMetadata, QueueName, Timestamp};
use cairn::projections::{MessageView, QueueState};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

/// A post body of ten messages of about 1 KiB each, as `cairn bench` sends them.
fn post_body() -> Vec<u8> {
    let messages: Vec<Value> = (0..10)
        .map(|n| json!({"ttl": 3600, "body": {"run": "bench", "n": n, "pad": "x".repeat(1000)}}))
        .collect();
    serde_json::to_vec(&json!({ "messages": messages })).unwrap()
}

fn queue_state() -> QueueState {
    QueueState {
        metadata: QueueMetadata::from_stored(serde_json::Map::new()),
        next_marker: 1_000,
    }
}

fn candidates(n: usize) -> Vec<MessageView> {
    (0..n)
        .map(|i| MessageView {
            id: MessageId::generate(),
            marker: i as i64 + 1,
            body: serde_json::value::RawValue::from_string(format!("{{\"n\":{i}}}")).unwrap(),
            ttl: 3600,
            created_at: Timestamp(1_700_000_000_000),
            expires_at: Timestamp(1_700_003_600_000),
            delay_until: Timestamp(1_700_000_000_000),
            client_id: ClientId::from_stored("3381af92-2b9e-11e3-b191-71861300734c".into()),
            checksum: None,
            claim: None,
            claim_count: 0,
        })
        .collect()
}

fn hot_paths(c: &mut Criterion) {
    let limits = Limits::default();
    let project = ProjectId::new(Some("bench")).unwrap();
    let queue = QueueName::new("orders", &project).unwrap();
    let body = post_body();
    let now = Timestamp(1_700_000_000_000);

    let mut group = c.benchmark_group("post of 10 x 1 KiB");
    group.throughput(Throughput::Elements(10));
    group.bench_function("decode body", |b| {
        b.iter(|| {
            let doc = decode::parse_json(black_box(&body)).unwrap();
            decode::messages(&doc, &limits).unwrap()
        })
    });
    let doc = decode::parse_json(&body).unwrap();
    let cmd = PostMessages::new(
        queue.clone(),
        decode::messages(&doc, &limits).unwrap(),
        body.len(),
        &limits,
    )
    .unwrap();
    let state = queue_state();
    group.bench_function("decide", |b| {
        b.iter(|| message::post(Some(&state), &project, black_box(&cmd), now, &limits).unwrap())
    });
    let decision = message::post(Some(&state), &project, &cmd, now, &limits).unwrap();
    group.bench_function("serialize event (JSON, as logged)", |b| {
        b.iter(|| serde_json::to_string(&black_box(&decision.events[0]).event).unwrap())
    });
    group.bench_function("serialize event (MessagePack)", |b| {
        b.iter(|| {
            let doc = serde_json::to_value(&black_box(&decision.events[0]).event).unwrap();
            rmp_serde::to_vec_named(&doc).unwrap()
        })
    });
    let logged = serde_json::to_string(&decision.events[0].event).unwrap();
    group.bench_function("deserialize event (JSON, replay)", |b| {
        b.iter(|| cairn::events::Event::from_stored("MessagesPosted", black_box(&logged)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("claim of 10");
    group.throughput(Throughput::Elements(10));
    let claim_cmd = ClaimMessages::new(queue.clone(), None, None, Some(10), &limits).unwrap();
    let found = candidates(10);
    group.bench_function("decide", |b| {
        b.iter(|| {
            let input = ClaimInput {
                queue: Some(&state),
                candidates: found.clone(),
                dead_letter_queue: None,
            };
            claim::claim(input, &project, black_box(&claim_cmd), now)
        })
    });
    group.finish();
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
