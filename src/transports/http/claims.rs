//! Claim routes: create, get, renew (PATCH), release (DELETE).

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::caller::Caller;
use super::query::Query;
use super::{no_content, queue_and_id, queue_name, read_body, render, Seq};
use crate::actions::{decode, execute, ClaimCreate, ClaimDelete, ClaimGet, ClaimUpdate};
use crate::commands::{ClaimMessages, RenewClaim};
use crate::error::ApiError;
use crate::state::Core;

pub async fn create(
    State(app): State<Core>,
    Caller(ctx): Caller,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<(Seq, Response), ApiError> {
    let queue = queue_name(path, &ctx)?;
    let limit = Query::parse(raw.as_deref()).int("limit")?;
    let body = read_body(body).await?;
    let (ttl, grace) = match body.is_empty() {
        true => (None, None),
        false => decode::claim_options(&decode::parse_json(&body)?)?,
    };
    let cmd = ClaimMessages::new(queue.clone(), ttl, grace, limit, &app.limits)?;
    let answer = execute(&app, &ctx, ClaimCreate(cmd)).await?;
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

pub async fn get(
    State(app): State<Core>,
    Caller(ctx): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (queue, id) = queue_and_id(path, &ctx)?;
    let action = ClaimGet {
        queue: queue.clone(),
        id,
    };
    let claim = execute(&app, &ctx, action).await?.reply;
    let doc = render::claim(&queue, &claim, app.clock.now(), app.limits.enable_checksum);
    Ok(render::json(StatusCode::OK, &doc))
}

pub async fn update(
    State(app): State<Core>,
    Caller(ctx): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Body,
) -> Result<(Seq, Response), ApiError> {
    let (queue, id) = queue_and_id(path, &ctx)?;
    let body = read_body(body).await?;
    let (ttl, grace) = decode::claim_options(&decode::parse_json(&body)?)?;
    let cmd = RenewClaim::new(queue, &id, ttl, grace, &app.limits)?;
    no_content(&app, &ctx, ClaimUpdate(cmd), None).await
}

pub async fn delete(
    State(app): State<Core>,
    Caller(ctx): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(Seq, Response), ApiError> {
    let (queue, id) = queue_and_id(path, &ctx)?;
    no_content(&app, &ctx, ClaimDelete { queue, id }, None).await
}
