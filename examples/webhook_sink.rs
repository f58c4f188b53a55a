//! A webhook receiver for measuring notification delivery: answers every POST with 200,
//! counts them, and prints the count each second and, at the end, the mean rate between
//! the first and the last request and the best one-second rate. It stops by itself.
//!
//! `cargo run --release --example webhook_sink -- [--bind 127.0.0.1:18900] [--seconds 60]`,
//! then for example
//! `cairn bench --producers 4 --consumers 0 --observers 0 --queues 8 --subscriber http://127.0.0.1:18900`
//! against a server started with `--notify-allow-hosts 127.0.0.1/32`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

#[derive(Default)]
struct Counts {
    total: AtomicU64,
    first_last: Mutex<Option<(Instant, Instant)>>,
}

async fn receive(State(counts): State<Arc<Counts>>, _body: axum::body::Bytes) -> StatusCode {
    counts.total.fetch_add(1, Ordering::Relaxed);
    let now = Instant::now();
    let mut span = counts.first_last.lock().unwrap();
    *span = Some(span.map_or((now, now), |(first, _)| (first, now)));
    StatusCode::OK
}

#[tokio::main]
async fn main() {
    let mut bind = "127.0.0.1:18900".to_owned();
    let mut seconds = 60u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next().expect("--bind ADDRESS"),
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--seconds N")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let counts = Arc::new(Counts::default());
    let app = Router::new()
        .route("/{*path}", post(receive))
        .with_state(counts.clone());
    let listener = tokio::net::TcpListener::bind(&bind).await.expect("bind");
    eprintln!("webhook sink on {bind} for {seconds} s");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let mut last = 0;
    let mut best = 0;
    for t in 1..=seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let total = counts.total.load(Ordering::Relaxed);
        best = best.max(total - last);
        println!("t={t}s total={total} last_second={}", total - last);
        last = total;
    }
    let total = counts.total.load(Ordering::Relaxed);
    let span = *counts.first_last.lock().unwrap();
    let mean = span.map_or(0.0, |(first, last)| {
        total as f64 / last.duration_since(first).as_secs_f64().max(1e-9)
    });
    println!("notifications={total} mean_rate={mean:.0}/s best_second={best}/s");
}
