//! Queue routes: list, create, get, exists (HEAD), JSON-patch update, delete, stats, purge.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::{On, OnQueue, Payload};
use super::query::Query;
use super::{no_content, render, Seq};
use crate::actions::{
    decode, execute, QueueCreate, QueueDelete, QueueExists, QueueGet, QueueGetStats, QueueList,
    QueuePurge, QueueShare, QueueUpdate, Queues,
};
use crate::error::ApiError;

const JSON_PATCH: &str = "application/openstack-messaging-v2.0-json-patch";
const LIST_PARAMS: [&str; 5] = ["marker", "limit", "detailed", "name", "with_count"];

pub async fn list(On(app, ctx): On, q: Query) -> Result<Response, ApiError> {
    let detailed = q.bool("detailed")?.unwrap_or(false);
    let with_count = q.bool("with_count")?.unwrap_or(false);
    let filters: Vec<(String, String)> = q
        .others(&LIST_PARAMS)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let action = QueueList::new(
        q.get("marker").map(str::to_owned),
        q.int("limit")?,
        q.get("name").map(str::to_owned),
        filters.clone(),
        with_count,
        &app.limits,
    )?;
    let Queues { queues, count } = execute(&app, &ctx, action).await?.reply;
    let items: Vec<_> = queues
        .iter()
        .map(|queue| {
            let mut item =
                json!({"name": queue.name.as_str(), "href": render::queue_href(&queue.name)});
            if detailed {
                item["metadata"] = queue.metadata.with_defaults(&app.limits).into();
            }
            item
        })
        .collect();
    let mut params: Vec<(String, String)> = LIST_PARAMS[1..]
        .iter()
        .filter_map(|k| q.get(k).map(|v| ((*k).to_owned(), v.to_owned())))
        .collect();
    params.extend(filters);
    let last = queues.last().map_or("", |q| q.name.as_str());
    let mut doc = json!({
        "queues": items,
        "links": render::links(!queues.is_empty(), "/v2/queues", &params, last),
    });
    if let Some(n) = count {
        doc["count"] = n.into();
    }
    Ok(render::json(StatusCode::OK, &doc))
}

pub async fn create(
    OnQueue(app, ctx, queue): OnQueue,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    app.limits.metadata_size(body.len())?;
    let metadata = match decode::optional_json(&body)? {
        None => Default::default(),
        Some(doc) => decode::metadata(&doc, &app.limits)?,
    };
    let location = render::queue_href(&queue);
    let answer = execute(&app, &ctx, QueueCreate { queue, metadata }).await?;
    let status = match answer.reply {
        true => StatusCode::CREATED,
        false => StatusCode::NO_CONTENT,
    };
    Ok((Seq(answer.seq), render::empty(status, Some(&location))))
}

pub async fn get(OnQueue(app, ctx, queue): OnQueue) -> Result<Response, ApiError> {
    let metadata = execute(&app, &ctx, QueueGet { queue }).await?.reply;
    let doc = metadata.with_defaults(&app.limits);
    Ok(render::json(StatusCode::OK, &doc))
}

/// `HEAD /v2/queues/{queue}`: 204 if the queue exists, else 404 (what clients' `exists()` needs).
pub async fn exists(OnQueue(app, ctx, queue): OnQueue) -> Result<Response, ApiError> {
    match execute(&app, &ctx, QueueExists { queue }).await?.reply {
        true => Ok(StatusCode::NO_CONTENT.into_response()),
        false => Ok(StatusCode::NOT_FOUND.into_response()),
    }
}

pub async fn update(
    OnQueue(app, ctx, queue): OnQueue,
    headers: HeaderMap,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some(JSON_PATCH) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Accepted media type for PATCH: {JSON_PATCH}."
        )));
    }
    app.limits.metadata_size(body.len())?;
    let ops = decode::patch(&decode::parse_json(&body)?)?;
    let answer = execute(&app, &ctx, QueueUpdate { queue, ops }).await?;
    let doc = answer.reply.with_defaults(&app.limits);
    Ok((Seq(answer.seq), render::json(StatusCode::OK, &doc)))
}

pub async fn delete(OnQueue(app, ctx, queue): OnQueue) -> Result<(Seq, Response), ApiError> {
    no_content(&app, &ctx, QueueDelete { queue }, None).await
}

pub async fn stats(OnQueue(app, ctx, queue): OnQueue) -> Result<Response, ApiError> {
    let action = QueueGetStats {
        queue: queue.clone(),
    };
    let stats = execute(&app, &ctx, action).await?.reply.stats;
    let doc = render::stats(&queue, &stats, app.clock.now());
    Ok(render::json(StatusCode::OK, &doc))
}

pub async fn purge(
    OnQueue(app, ctx, queue): OnQueue,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let doc = decode::optional_json(&body)?;
    let (messages, subscriptions) = decode::purge_targets(doc.as_ref())?;
    let action = QueuePurge {
        queue,
        messages,
        subscriptions,
    };
    no_content(&app, &ctx, action, None).await
}

/// `POST /v2/queues/{queue}/share`: a pre-signed URL (reference §2.4.8).
pub async fn share(
    OnQueue(app, ctx, queue): OnQueue,
    Payload(body): Payload,
) -> Result<Response, ApiError> {
    let doc = decode::parse_json(&body)?;
    let serde_json::Value::Object(doc) = doc else {
        return Err(ApiError::InvalidBody(
            "The share document must be a JSON object.".into(),
        ));
    };
    let action = QueueShare::new(queue, &doc, app.clock.now())?;
    let url = execute(&app, &ctx, action).await?.reply;
    Ok(render::json(StatusCode::OK, &json!(url)))
}
