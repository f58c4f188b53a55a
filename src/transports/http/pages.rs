//! The pages the binary serves itself: the web console at `/console` and the API reference
//! at `/docs`, with their assets embedded at build time (nothing is fetched from elsewhere),
//! and the OpenAPI document at `/v2/openapi.json`. None of them needs Zaqar's headers: the
//! console asks for the project (and token) and then speaks the WebSocket API.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::state::Core;

/// The policy every page is served with: its own scripts and styles only, and connections
/// only back to this server.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// One embedded file: its media type and its bytes.
struct Asset(&'static str, &'static str);

const CONSOLE_HTML: Asset = Asset(
    "text/html; charset=utf-8",
    include_str!("console/index.html"),
);
const CONSOLE_JS: Asset = Asset(
    "text/javascript; charset=utf-8",
    include_str!("console/console.js"),
);
const CONSOLE_CSS: Asset = Asset(
    "text/css; charset=utf-8",
    include_str!("console/console.css"),
);
const DOCS_HTML: Asset = Asset("text/html; charset=utf-8", include_str!("docs/index.html"));
const DOCS_JS: Asset = Asset(
    "text/javascript; charset=utf-8",
    include_str!("docs/docs.js"),
);
const DOCS_CSS: Asset = Asset("text/css; charset=utf-8", include_str!("docs/docs.css"));

/// The routes of the pages.
pub fn routes() -> Router<Core> {
    Router::new()
        .route("/console", get(|| async { serve(&CONSOLE_HTML) }))
        .route(
            "/console/",
            get(|| async { Redirect::permanent("/console") }),
        )
        .route("/console/console.js", get(|| async { serve(&CONSOLE_JS) }))
        .route(
            "/console/console.css",
            get(|| async { serve(&CONSOLE_CSS) }),
        )
        .route("/docs", get(|| async { serve(&DOCS_HTML) }))
        .route("/docs/", get(|| async { Redirect::permanent("/docs") }))
        .route("/docs/docs.js", get(|| async { serve(&DOCS_JS) }))
        .route("/docs/docs.css", get(|| async { serve(&DOCS_CSS) }))
        .route("/v2/openapi.json", get(openapi))
}

/// `GET /v2/openapi.json`: the document of this node's REST API (with the admin routes in
/// admin mode).
async fn openapi(State(app): State<Core>) -> Response {
    let doc = super::openapi::document(app.admin_mode, &app.limits);
    let mut response = super::render::json(StatusCode::OK, &doc);
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// An asset with its type, the page policy, and no caching (a new binary serves new pages).
fn serve(asset: &Asset) -> Response {
    let mut response = asset.1.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.0));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
