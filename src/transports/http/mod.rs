//! The Zaqar v2 REST transport (axum). Routes decode path, query and body into an action
//! of `actions`, run it, and render its reply; errors become Zaqar's JSON error
//! bodies in `error.rs`, the only place that knows status codes.

mod audit;
mod caller;
mod catalogue;
mod claims;
mod cors;
mod error;
mod extract;
mod messages;
mod meta;
mod openapi;
mod pages;
pub mod query;
mod queues;
mod render;
mod subscriptions;
mod topics;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::actions::{execute, Action, Context};
use crate::error::ApiError;
use crate::state::Core;

pub use caller::RequestId;
pub use cors::CorsSettings;

/// Largest request body read at all; bodies above their route's own limit are read (so the
/// client gets a clean 400 rather than a reset connection) up to this size.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// All REST routes, and the WebSocket API at `/v2/ws` with its `websocket` settings.
pub fn router(
    state: Core,
    cors: Option<&CorsSettings>,
    websocket: Arc<crate::transports::websocket::WsSettings>,
) -> Router {
    let topics =
        queue_routes(topics::PREFIX, false).route_layer(middleware::from_fn(topics::render));
    let cors = cors.map(|c| c.layer());
    let ws = crate::transports::websocket::Endpoint {
        core: state.clone(),
        settings: websocket,
    };
    let admission = Arc::new(Semaphore::new(state.limits.max_concurrent_requests.max(1)));
    let router = Router::new()
        .route("/", get(meta::versions))
        .route("/v2", get(meta::home))
        .route("/v2/", get(meta::home))
        .route("/v2/ping", get(meta::ping).head(meta::ping_head))
        .route("/v2/health", get(meta::health))
        .route(
            "/v2/ws",
            get(crate::transports::websocket::upgrade).with_state(ws),
        )
        .route("/v2/events", get(audit::events))
        .merge(pages::routes())
        .merge(queue_routes("/v2/queues", true))
        .merge(topics)
        .merge(match state.admin_mode {
            true => catalogue::routes(),
            false => Router::new(),
        })
        .fallback(not_found)
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(admission, admit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ));
    // Outermost, so that preflights are answered before anything else runs.
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(state)
}

/// The routes of queues under `prefix` (`/v2/queues`), or of topics (`/v2/topics`: the same
/// handlers in the project's topic namespace, without claims).
fn queue_routes(prefix: &str, claims: bool) -> Router<Core> {
    let q = format!("{prefix}/{{queue}}");
    let q = q.as_str();
    let routes = Router::new()
        .route(prefix, get(queues::list))
        .route(
            q,
            put(queues::create)
                .get(queues::get)
                .head(queues::exists)
                .patch(queues::update)
                .delete(queues::delete),
        )
        .route(&format!("{q}/stats"), get(queues::stats))
        .route(&format!("{q}/purge"), post(queues::purge))
        .route(
            &format!("{q}/messages"),
            post(messages::post)
                .get(messages::list)
                .delete(messages::delete_many),
        )
        .route(
            &format!("{q}/messages/{{message_id}}"),
            get(messages::get).delete(messages::delete),
        )
        .route(
            &format!("{q}/messages/{{message_id}}/history"),
            get(audit::history),
        )
        .route(
            &format!("{q}/subscriptions"),
            post(subscriptions::create).get(subscriptions::list),
        )
        .route(
            &format!("{q}/subscriptions/{{subscription_id}}"),
            get(subscriptions::get)
                .patch(subscriptions::update)
                .delete(subscriptions::delete),
        )
        .route(
            &format!("{q}/subscriptions/{{subscription_id}}/confirm"),
            put(subscriptions::confirm),
        );
    if !claims {
        return routes;
    }
    routes
        .route(&format!("{q}/share"), post(queues::share))
        .route(&format!("{q}/claims"), post(claims::create))
        .route(
            &format!("{q}/claims/{{claim_id}}"),
            get(claims::get)
                .patch(claims::update)
                .delete(claims::delete),
        )
}

/// Unknown routes: the framework's 404.
async fn not_found() -> Response {
    let body = serde_json::json!({"title": "404 Not Found"}).to_string();
    (axum::http::StatusCode::NOT_FOUND, body).into_response()
}

/// `GET /metrics`: Prometheus exposition (no Zaqar headers needed, as scrapers send none).
async fn metrics(State(app): State<Core>) -> Result<Response, ApiError> {
    let (mut free, mut claimed) = (0, 0);
    for store in app.pools.all() {
        let (f, c) = store.total_volume(app.clock.now()).await?;
        (free, claimed) = (free + f, claimed + c);
    }
    let text = app.metrics.render(free, claimed);
    let mut response = text.into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// Gives each request an id (`x-openstack-request-id`), a tracing span and a line in the
/// metrics, and answers `OPTIONS` on known routes with 200 and their `Allow` header, as
/// Zaqar's framework does.
async fn request_context(State(app): State<Core>, mut req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let is_options = method == axum::http::Method::OPTIONS;
    let id = format!("req-{}", uuid::Uuid::new_v4());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span =
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    let mut response = async move {
        let response = next.run(req).await;
        tracing::debug!(status = response.status().as_u16(), "answered");
        response
    }
    .instrument(span)
    .await;
    if is_options && response.status() == axum::http::StatusCode::METHOD_NOT_ALLOWED {
        *response.status_mut() = axum::http::StatusCode::OK;
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert("x-openstack-request-id", value);
    }
    app.metrics.http_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Serves a request if fewer than `max_concurrent_requests` are being served, and answers
/// 503 at once otherwise: under overload, refusing quickly keeps the requests in progress
/// fast, where a queue would make every one of them slow.
async fn admit(State(admission): State<Arc<Semaphore>>, req: Request, next: Next) -> Response {
    match admission.try_acquire() {
        Ok(_permit) => next.run(req).await,
        Err(_) => ApiError::Unavailable(
            "The server is serving as many requests as it allows at once.".into(),
        )
        .into_response(),
    }
}

/// The log position a write produced, sent as `X-Cairn-Sequence`.
pub struct Seq(pub Option<i64>);

impl axum::response::IntoResponseParts for Seq {
    type Error = std::convert::Infallible;

    fn into_response_parts(
        self,
        mut res: axum::response::ResponseParts,
    ) -> Result<axum::response::ResponseParts, Self::Error> {
        if let Some(seq) = self.0 {
            res.headers_mut()
                .insert("x-cairn-sequence", HeaderValue::from(seq));
        }
        Ok(res)
    }
}

/// Runs a write that answers nothing: `204 No Content`, with `location` if given.
async fn no_content<A: Action<Reply = ()>>(
    app: &Core,
    ctx: &Context,
    action: A,
    location: Option<&str>,
) -> Result<(Seq, Response), ApiError> {
    let answer = execute(app, ctx, action).await?;
    let response = render::empty(StatusCode::NO_CONTENT, location);
    Ok((Seq(answer.seq), response))
}
