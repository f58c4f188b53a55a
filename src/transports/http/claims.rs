//! Claim routes: create, get, renew (PATCH), release (DELETE).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::{OnItem, OnQueue, Payload};
use super::query::Query;
use super::{no_content, render, Seq};
use crate::actions::{decode, execute, ClaimCreate, ClaimDelete, ClaimGet, ClaimUpdate};
use crate::commands::{ClaimMessages, RenewClaim};
use crate::error::ApiError;

pub async fn create(
    OnQueue(app, ctx, queue): OnQueue,
    q: Query,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let limit = q.int("limit")?;
    let (ttl, grace) = match decode::optional_json(&body)? {
        None => (None, None),
        Some(doc) => decode::claim_options(&doc)?,
    };
    let cmd = ClaimMessages::new(queue.clone(), ttl, grace, limit, &app.limits)?;
    let wait = app.limits.long_poll(q.int("wait")?)?;
    let answer = execute(&app, &ctx, ClaimCreate(cmd, wait)).await?;
    let seq = Seq(answer.seq);
    let Some((claim_id, messages)) = answer.reply else {
        return Ok((seq, StatusCode::NO_CONTENT.into_response()));
    };
    let now = app.clock.now();
    let items: Vec<_> = messages
        .iter()
        .map(|m| render::message(&queue, m, now, app.limits.enable_checksum))
        .collect();
    let location = render::claim_href(&queue, &claim_id);
    Ok((
        seq,
        render::created(&json!({ "messages": items }), &location),
    ))
}

pub async fn get(OnItem(app, ctx, queue, id): OnItem) -> Result<Response, ApiError> {
    let action = ClaimGet {
        queue: queue.clone(),
        id,
    };
    let claim = execute(&app, &ctx, action).await?.reply;
    let doc = render::claim(&queue, &claim, app.clock.now(), app.limits.enable_checksum);
    Ok(render::json(StatusCode::OK, &doc))
}

pub async fn update(
    OnItem(app, ctx, queue, id): OnItem,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let (ttl, grace) = decode::claim_options(&decode::parse_json(&body)?)?;
    let cmd = RenewClaim::new(queue, &id, ttl, grace, &app.limits)?;
    no_content(&app, &ctx, ClaimUpdate(cmd), None).await
}

pub async fn delete(OnItem(app, ctx, queue, id): OnItem) -> Result<(Seq, Response), ApiError> {
    no_content(&app, &ctx, ClaimDelete { queue, id }, None).await
}
