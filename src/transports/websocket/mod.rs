//! Zaqar's WebSocket transport (reference §7): one connection carries many requests, each
//! a JSON (text) or MessagePack (binary) envelope decoded into the same actions REST uses
//! (`dispatch.rs` holds the table of them), and authenticated by the same [`crate::auth`]
//! function: with Keystone, `authenticate` binds the connection to its token's project
//! until the token expires (then the connection closes with 4003), and a pre-signed frame
//! is judged as the REST request with the same effect; without authentication each
//! frame's headers name its project. Push subscriptions (`subscription_create` without a
//! subscriber) receive new messages of a queue as they are committed to the log. Each
//! connection has a bounded send queue: a client that does not read is disconnected with a
//! clear reason, never buffered without limit.

mod catalogue;
pub mod dispatch;
mod error;
pub mod protocol;
mod render;
pub mod request;
mod seats;
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

use crate::actions::{execute, Action, Answer, Context, SubscriptionCreate};
use crate::auth::signed_url::Presented;
use crate::auth::{Credentials, Principal};
use crate::commands::{Command, CreateSubscription, Scope};
use crate::error::ApiError;
use crate::events::{Envelope, Event};
use crate::model::{ClientId, ProjectId, QueueName, SubscriptionId, SubscriptionSpec, Timestamp};
use crate::state::Core;
use protocol::{Codec, Rejection};
use request::Refusal;
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
    /// Most connections acting in one project at once (across the node's listeners).
    pub max_per_project: usize,
    /// The seats taken by project, shared by every connection of the node.
    pub seats: Arc<seats::SeatBook>,
}

impl Default for WsSettings {
    fn default() -> Self {
        WsSettings {
            max_frame: 1024 * 1024,
            send_queue: 1024,
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            max_per_project: 1000,
            seats: Arc::default(),
        }
    }
}

/// What a WebSocket session runs with: the core state and this transport's settings.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub core: Core,
    pub settings: Arc<WsSettings>,
}

/// The dedicated WebSocket listener: any path upgrades.
pub fn router(core: Core, settings: Arc<WsSettings>) -> Router {
    Router::new()
        .fallback(upgrade)
        .with_state(Endpoint { core, settings })
}

/// Room for one read from a connection. The WebSocket library zeroes this much before every
/// read, so its default of 128 KiB cost more than the read itself for the frames of a
/// typical post (10 messages of 1 KiB); larger frames take several reads.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Upgrades an HTTP request to a WebSocket session.
pub async fn upgrade(ws: WebSocketUpgrade, State(endpoint): State<Endpoint>) -> Response {
    // The protocol limit is generous; the session enforces `max_frame` itself so that an
    // oversized frame gets an answer instead of a dropped connection.
    let limit = endpoint
        .settings
        .max_frame
        .saturating_mul(4)
        .max(64 * 1024 * 1024);
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| session(socket, endpoint))
}

/// Why a session ends, sent to the client as the close reason.
struct Close(u16, &'static str);

/// A push subscription of a connection.
struct Push {
    id: SubscriptionId,
    expires: Timestamp,
    client: ClientId,
}

/// The state of one connection.
struct Session {
    app: Core,
    /// The principal bound by `authenticate` (Keystone only).
    principal: Option<Arc<Principal>>,
    /// When the bound principal's token expires.
    deadline: Option<tokio::time::Instant>,
    /// Push subscriptions of this connection, by project and queue.
    pushes: HashMap<(ProjectId, QueueName), Push>,
    /// The committed-event feed of the node's own store, once a push subscription or a tail
    /// exists.
    feed: Option<broadcast::Receiver<Arc<Envelope>>>,
    /// The feeds of the pools whose queues this connection is pushed (by pool name).
    pool_feeds: Vec<(String, broadcast::Receiver<Arc<Envelope>>)>,
    out: mpsc::Sender<Message>,
    /// The codec of the latest push subscription (push frames use it).
    push_codec: Codec,
    connection: String,
    /// The live tail of the project's events, if one was asked for.
    tail: Option<Tail>,
    /// The projects this connection has acted in, each holding one of its seats.
    seats: Vec<seats::Seat>,
    settings: Arc<WsSettings>,
}

async fn session(socket: WebSocket, endpoint: Endpoint) {
    let connection = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("websocket", connection = %connection);
    run_session(socket, endpoint, connection)
        .instrument(span)
        .await;
}

async fn run_session(socket: WebSocket, endpoint: Endpoint, connection: String) {
    let Endpoint {
        core: app,
        settings,
    } = endpoint;
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
        principal: None,
        deadline: None,
        pushes: HashMap::new(),
        feed: None,
        pool_feeds: Vec::new(),
        out,
        push_codec: Codec::Json,
        connection,
        tail: None,
        seats: Vec::new(),
        settings: settings.clone(),
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
                if let Err(close) = s.push(event, None) {
                    break Some(close);
                }
                if s.catch_up().await.is_err() {
                    break None;
                }
            }
            (pool, event) = next_pool_event(&mut s.pool_feeds) => {
                if let Err(close) = s.push(event, Some(pool)) {
                    break Some(close);
                }
                if s.catch_up().await.is_err() {
                    break None;
                }
            }
            _ = expiry(s.deadline) => {
                break Some(Close(4003, "Authentication expired."));
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

/// Resolves at the bound token's expiry, never without one.
async fn expiry(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn next_event(
    feed: &mut Option<broadcast::Receiver<Arc<Envelope>>>,
) -> Result<Arc<Envelope>, broadcast::error::RecvError> {
    match feed {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The next event of any of the pools' feeds, with its pool's name.
async fn next_pool_event(
    feeds: &mut [(String, broadcast::Receiver<Arc<Envelope>>)],
) -> (String, Result<Arc<Envelope>, broadcast::error::RecvError>) {
    if feeds.is_empty() {
        return std::future::pending().await;
    }
    let next = feeds
        .iter_mut()
        .map(|(pool, rx)| Box::pin(async move { (pool.clone(), rx.recv().await) }));
    futures_util::future::select_all(next).await.0
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
        let action = match dispatch::is_action(&envelope.action) {
            true => envelope.action.as_str(),
            false => "unknown",
        };
        self.app
            .metrics
            .ws_request(action, status, started.elapsed());
        protocol::response(envelope.into_echo(), status, body, seq)
    }

    /// Authenticates the frame, decodes the action and runs it.
    /// Takes this connection's seat in `project`, the first time it acts there.
    fn seat(&mut self, project: &ProjectId) -> Result<(), Rejection> {
        if self.seats.iter().any(|s| s.project() == project) {
            return Ok(());
        }
        let max = self.settings.max_per_project;
        match seats::SeatBook::take(&self.settings.seats, project, max) {
            Some(seat) => {
                self.seats.push(seat);
                Ok(())
            }
            None => Err(Rejection::new(
                429,
                format!(
                    "The project has {max} WebSocket connections open, its limit. Close one, \
                     or try again later."
                ),
            )),
        }
    }

    async fn run(
        &mut self,
        envelope: &protocol::Envelope,
        codec: Codec,
    ) -> Result<(u16, Value, Option<i64>), Refusal> {
        if !dispatch::is_action(&envelope.action) {
            let error = format!("{} is not a valid action", envelope.action);
            return Err(Rejection::new(400, error).into());
        }
        if envelope.action == "authenticate" {
            return self.authenticate(envelope).await;
        }
        let limits = self.app.limits.clone();
        // Both headers are required by every action's schema.
        let header_project = envelope.header("X-Project-ID")?;
        if envelope.header("Client-ID")?.is_none() || header_project.is_none() {
            return Err(Rejection::schema().into());
        }
        let client_id = ClientId::new(
            envelope.header("Client-ID")?,
            limits.client_id_uuid_safe,
            limits.min_length_client_id,
            limits.max_length_client_id,
        )?;
        let signed = signed_headers(envelope)?;
        // The project the action names: the bound token's, or the frame's own.
        let project = match (&signed, &self.principal) {
            (None, Some(bound)) => {
                bound.admits(header_project)?;
                bound.project.clone()
            }
            _ => ProjectId::new(header_project)?,
        };
        self.seat(&project)?;
        let now = self.app.clock.now();
        if envelope.action == "event_subscribe" {
            let principal = self
                .principal_for(signed, header_project, Some(("GET", "/v2/events".into())))
                .await?;
            let ctx = context(project, principal, client_id);
            return self.start_tail(&ctx, &envelope.body, codec);
        }
        let frame = request::Frame {
            body: &envelope.body,
            project: &project,
            limits: &limits,
            now,
            admin: self.app.admin_mode,
        };
        let request = dispatch::decode_action(&envelope.action, &frame)?;
        let route = match &request {
            request::Request::Api(call) => Some(call.route()),
            request::Request::Subscribe { queue, .. } => Some((
                "POST",
                format!("/v2/queues/{}/subscriptions", queue.as_str()),
            )),
            request::Request::Immediate(..) => None,
        };
        let principal = self.principal_for(signed, header_project, route).await?;
        let ctx = context(project, principal, client_id);
        match request {
            request::Request::Immediate(status, body) => Ok((status, body, None)),
            request::Request::Api(call) => Ok(call.call(&self.app, &ctx).await),
            request::Request::Subscribe {
                queue,
                ttl,
                options,
            } => self.subscribe(ctx, queue, ttl, options, codec).await,
        }
    }

    /// Who a frame acts as: the signer of its pre-signed headers (judged against the REST
    /// `route` of its action), else the principal bound by `authenticate`, else — without
    /// authentication — its own project header. With Keystone, an unauthenticated frame
    /// gets Zaqar's 403.
    async fn principal_for(
        &self,
        signed: Option<Presented>,
        project: Option<&str>,
        route: Option<(&'static str, String)>,
    ) -> Result<Arc<Principal>, Refusal> {
        let now = self.app.clock.now();
        if signed.is_none() {
            if let Some(bound) = &self.principal {
                return Ok(bound.clone());
            }
            if self.app.auth.requires_token() {
                return Err(Rejection::new(403, "Not authentified.").into());
            }
        }
        let Some((method, path)) = route.or_else(|| signed.is_none().then(|| ("", String::new())))
        else {
            // An action without a REST equivalent cannot be pre-signed.
            return Err(ApiError::SignatureRejected.into());
        };
        let creds = Credentials {
            token: None,
            project,
            signed,
            method,
            path: &path,
        };
        Ok(Arc::new(self.app.auth.authenticate(&creds, now).await?))
    }

    /// `authenticate`: validates the token and binds the connection to its principal until
    /// the token expires; a failed attempt ends any earlier binding. Without an
    /// authentication strategy there is nothing to check.
    async fn authenticate(
        &mut self,
        envelope: &protocol::Envelope,
    ) -> Result<(u16, Value, Option<i64>), Refusal> {
        if !self.app.auth.requires_token() {
            return Ok((200, json!({"message": "Authentified."}), None));
        }
        let creds = Credentials {
            token: envelope.header("X-Auth-Token")?,
            project: envelope.header("X-Project-ID")?,
            signed: None,
            method: "",
            path: "",
        };
        let now = self.app.clock.now();
        match self.app.auth.authenticate(&creds, now).await {
            Ok(principal) => {
                let left = principal.expires().map_or(0, |at| (at.0 - now.0).max(0));
                self.deadline =
                    Some(tokio::time::Instant::now() + Duration::from_millis(left.unsigned_abs()));
                self.principal = Some(Arc::new(principal));
                Ok((200, json!({"message": "Authentified."}), None))
            }
            Err(e) => {
                self.principal = None;
                self.deadline = None;
                let status = match e {
                    ApiError::Unavailable(_) => 503,
                    ApiError::ProjectMismatch => 403,
                    _ => 401,
                };
                Ok((status, json!({"error": "Authentication failed."}), None))
            }
        }
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
        let key = (ctx.project.clone(), queue.clone());
        if self.pushes.contains_key(&key) {
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
        let action = SubscriptionCreate(CreateSubscription::new(queue.clone(), spec));
        // A refused caller gets no feed (`execute` checks the same rule again).
        self.app
            .auth
            .authorize(action.guard(false).rule, &ctx.principal)?;
        // Listen before the subscription exists, so no message posted after it is missed.
        let located = self.app.pools.locate(&ctx.project, &queue).await;
        match located.map_err(ApiError::from)? {
            (None, _) if self.feed.is_none() => self.feed = Some(self.app.store.subscribe()),
            (Some(pool), store) if !self.pool_feeds.iter().any(|(p, _)| *p == pool) => {
                self.pool_feeds.push((pool, store.subscribe()))
            }
            _ => {}
        }
        match execute(&self.app, &ctx, action).await {
            Ok(Answer { reply: id, seq }) => {
                let ttl = ttl.unwrap_or(self.app.limits.default_subscription_ttl);
                let expires = self.app.clock.now().plus_secs(ttl);
                self.pushes.insert(
                    key,
                    Push {
                        id: id.clone(),
                        expires,
                        client: ctx.client_id.clone(),
                    },
                );
                self.push_codec = codec;
                Ok((
                    201,
                    json!({"subscription_id": id.as_str(),
                           "message": format!("Subscription {queue} created.")}),
                    seq,
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Pushes the notifications an event calls for; an error closes the connection.
    /// Sends a committed event of a store (`pool`; `None`: the node's own) to the push
    /// subscriptions and the tail it concerns.
    fn push(
        &mut self,
        event: Result<Arc<Envelope>, broadcast::error::RecvError>,
        pool: Option<String>,
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
        if let Some(tail) = self.tail.as_mut().filter(|t| t.project == env.project) {
            if !tail.catching_up && env.seq > tail.marker.after(pool.as_deref()) {
                tail.marker.advance(pool.as_deref(), env.seq);
                let named = tail.pooled.then_some(pool.as_deref());
                if matches_filter(&tail.filter, &env)
                    && self
                        .out
                        .try_send(tail.codec.encode(&tail_frame(&env, named)))
                        .is_err()
                {
                    return Err(Close(1008, "Send queue full: the client is not reading."));
                }
            }
        }
        let key = (env.project.clone(), env.queue.clone());
        let Some((subscription, expires)) =
            self.pushes.get(&key).map(|p| (p.id.clone(), p.expires))
        else {
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
                self.pushes.remove(&key);
            }
            Event::SubscriptionsExpired(e) if e.ids.contains(&subscription) => {
                self.pushes.remove(&key);
            }
            Event::SubscriptionsPurged(_) | Event::QueueDeleted(_) => {
                self.pushes.remove(&key);
            }
            _ => {}
        }
        Ok(())
    }

    /// Removes this connection's push subscriptions from the log's read model.
    async fn end(&mut self) {
        for ((project, queue), push) in self.pushes.drain() {
            let id = push.id;
            let scope = Scope {
                project,
                client_id: Some(push.client),
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

/// A request context for a frame.
fn context(project: ProjectId, principal: Arc<Principal>, client_id: ClientId) -> Context {
    Context {
        project,
        principal,
        client_id,
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
    }
}

/// A frame's pre-signed headers, when it carries `URL-Signature`. `URL-Methods` and
/// `URL-Paths` are JSON arrays over WebSocket (Zaqar's form); comma-separated text is
/// accepted too.
fn signed_headers(envelope: &protocol::Envelope) -> Result<Option<Presented>, Rejection> {
    let Some(signature) = envelope.headers.get("URL-Signature") else {
        return Ok(None);
    };
    let list = |name: &str| -> Vec<String> {
        match envelope.headers.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect(),
            Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
            _ => Vec::new(),
        }
    };
    Ok(Some(Presented {
        // A signature that is not text is a failed signature, not an absent one.
        signature: signature.as_str().unwrap_or_default().to_owned(),
        expires: envelope
            .header("URL-Expires")
            .ok()
            .flatten()
            .map(str::to_owned),
        methods: list("URL-Methods"),
        paths: list("URL-Paths"),
        project: envelope.header("X-Project-ID")?.map(str::to_owned),
    }))
}
