//! Message routes: post, list / get by ids, bulk delete / pop, get one, delete one.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::{OnItem, OnQueue, Payload};
use super::query::Query;
use super::{no_content, render, Seq};
use crate::actions::{
    decode, execute, BulkDeleted, MessageDelete, MessageDeleteMany, MessageGet, MessageGetMany,
    MessageList, MessagePost,
};
use crate::commands::{DeleteMessage, PostMessages};
use crate::error::ApiError;
use crate::transports::views;

pub async fn post(
    OnQueue(app, ctx, queue): OnQueue,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let messages = decode::messages(&decode::parse_json(&body)?, &app.limits)?;
    let cmd = PostMessages::new(queue.clone(), messages, body.len(), &app.limits)?;
    let answer = execute(&app, &ctx, MessagePost(cmd)).await?;
    let (seq, ids) = (Seq(answer.seq), answer.reply);
    let hrefs: Vec<String> = ids
        .iter()
        .map(|id| render::message_href(&queue, id.as_str()))
        .collect();
    let joined: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    let location = format!("/v2/queues/{queue}/messages?ids={}", joined.join(","));
    Ok((
        seq,
        render::created(&json!({ "resources": hrefs }), &location),
    ))
}

/// `GET …/messages`: by ids when `ids` is given, else a listing page.
pub async fn list(OnQueue(app, ctx, queue): OnQueue, q: Query) -> Result<Response, ApiError> {
    let now = app.clock.now();
    let checksum = app.limits.enable_checksum;
    if let Some(ids) = q.list("ids") {
        let action = MessageGetMany::new(queue.clone(), ids, &app.limits)?;
        let messages = execute(&app, &ctx, action).await?.reply;
        let items: Vec<_> = messages
            .iter()
            .map(|m| render::message(&queue, m, now, checksum))
            .collect();
        return Ok(render::json(StatusCode::OK, &json!({"messages": items})));
    }
    let echo = q.bool("echo")?;
    let include_claimed = q.bool("include_claimed")?;
    let include_delayed = q.bool("include_delayed")?;
    let limit = q.int("limit")?;
    let mut list = MessageList::new(
        queue.clone(),
        q.get("marker").map(str::to_owned),
        limit,
        echo.unwrap_or(false),
        include_claimed.unwrap_or(false),
        include_delayed.unwrap_or(false),
        &app.limits,
    )?;
    list.wait = app.limits.long_poll(q.int("wait")?)?;
    let page = execute(&app, &ctx, list).await?.reply;
    let now = app.clock.now();
    let (messages, delayed) = (page.messages, page.include_delayed);
    let items: Vec<_> = messages
        .iter()
        .map(|m| render::message(&queue, m, now, checksum))
        .collect();
    let mut params = Vec::new();
    if let Some(l) = limit {
        params.push(("limit".to_owned(), l.to_string()));
    }
    for (name, value) in [("echo", echo), ("include_claimed", include_claimed)] {
        if let Some(v) = value {
            params.push((name.to_owned(), v.to_string()));
        }
    }
    if include_delayed.is_some() || delayed {
        params.push(("include_delayed".to_owned(), delayed.to_string()));
    }
    let last = messages
        .last()
        .map(|m| m.marker.to_string())
        .unwrap_or_default();
    let path = format!("/v2/queues/{queue}/messages");
    let doc = json!({
        "messages": items,
        "links": render::links(!messages.is_empty(), &path, &params, &last),
    });
    Ok(render::json(StatusCode::OK, &doc))
}

/// `DELETE …/messages`: bulk delete by `ids`, or `pop`.
pub async fn delete_many(
    OnQueue(app, ctx, queue): OnQueue,
    q: Query,
) -> Result<(Seq, Response), ApiError> {
    let now = app.clock.now();
    let action = MessageDeleteMany::new(
        queue,
        q.list("ids"),
        q.list("claim_ids"),
        q.int("pop")?,
        &app.limits,
    )?;
    let answer = execute(&app, &ctx, action).await?;
    let seq = Seq(answer.seq);
    match answer.reply {
        BulkDeleted::Popped(messages) => {
            let items: Vec<_> = messages.iter().map(|m| views::popped(m, now)).collect();
            Ok((
                seq,
                render::json(StatusCode::OK, &json!({"messages": items})),
            ))
        }
        BulkDeleted::Deleted => Ok((seq, StatusCode::NO_CONTENT.into_response())),
    }
}

pub async fn get(OnItem(app, ctx, queue, id): OnItem) -> Result<Response, ApiError> {
    let action = MessageGet {
        queue: queue.clone(),
        id,
    };
    let m = execute(&app, &ctx, action).await?.reply;
    let doc = render::message(&queue, &m, app.clock.now(), app.limits.enable_checksum);
    Ok(render::json(StatusCode::OK, &doc))
}

pub async fn delete(
    OnItem(app, ctx, queue, id): OnItem,
    q: Query,
) -> Result<(Seq, Response), ApiError> {
    let cmd = DeleteMessage::new(queue, &id, q.get("claim_id"))?;
    no_content(&app, &ctx, MessageDelete(cmd), None).await
}
