//! Accepting connections within the node's limits, for the REST listener and the dedicated
//! WebSocket one: at most `max_connections` HTTP connections open at once on a listener
//! (one more is told `503` and closed at once), request headers that must arrive whole
//! within `header_timeout` (a client that trickles them, as slowloris does, is dropped; the
//! same clock closes a kept-alive connection that sends nothing more) and fit in
//! `max_header_bytes` (larger ones are answered `431`). On shutdown the listener stops
//! accepting and the connections finish the requests they are serving.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// The limits of one listener's connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// HTTP connections open at once (a WebSocket leaves this count once upgraded; its own
    /// limits are the WebSocket settings').
    pub max_connections: usize,
    /// Longest wait for a request's whole header (and for the next request on a kept-alive
    /// connection).
    pub header_timeout: Duration,
    /// Largest request header section, in bytes.
    pub max_header_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(30),
            max_header_bytes: 32 * 1024,
        }
    }
}

/// The smallest header limit the HTTP library accepts.
pub const MIN_HEADER_BYTES: usize = 8192;

/// Connections refused at once may be answered by this many tasks at a time; beyond it a
/// refused connection is closed without an answer.
const REFUSALS_IN_FLIGHT: usize = 64;

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then waits for
/// the open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let (closing, closed) = watch::channel(false);
    let limits = Arc::new(limits);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    pause_after(e).await;
                    continue;
                }
            },
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                tokio::spawn(connection(
                    stream,
                    router.clone(),
                    limits.clone(),
                    closed.clone(),
                    slot,
                ));
            }
            Err(_) => {
                if let Ok(turn) = refusals.clone().try_acquire_owned() {
                    tokio::spawn(refuse(stream, max, turn));
                }
            }
        }
    }
    let _ = closing.send(true);
    // Every connection holds a slot until it ends.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}

/// After a failed accept: at once for a connection the client already dropped, after a
/// pause for anything else (such as running out of file descriptors), so that the loop does
/// not spin.
async fn pause_after(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Serves one connection, holding its slot until it ends.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Arc<ConnectionLimits>,
    mut closed: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let service =
        TowerToHyperService::new(router.map_request(|req: Request<Incoming>| req.map(Body::new)));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes.max(MIN_HEADER_BYTES))
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES) + MIN_HEADER_BYTES);
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                break;
            }
            changed = closed.changed(), if !closing => {
                closing = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
    drop(slot);
}

/// Tells a connection beyond the limit why it is closed, in Zaqar's error format.
async fn refuse(mut stream: TcpStream, max: usize, turn: OwnedSemaphorePermit) {
    let body = serde_json::json!({
        "title": "Service temporarily unavailable",
        "description": format!(
            "The server has {max} connections open, its limit. Please try again in a few seconds."
        ),
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=UTF-8\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
    drop(turn);
}
