//! Zaqar's WebSocket transport (reference §7): one connection carries many requests, each
//! a JSON (text) or MessagePack (binary) envelope decoded into the same `actions::Request`
//! REST uses. The first request binds the connection to its project and client; push
//! subscriptions (`subscription_create` without a subscriber) receive new messages of a
//! queue as they are committed to the log. Each connection has a bounded send queue: a client
//! that does not read is disconnected with a clear reason, never buffered without limit.

mod dispatch;
mod error;
mod protocol;
mod render;
mod tail;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};
use tracing::Instrument;

use crate::actions::{execute, Context, Request};
use crate::app::AppState;
use crate::commands::{Command, Committed, CreateSubscription, Outcome, Scope};
use crate::error::ApiError;
use crate::events::{Envelope, Event};
use crate::model::{ClientId, ProjectId, QueueName, SubscriptionId, SubscriptionSpec, Timestamp};
use dispatch::Refusal;
use protocol::{Codec, Rejection};
use tail::{matches_filter, tail_frame, Tail};

/// Limits and timers of WebSocket connections.
#[derive(Debug, Clone)]
pub struct WsSettings {
    /// Largest accepted frame (bytes); larger ones get a 400 and the connection stays open.
    pub max_frame: usize,
    /// Frames that may wait to be sent on one connection before it is closed.
    pub send_queue: usize,
    /// Interval between server pings.
    pub ping_interval: Duration,
    /// A connection with no frame from the client for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for WsSettings {
    fn default() -> Self {
        WsSettings {
            max_frame: 1024 * 1024,
            send_queue: 1024,
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
        }
    }
}

/// The dedicated WebSocket listener: any path upgrades.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(upgrade).with_state(state)
}

/// Room for one read from a connection. The WebSocket library zeroes this much before every
/// read, so its default of 128 KiB cost more than the read itself for the frames of a
/// typical post (10 messages of 1 KiB); larger frames take several reads.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Upgrades an HTTP request to a WebSocket session.
pub async fn upgrade(ws: WebSocketUpgrade, State(app): State<AppState>) -> Response {
    // The protocol limit is generous; the session enforces `max_frame` itself so that an
    // oversized frame gets an answer instead of a dropped connection.
    let limit = app
        .websocket
        .max_frame
        .saturating_mul(4)
        .max(64 * 1024 * 1024);
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| session(socket, app))
}

/// Why a session ends, sent to the client as the close reason.
struct Close(u16, &'static str);

/// The state of one connection.
struct Session {
    app: AppState,
    /// The identity bound by the first request.
    identity: Option<(ProjectId, ClientId)>,
    /// Push subscriptions of this connection, by queue.
    pushes: HashMap<QueueName, (SubscriptionId, Timestamp)>,
    /// The committed-event feed, once a push subscription exists.
    feed: Option<broadcast::Receiver<Arc<Envelope>>>,
    out: mpsc::Sender<Message>,
    /// The codec of the latest push subscription (push frames use it).
    push_codec: Codec,
    connection: String,
    /// The live tail of the project's events, if one was asked for.
    tail: Option<Tail>,
}

async fn session(socket: WebSocket, app: AppState) {
    let connection = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("websocket", connection = %connection);
    run_session(socket, app, connection).instrument(span).await;
}

async fn run_session(socket: WebSocket, app: AppState, connection: String) {
    let settings = app.websocket.clone();
    let metrics = app.metrics.clone();
    metrics.ws_connection(1);
    let (mut sink, mut stream) = socket.split();
    let (out, mut outgoing) = mpsc::channel::<Message>(settings.send_queue.max(1));
    let writer = tokio::spawn(async move {
        while let Some(frame) = outgoing.recv().await {
            let closing = matches!(frame, Message::Close(_));
            if sink.send(frame).await.is_err() || closing {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut s = Session {
        app,
        identity: None,
        pushes: HashMap::new(),
        feed: None,
        out,
        push_codec: Codec::Json,
        connection,
        tail: None,
    };
    let mut ping = tokio::time::interval(settings.ping_interval);
    ping.tick().await;
    let mut last_seen = Instant::now();
    let close = loop {
        tokio::select! {
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { break None };
                last_seen = Instant::now();
                let (codec, payload) = match &frame {
                    Message::Text(t) => (Codec::Json, t.as_str().as_bytes()),
                    Message::Binary(b) => (Codec::MsgPack, &b[..]),
                    Message::Close(_) => break None,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                let answer = s.handle(codec, payload, settings.max_frame).await;
                if s.out.send(codec.encode(&answer)).await.is_err() {
                    break None;
                }
                if s.catch_up().await.is_err() {
                    break None;
                }
            }
            event = next_event(&mut s.feed) => {
                if let Err(close) = s.push(event) {
                    break Some(close);
                }
                if s.catch_up().await.is_err() {
                    break None;
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > settings.idle_timeout {
                    break Some(Close(1000, "Idle timeout."));
                }
                if s.out.try_send(Message::Ping(Vec::new().into())).is_err() {
                    break Some(Close(1008, "Send queue full: the client is not reading."));
                }
            }
        }
    };
    if let Some(Close(code, reason)) = close {
        tracing::info!(code, reason, "closing websocket");
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = s.out.try_send(Message::Close(Some(frame)));
    }
    s.end().await;
    drop(s);
    // A client that does not read could keep the writer blocked forever: give it a moment
    // to flush (and deliver the close frame), then drop the connection.
    let abort = writer.abort_handle();
    if tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
    metrics.ws_connection(-1);
}

async fn next_event(
    feed: &mut Option<broadcast::Receiver<Arc<Envelope>>>,
) -> Result<Arc<Envelope>, broadcast::error::RecvError> {
    match feed {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Session {
    /// Answers one frame with a response envelope.
    async fn handle(&mut self, codec: Codec, payload: &[u8], max_frame: usize) -> Value {
        if payload.len() > max_frame {
            let error = format!("Frame too large: the limit is {max_frame} bytes.");
            return protocol::response(protocol::null_echo(), 400, json!({ "error": error }), None);
        }
        let doc = match codec.decode(payload) {
            Ok(doc) => doc,
            Err(error) => {
                return protocol::response(
                    protocol::null_echo(),
                    400,
                    json!({ "error": error }),
                    None,
                )
            }
        };
        let envelope = match protocol::envelope(doc) {
            Ok(e) => e,
            Err(r) => {
                return protocol::response(
                    protocol::null_echo(),
                    r.status,
                    json!({"error": r.error}),
                    None,
                )
            }
        };
        let started = Instant::now();
        let (status, body, seq) = match self.run(&envelope, codec).await {
            Ok(answer) => answer,
            Err(Refusal::Rejected(r)) => (r.status, json!({ "error": r.error }), None),
            Err(Refusal::Invalid(e)) => {
                let (status, body) = error::status_and_body(&e);
                (status, body, None)
            }
        };
        let action = match dispatch::ACTIONS.contains(&envelope.action.as_str()) {
            true => envelope.action.as_str(),
            false => "unknown",
        };
        self.app
            .metrics
            .ws_request(action, status, started.elapsed());
        protocol::response(envelope.into_echo(), status, body, seq)
    }

    /// Checks identity, decodes the action and runs it.
    async fn run(
        &mut self,
        envelope: &protocol::Envelope,
        codec: Codec,
    ) -> Result<(u16, Value, Option<i64>), Refusal> {
        if !dispatch::ACTIONS.contains(&envelope.action.as_str()) {
            let error = format!("{} is not a valid action", envelope.action);
            return Err(Rejection::new(400, error).into());
        }
        if envelope.action == "authenticate" {
            // No auth strategy is configured: every connection is already authorised.
            return Ok((200, json!({"message": "Authentified."}), None));
        }
        let ctx = self.context(envelope)?;
        if envelope.action == "event_subscribe" {
            return self.start_tail(&ctx, &envelope.body, codec);
        }
        let limits = self.app.limits.clone();
        let now = self.app.clock.now();
        let request =
            dispatch::decode_action(&envelope.action, &envelope.body, &ctx.project, &limits, now)?;
        match request {
            dispatch::Request::Immediate(status, body) => Ok((status, body, None)),
            dispatch::Request::Api(action, how) => {
                match execute(&self.app, Request { ctx, action }).await {
                    Ok(answer) => {
                        let (status, body) =
                            render::render(answer.reply, &how, self.app.clock.now());
                        Ok((status, body, answer.seq))
                    }
                    Err(e) => {
                        let (status, body) = render::render_error(&e, &how)
                            .unwrap_or_else(|| error::status_and_body(&e));
                        Ok((status, body, None))
                    }
                }
            }
            dispatch::Request::Subscribe {
                queue,
                ttl,
                options,
            } => self.subscribe(ctx, queue, ttl, options, codec).await,
        }
    }

    /// The caller's identity, bound to the connection by its first request.
    fn context(&mut self, envelope: &protocol::Envelope) -> Result<Context, Refusal> {
        let limits = &self.app.limits;
        // Both headers are required by every action's schema.
        if envelope.header("Client-ID")?.is_none() || envelope.header("X-Project-ID")?.is_none() {
            return Err(Rejection::schema().into());
        }
        let client = ClientId::new(
            envelope.header("Client-ID")?,
            limits.client_id_uuid_safe,
            limits.min_length_client_id,
            limits.max_length_client_id,
        )?;
        let project = ProjectId::new(envelope.header("X-Project-ID")?)?;
        match &self.identity {
            None => self.identity = Some((project.clone(), client.clone())),
            Some((p, c)) if *p == project && *c == client => {}
            Some(_) => {
                return Err(Rejection::new(
                    403,
                    "This connection is bound to another project or client.",
                )
                .into())
            }
        }
        Ok(Context {
            project,
            client_id: client,
            request_id: format!("req-{}", uuid::Uuid::new_v4()),
        })
    }

    /// Creates (in the log) a subscription that pushes the queue's new messages here.
    async fn subscribe(
        &mut self,
        ctx: Context,
        queue: QueueName,
        ttl: Option<i64>,
        options: Option<serde_json::Map<String, Value>>,
        codec: Codec,
    ) -> Result<(u16, Value, Option<i64>), Refusal> {
        if self.pushes.contains_key(&queue) {
            return Ok((
                409,
                json!(format!("Subscription {queue} not created.")),
                None,
            ));
        }
        let spec = SubscriptionSpec {
            subscriber: Some(format!("websocket:{}", self.connection)),
            ttl,
            options,
        };
        let cmd = CreateSubscription::new(queue.clone(), spec);
        let scope = Scope {
            project: ctx.project.clone(),
            client_id: Some(ctx.client_id.clone()),
            request_id: Some(ctx.request_id.clone()),
        };
        // Listen before the subscription exists, so no message posted after it is missed.
        if self.feed.is_none() {
            self.feed = Some(self.app.store.subscribe());
        }
        let command = Command::CreateSubscription(cmd);
        match self.app.store.submit(scope, command).await {
            Ok(Committed {
                outcome: Outcome::SubscriptionCreated(id),
                seq,
            }) => {
                let ttl = ttl.unwrap_or(self.app.limits.default_subscription_ttl);
                let expires = self.app.clock.now().plus_secs(ttl);
                self.pushes.insert(queue.clone(), (id.clone(), expires));
                self.push_codec = codec;
                Ok((
                    201,
                    json!({"subscription_id": id.as_str(),
                           "message": format!("Subscription {queue} created.")}),
                    Some(seq),
                ))
            }
            Ok(_) => Err(ApiError::Unavailable("Unexpected outcome.".into()).into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Pushes the notifications an event calls for; an error closes the connection.
    fn push(
        &mut self,
        event: Result<Arc<Envelope>, broadcast::error::RecvError>,
    ) -> Result<(), Close> {
        let env = match event {
            Ok(env) => env,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                return Err(Close(
                    1008,
                    "Notification backlog exceeded: the client is too slow.",
                ))
            }
            Err(broadcast::error::RecvError::Closed) => {
                return Err(Close(1001, "The server is shutting down."))
            }
        };
        let Some((project, _)) = &self.identity else {
            return Ok(());
        };
        if env.project != *project {
            return Ok(());
        }
        if let Some(tail) = self.tail.as_mut() {
            if !tail.catching_up && env.seq > tail.filter.after {
                tail.filter.after = env.seq;
                if matches_filter(&tail.filter, &env)
                    && self
                        .out
                        .try_send(tail.codec.encode(&tail_frame(&env)))
                        .is_err()
                {
                    return Err(Close(1008, "Send queue full: the client is not reading."));
                }
            }
        }
        let Some((subscription, expires)) = self.pushes.get(&env.queue).cloned() else {
            return Ok(());
        };
        match &env.event {
            Event::MessagesPosted(posted) if env.at < expires => {
                for m in &posted.messages {
                    let doc = json!({"body": m.body, "ttl": m.ttl, "queue_name": env.queue.as_str(),
                                     "Message_Type": "Notification"});
                    if self.out.try_send(self.push_codec.encode(&doc)).is_err() {
                        return Err(Close(1008, "Send queue full: the client is not reading."));
                    }
                }
            }
            Event::SubscriptionDeleted(d) if d.id == subscription => {
                self.pushes.remove(&env.queue);
            }
            Event::SubscriptionsExpired(e) if e.ids.contains(&subscription) => {
                self.pushes.remove(&env.queue);
            }
            Event::SubscriptionsPurged(_) | Event::QueueDeleted(_) => {
                self.pushes.remove(&env.queue);
            }
            _ => {}
        }
        Ok(())
    }

    /// Removes this connection's push subscriptions from the log's read model.
    async fn end(&mut self) {
        let Some((project, client)) = self.identity.clone() else {
            return;
        };
        for (queue, (id, _)) in self.pushes.drain() {
            let scope = Scope {
                project: project.clone(),
                client_id: Some(client.clone()),
                request_id: None,
            };
            if let Err(e) = self
                .app
                .store
                .submit(scope, Command::DeleteSubscription { queue, id })
                .await
            {
                tracing::warn!(error = %e, "could not remove a push subscription");
            }
        }
    }
}
