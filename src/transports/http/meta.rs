//! Version discovery, the JSON-home document, ping and health.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::caller::Caller;
use super::render;
use crate::actions::{execute, CheckHealth, Ping};
use crate::error::ApiError;
use crate::state::Core;

/// `GET /`: the versions document (300, no headers required).
pub async fn versions() -> Response {
    let doc = json!({"versions": [{
        "id": "2",
        "status": "CURRENT",
        "updated": "2014-9-24T04:06:47Z",
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.messaging-v2+json"}],
        "links": [{"href": "/v2/", "rel": "self"}],
    }]});
    render::json(StatusCode::MULTIPLE_CHOICES, &doc)
}

/// One relation of the home document: its template, each variable with the parameter Zaqar
/// names it by, and the methods it allows (one that only creates or changes takes JSON).
fn resource(template: &str, vars: &[(&str, &str)], allow: &[&str]) -> Value {
    let href_vars: serde_json::Map<String, Value> = vars
        .iter()
        .map(|(var, param)| ((*var).to_owned(), Value::from(format!("param/{param}"))))
        .collect();
    let mut hints = json!({"allow": allow, "formats": {"application/json": {}}});
    if matches!(allow, ["POST"] | ["PATCH"]) {
        hints["accept-post"] = json!(["application/json"]);
    }
    json!({"href-template": template, "href-vars": href_vars, "hints": hints})
}

/// `GET /v2/`: the JSON-home document describing the API, with Zaqar's relations.
pub async fn home(State(app): State<Core>, Caller(_): Caller) -> Response {
    let q = "/v2/queues/{queue_name}";
    let queue = ("queue_name", "queue_name");
    let message = ("message_id", "message_id");
    let claim = ("claim_id", "claim_id");
    let subscription = ("subscriptions_id", "subscriptions_id");
    let (marker, echo) = (("marker", "marker"), ("echo", "echo"));
    let mut doc = json!({"resources": {
        "rel/queues": resource("/v2/queues{?marker,limit,detailed}",
            &[marker, ("limit", "queue_limit"), ("detailed", "detailed")], &["GET"]),
        "rel/queue": resource(q, &[queue], &["GET", "PUT", "DELETE", "PATCH"]),
        "rel/queue_stats": resource(&format!("{q}/stats"), &[queue], &["GET"]),
        "rel/queue_share": resource(&format!("{q}/share"), &[queue], &["POST"]),
        "rel/queue_purge": resource(&format!("{q}/purge"), &[queue], &["POST"]),
        "rel/messages": resource(&format!("{q}/messages{{?marker,limit,echo,include_claimed}}"),
            &[queue, marker, ("limit", "messages_limit"), echo,
              ("include_claimed", "include_claimed")], &["GET"]),
        "rel/post_messages": resource(&format!("{q}/messages"), &[queue], &["POST"]),
        "rel/messages_delete": resource(&format!("{q}/messages{{?ids,pop}}"),
            &[queue, ("ids", "ids"), ("pop", "pop")], &["DELETE"]),
        "rel/message_delete": resource(&format!("{q}/messages/{{message_id}}{{?claim}}"),
            &[queue, message, ("claim", "claim_id")], &["DELETE"]),
        "rel/message_get": resource(&format!("{q}/messages/{{message_id}}"), &[queue, message],
            &["GET"]),
        "rel/claim": resource(&format!("{q}/claims/{{claim_id}}"), &[queue, claim], &["GET"]),
        "rel/post_claim": resource(&format!("{q}/claims{{?limit}}"),
            &[queue, ("limit", "claim_limit")], &["POST"]),
        "rel/patch_claim": resource(&format!("{q}/claims/{{claim_id}}"), &[queue, claim],
            &["PATCH"]),
        "rel/delete_claim": resource(&format!("{q}/claims/{{claim_id}}"), &[queue, claim],
            &["DELETE"]),
        "rel/subscriptions_get": resource(&format!("{q}/subscriptions{{?marker,limit}}"),
            &[queue, marker, ("limit", "subscription_limit")], &["GET"]),
        "rel/subscriptions_post": resource(&format!("{q}/subscriptions"),
            &[queue, ("limit", "subscription_limit")], &["POST"]),
        "rel/subscription": resource(&format!("{q}/subscriptions/{{subscriptions_id}}"),
            &[queue, subscription], &["GET", "DELETE"]),
        "rel/subscription_patch": resource(&format!("{q}/subscriptions/{{subscriptions_id}}"),
            &[queue, subscription], &["PATCH"]),
        "rel/ping": {"href": "/v2/ping", "hints": {"allow": ["GET", "HEAD"], "formats": {"application/json": {}}}},
        "rel/health": {"href": "/v2/health", "hints": {"allow": ["GET"], "formats": {"application/json": {}}}},
    }});
    if app.admin_mode {
        doc["resources"]["rel/pools"] = resource(
            "/v2/pools{?detailed,limit,marker}",
            &[("detailed", "detailed"), ("limit", "pool_limit"), marker],
            &["GET"],
        );
        doc["resources"]["rel/pool"] = resource(
            "/v2/pools/{pool_name}",
            &[("pool_name", "pool_name")],
            &["GET", "PUT", "PATCH", "DELETE"],
        );
        doc["resources"]["rel/flavors"] = resource(
            "/v2/flavors{?detailed,limit,marker}",
            &[("detailed", "detailed"), ("limit", "flavor_limit"), marker],
            &["GET"],
        );
        doc["resources"]["rel/flavor"] = resource(
            "/v2/flavors/{flavor_name}",
            &[("flavor_name", "flavor_name")],
            &["GET", "PUT", "PATCH", "DELETE"],
        );
    }
    let mut response = render::json(StatusCode::OK, &doc);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json-home"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400"),
    );
    response
}

/// `GET /v2/ping`: 204 if the store answers, else 503.
pub async fn ping(State(app): State<Core>, Caller(ctx): Caller) -> Result<Response, ApiError> {
    match execute(&app, &ctx, Ping).await?.reply {
        true => Ok(StatusCode::NO_CONTENT.into_response()),
        false => Ok(StatusCode::SERVICE_UNAVAILABLE.into_response()),
    }
}

/// `HEAD /v2/ping`: always 204 once the request is well formed.
pub async fn ping_head(Caller(_): Caller) -> StatusCode {
    StatusCode::NO_CONTENT
}

/// `GET /v2/health`: store reachability, read-only self-checks and the project's volume.
pub async fn health(State(app): State<Core>, Caller(ctx): Caller) -> Result<Response, ApiError> {
    let h = execute(&app, &ctx, CheckHealth).await?.reply;
    let checks: serde_json::Map<String, Value> = h
        .checks
        .iter()
        .map(|(name, ok, secs)| {
            (
                (*name).to_owned(),
                json!({"succeeded": ok, "seconds": secs, "ref": null}),
            )
        })
        .collect();
    let mut doc = crate::transports::views::health(&h);
    doc["operation_status"] = Value::Object(checks);
    Ok(render::json(StatusCode::OK, &doc))
}
