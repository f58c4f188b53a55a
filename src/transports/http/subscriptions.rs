//! Subscription routes: create, list, get, update, delete, confirm.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::extract::{OnItem, OnQueue, Payload};
use super::query::Query;
use super::{no_content, render, Seq};
use crate::actions::{
    decode, execute, SubscriptionConfirm, SubscriptionCreate, SubscriptionDelete, SubscriptionGet,
    SubscriptionList, SubscriptionUpdate,
};
use crate::commands::{CreateSubscription, UpdateSubscription};
use crate::error::ApiError;
use crate::model::SubscriptionSpec;
use crate::projections::Page;
use crate::transports::views;

pub async fn create(
    OnQueue(app, ctx, queue): OnQueue,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let doc = decode::optional_json(&body)?.unwrap_or_else(|| json!({}));
    let spec = SubscriptionSpec::for_create(&doc, &app.limits, app.clock.now())?;
    let location = format!("/v2/queues/{queue}/subscriptions");
    let action = SubscriptionCreate(CreateSubscription::new(queue, spec));
    let answer = execute(&app, &ctx, action).await?;
    let seq = Seq(answer.seq);
    let body = json!({ "subscription_id": answer.reply.as_str() });
    Ok((seq, render::created(&body, &location)))
}

pub async fn list(OnQueue(app, ctx, queue): OnQueue, q: Query) -> Result<Response, ApiError> {
    let limit = q.int("limit")?;
    let page = Page {
        marker: q.get("marker").map(str::to_owned),
        limit: app.limits.subscription_page(limit)?,
    };
    let action = SubscriptionList {
        queue: queue.clone(),
        page,
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

pub async fn get(OnItem(app, ctx, queue, id): OnItem) -> Result<Response, ApiError> {
    let s = execute(&app, &ctx, SubscriptionGet { queue, id })
        .await?
        .reply;
    Ok(render::json(
        StatusCode::OK,
        &views::subscription(&s, app.clock.now()),
    ))
}

pub async fn update(
    OnItem(app, ctx, queue, id): OnItem,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let doc = decode::optional_json(&body)?.unwrap_or_else(|| json!({}));
    let spec = SubscriptionSpec::for_update(&doc, &app.limits, app.clock.now())?;
    let location = format!("/v2/queues/{queue}/subscriptions/{id}");
    let action = SubscriptionUpdate(UpdateSubscription { queue, id, spec });
    no_content(&app, &ctx, action, Some(&location)).await
}

pub async fn delete(OnItem(app, ctx, queue, id): OnItem) -> Result<(Seq, Response), ApiError> {
    no_content(&app, &ctx, SubscriptionDelete { queue, id }, None).await
}

pub async fn confirm(
    OnItem(app, ctx, queue, id): OnItem,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let confirmed = decode::confirmation(&decode::parse_json(&body)?)?;
    let location = format!("/v2/queues/{queue}/subscriptions/{id}/confirm");
    let action = SubscriptionConfirm {
        queue,
        id,
        confirmed,
    };
    no_content(&app, &ctx, action, Some(&location)).await
}
