//! The HTTP side's raw limit: a minimal axum server that answers `cairn bench`'s producers
//! (ping, queue create, post) without storing anything. A post is read and parsed as JSON,
//! and answered `201` with one fresh id per message, as Cairn answers it. Driving it with
//! `cairn bench` measures what this machine's HTTP stack and the load generator allow;
//! Cairn's producer figures are set against it in `docs/benchmarks.md`.
//!
//! `cargo run --release --example raw_http -- [--bind 127.0.0.1:18899]`, then
//! `cairn bench --url http://127.0.0.1:18899 --producers 4 --consumers 0 --observers 0`.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::{json, Value};

type Answer = (
    StatusCode,
    [(axum::http::HeaderName, &'static str); 1],
    String,
);

async fn post_messages(Path(queue): Path<String>, body: Bytes) -> Answer {
    let json = [(CONTENT_TYPE, "application/json; charset=UTF-8")];
    let Ok(doc) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            json,
            r#"{"title": "bad body"}"#.into(),
        );
    };
    let count = doc["messages"].as_array().map_or(0, Vec::len);
    let resources: Vec<String> = (0..count)
        .map(|_| format!("/v2/queues/{queue}/messages/{}", uuid::Uuid::now_v7()))
        .collect();
    let answer = json!({ "resources": resources }).to_string();
    (StatusCode::CREATED, json, answer)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bind = args
        .iter()
        .position(|a| a == "--bind")
        .and_then(|i| args.get(i + 1))
        .map_or("127.0.0.1:18899", String::as_str)
        .to_owned();
    let app = Router::new()
        .route("/v2/ping", get(|| async { StatusCode::NO_CONTENT }))
        .route("/v2/queues/{queue}", put(|| async { StatusCode::CREATED }))
        .route("/v2/queues/{queue}/messages", post(post_messages));
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("raw HTTP server on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
