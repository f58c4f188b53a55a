//! What a `/v2` handler is given, extracted before it runs and in Zaqar's order: the caller
//! (authenticated and validated by [`Caller`]), then the path's queue name (validated
//! against the caller's project) and id, then the query string and the body.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;

use super::caller::Caller;
use super::query::Query;
use super::MAX_BODY;
use crate::actions::Context;
use crate::error::ApiError;
use crate::model::QueueName;
use crate::state::Core;

/// A request: the node's core and who asks.
pub struct On(pub Core, pub Context);

/// A request on one queue (`…/queues/{queue}…`): also the queue.
pub struct OnQueue(pub Core, pub Context, pub QueueName);

/// A request on one resource of a queue (`…/queues/{queue}/…/{id}`): also the id, as given.
pub struct OnItem(pub Core, pub Context, pub QueueName, pub String);

/// A request's body, possibly empty, read up to the largest size read at all.
pub struct Payload(pub Bytes);

impl FromRequestParts<Core> for On {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Core) -> Result<Self, ApiError> {
        let Caller(ctx) = Caller::from_request_parts(parts, app).await?;
        Ok(On(app.clone(), ctx))
    }
}

impl FromRequestParts<Core> for OnQueue {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Core) -> Result<Self, ApiError> {
        let On(app, ctx) = On::from_request_parts(parts, app).await?;
        let Path(queue) = Path::<String>::from_request_parts(parts, &app)
            .await
            .map_err(|e| ApiError::InvalidQueueName(e.body_text()))?;
        let queue = QueueName::new(&queue, &ctx.project)?;
        Ok(OnQueue(app, ctx, queue))
    }
}

impl FromRequestParts<Core> for OnItem {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Core) -> Result<Self, ApiError> {
        let On(app, ctx) = On::from_request_parts(parts, app).await?;
        let Path((queue, id)) = Path::<(String, String)>::from_request_parts(parts, &app)
            .await
            .map_err(|e| ApiError::InvalidQueueName(e.body_text()))?;
        let queue = QueueName::new(&queue, &ctx.project)?;
        Ok(OnItem(app, ctx, queue, id))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Query::parse(parts.uri.query()))
    }
}

impl FromRequest<Core> for Payload {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &Core) -> Result<Self, ApiError> {
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                ApiError::InvalidRequest(format!("Request body is too large. Max size {MAX_BODY}"))
            })?;
        Ok(Payload(body))
    }
}
