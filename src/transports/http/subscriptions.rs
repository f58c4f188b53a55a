//! Subscription routes: create, list, get, update, delete, confirm.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::caller::Caller;
use super::query::Query;
use super::{no_content, queue_and_id, queue_name, read_body, render, Seq};
use crate::actions::{
    decode, execute, SubscriptionConfirm, SubscriptionCreate, SubscriptionDelete, SubscriptionGet,
    SubscriptionList, SubscriptionUpdate,
};
use crate::commands::{CreateSubscription, UpdateSubscription};
use crate::error::ApiError;
use crate::model::SubscriptionSpec;
use crate::state::Core;
use crate::transports::views;

pub async fn create(
    State(app): State<Core>,
    Caller(ctx): Caller,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<(Seq, Response), ApiError> {
    let queue = queue_name(path, &ctx)?;
    let body = read_body(body).await?;
    let doc = match body.is_empty() {
        true => json!({}),
        false => decode::parse_json(&body)?,
    };
    let spec = SubscriptionSpec::for_create(&doc, &app.limits, app.clock.now())?;
    let location = format!("/v2/queues/{queue}/subscriptions");
    let action = SubscriptionCreate(CreateSubscription::new(queue, spec));
    let answer = execute(&app, &ctx, action).await?;
    let seq = Seq(answer.seq);
    let body = json!({ "subscription_id": answer.reply.as_str() });
    Ok((seq, render::created(&body, &location)))
}

pub async fn list(
    State(app): State<Core>,
    Caller(ctx): Caller,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let queue = queue_name(path, &ctx)?;
    let q = Query::parse(raw.as_deref());
    let limit = q.int("limit")?;
    let action = SubscriptionList {
        queue: queue.clone(),
        marker: q.get("marker").map(str::to_owned),
        limit: app.limits.subscription_page(limit)?,
    };
    let found = execute(&app, &ctx, action).await?.reply;
    let now = app.clock.now();
    let items: Vec<_> = found.iter().map(|s| views::subscription(s, now)).collect();
    let params: Vec<(String, String)> = limit
        .map(|l| vec![("limit".to_owned(), l.to_string())])
        .unwrap_or_default();
    let last = found.last().map_or("", |s| s.id.as_str());
    let path = format!("/v2/queues/{queue}/subscriptions");
    let doc = json!({
        "subscriptions": items,
        "links": render::links(!found.is_empty(), &path, &params, last),
    });
    Ok(render::json(StatusCode::OK, &doc))
}

pub async fn get(
    State(app): State<Core>,
    Caller(ctx): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (queue, id) = queue_and_id(path, &ctx)?;
    let s = execute(&app, &ctx, SubscriptionGet { queue, id })
        .await?
        .reply;
    Ok(render::json(
        StatusCode::OK,
        &views::subscription(&s, app.clock.now()),
    ))
}

pub async fn update(
    State(app): State<Core>,
    Caller(ctx): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Body,
) -> Result<(Seq, Response), ApiError> {
    let (queue, id) = queue_and_id(path, &ctx)?;
    let body = read_body(body).await?;
    let doc = match body.is_empty() {
        true => json!({}),
        false => decode::parse_json(&body)?,
    };
    let spec = SubscriptionSpec::for_update(&doc, &app.limits, app.clock.now())?;
    let location = format!("/v2/queues/{queue}/subscriptions/{id}");
    let action = SubscriptionUpdate(UpdateSubscription { queue, id, spec });
    no_content(&app, &ctx, action, Some(&location)).await
}

pub async fn delete(
    State(app): State<Core>,
    Caller(ctx): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(Seq, Response), ApiError> {
    let (queue, id) = queue_and_id(path, &ctx)?;
    no_content(&app, &ctx, SubscriptionDelete { queue, id }, None).await
}

pub async fn confirm(
    State(app): State<Core>,
    Caller(ctx): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Body,
) -> Result<(Seq, Response), ApiError> {
    let (queue, id) = queue_and_id(path, &ctx)?;
    let body = read_body(body).await?;
    let confirmed = decode::confirmation(&decode::parse_json(&body)?)?;
    let location = format!("/v2/queues/{queue}/subscriptions/{id}/confirm");
    let action = SubscriptionConfirm {
        queue,
        id,
        confirmed,
    };
    no_content(&app, &ctx, action, Some(&location)).await
}
