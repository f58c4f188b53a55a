//! Audit routes: the project's event feed and one message's history.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::extract::{On, OnItem};
use super::query::Query;
use super::render;
use crate::actions::{execute, EventList, MessageHistory};
use crate::error::ApiError;
use crate::transports::views;

const FEED_PARAMS: [&str; 5] = ["limit", "queue", "type", "since", "until"];

/// `GET /v2/events`: the project's events in log order, paged by sequence number (with
/// pools: merged by time, paged by a marker per pool).
pub async fn events(On(app, ctx): On, q: Query) -> Result<Response, ApiError> {
    let action = EventList::new(
        &ctx.project,
        q.get("marker"),
        q.int("limit")?,
        q.get("queue"),
        q.get("type"),
        q.get("since"),
        q.get("until"),
        &app.limits,
    )?;
    let feed = execute(&app, &ctx, action).await?.reply;
    let items = views::feed(&feed);
    let (events, horizon) = (feed.events, feed.horizon);
    let params: Vec<(String, String)> = FEED_PARAMS
        .iter()
        .filter_map(|k| q.get(k).map(|v| ((*k).to_owned(), v.to_owned())))
        .collect();
    let mut doc = json!({
        "events": items,
        "links": render::links(!events.is_empty(), "/v2/events", &params, &feed.next),
    });
    if horizon > 0 {
        // Events up to this position were pruned: a feed cannot start before it.
        doc["log_horizon"] = horizon.into();
    }
    Ok(render::json(StatusCode::OK, &doc))
}

/// `GET /v2/queues/{queue}/messages/{id}/history`: the message's whole lifecycle.
pub async fn history(OnItem(app, ctx, queue, id): OnItem) -> Result<Response, ApiError> {
    let history = execute(&app, &ctx, MessageHistory { queue, id })
        .await?
        .reply;
    let doc = views::history(&history.id, &history.events, history.horizon);
    Ok(render::json(StatusCode::OK, &doc))
}
