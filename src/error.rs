//! The errors a client can see, as one closed type.
//!
//! Every layer below the transports reports failures as an [`ApiError`], with the status and
//! title Zaqar gives it; each transport renders it in its wire format in exactly one place
//! (`transports::http::error`, `transports::websocket::error`).
//! Variants name *what went wrong*, not status codes. Storage failures arrive as
//! [`StoreError`] and surface as `Unavailable` without leaking internals.

use thiserror::Error;

/// A failure that is reported to the client.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// A parameter, limit or metadata value is out of its allowed range.
    #[error("invalid API request: {0}")]
    InvalidRequest(String),
    /// The body is unparseable, has the wrong document type or a field of the wrong type.
    #[error("invalid request body: {0}")]
    InvalidBody(String),
    /// A queue name (or the project id on a queue route) breaks the naming rules.
    #[error("invalid queue identification: {0}")]
    InvalidQueueName(String),
    /// A required header is absent.
    #[error("missing header value: {0}")]
    MissingHeader(String),
    /// The Client-ID header is not a UUID.
    #[error("wrong UUID value")]
    BadClientId,
    /// No project header was sent.
    #[error("project id missing")]
    ProjectMissing,
    /// The project header was sent but is empty.
    #[error("empty project header")]
    ProjectEmpty,
    /// A body was sent as a form (`application/x-www-form-urlencoded`).
    #[error("invalid content type")]
    FormBody,
    /// A query parameter is not of its declared type (int, bool).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A delete named a claim that does not hold the message (400).
    #[error("unable to delete: {0}")]
    DeleteBadClaim(String),
    /// A flavor could not be created: no pools, or a pool that does not exist (400).
    #[error("unable to create: {0}")]
    CannotCreate(String),
    /// A flavor update named a pool that does not exist (400, Zaqar's title `updatefail`).
    #[error("update failed: {0}")]
    CannotUpdate(String),
    /// A pool still in use cannot be deleted (403).
    #[error("unable to delete: {0}")]
    InUse(String),
    /// A delete of a message under someone's live claim, without that claim id (403).
    #[error("unable to delete: {0}")]
    DeleteClaimed(String),
    /// The resource does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A JSON-patch operation conflicts with the stored state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request's Content-Type is not the one the route requires.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// The Accept header excludes JSON.
    #[error("not acceptable")]
    NotAcceptable,
    /// The policy does not let the caller run this operation.
    #[error("not authorized")]
    Forbidden,
    /// No valid credentials: a missing, garbage, expired or revoked token (401). `realm` is
    /// the identity service's address, for the `WWW-Authenticate` header.
    #[error("unauthenticated: {description}")]
    Unauthenticated {
        description: String,
        realm: Option<String>,
    },
    /// The project named in the request is not the one the credentials belong to (403).
    #[error("project mismatch")]
    ProjectMismatch,
    /// A pre-signed URL's signature, expiry, methods or paths do not cover the request. Zaqar
    /// answers 404 over REST and 403 over WebSocket.
    #[error("signature rejected")]
    SignatureRejected,
    /// The store failed; the client may retry.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A quota of the node (queues per project, messages per queue) would be exceeded; not
    /// a Zaqar error, as Zaqar has no quotas.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
}

impl ApiError {
    /// The status Zaqar answers with, over REST and in a WebSocket response's headers (a
    /// rejected signature excepted: each transport answers it its own way).
    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidRequest(_)
            | ApiError::InvalidBody(_)
            | ApiError::InvalidQueueName(_)
            | ApiError::MissingHeader(_)
            | ApiError::BadClientId
            | ApiError::ProjectMissing
            | ApiError::ProjectEmpty
            | ApiError::FormBody
            | ApiError::InvalidParameter(_)
            | ApiError::DeleteBadClaim(_)
            | ApiError::CannotCreate(_)
            | ApiError::CannotUpdate(_) => 400,
            ApiError::Unauthenticated { .. } => 401,
            ApiError::DeleteClaimed(_)
            | ApiError::InUse(_)
            | ApiError::Forbidden
            | ApiError::ProjectMismatch
            | ApiError::SignatureRejected
            | ApiError::QuotaExceeded(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::NotAcceptable => 406,
            ApiError::Conflict(_) => 409,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Unavailable(_) => 503,
        }
    }

    /// Zaqar's title of the error (REST's; the WebSocket API words one differently).
    pub fn title(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "Invalid API request",
            ApiError::InvalidBody(_) => "Invalid request body",
            ApiError::InvalidQueueName(_) => "Invalid queue identification",
            ApiError::MissingHeader(_) => "Missing header value",
            ApiError::BadClientId => "Wrong UUID value",
            ApiError::ProjectMissing => "Project-Id Missing",
            ApiError::ProjectEmpty => "Empty project header not allowed",
            ApiError::FormBody => "Invalid Content-Type",
            ApiError::InvalidParameter(_) => "Invalid parameter",
            ApiError::DeleteBadClaim(_) | ApiError::DeleteClaimed(_) | ApiError::InUse(_) => {
                "Unable to delete"
            }
            ApiError::CannotCreate(_) => "Unable to create",
            ApiError::CannotUpdate(_) => "updatefail",
            ApiError::NotFound(_) => "Not found",
            ApiError::Conflict(_) => "Resource conflict",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::NotAcceptable => "Media type not acceptable",
            ApiError::Forbidden | ApiError::ProjectMismatch => "Not authorized",
            ApiError::Unauthenticated { .. } => "Unauthorized",
            ApiError::SignatureRejected => "Not authentified",
            ApiError::Unavailable(_) => "Service temporarily unavailable",
            ApiError::QuotaExceeded(_) => "Quota exceeded",
        }
    }

    /// The description the error carries, for the variants that carry one.
    pub fn carried(&self) -> Option<&str> {
        match self {
            ApiError::InvalidRequest(d)
            | ApiError::InvalidBody(d)
            | ApiError::InvalidQueueName(d)
            | ApiError::MissingHeader(d)
            | ApiError::InvalidParameter(d)
            | ApiError::DeleteBadClaim(d)
            | ApiError::DeleteClaimed(d)
            | ApiError::CannotCreate(d)
            | ApiError::CannotUpdate(d)
            | ApiError::InUse(d)
            | ApiError::NotFound(d)
            | ApiError::Conflict(d)
            | ApiError::UnsupportedMediaType(d)
            | ApiError::Unavailable(d)
            | ApiError::QuotaExceeded(d)
            | ApiError::Unauthenticated { description: d, .. } => Some(d),
            _ => None,
        }
    }
}

/// A storage-layer failure (database errors, corrupt rows). Never shown verbatim to clients.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("not supported: {0}")]
    Unsupported(String),
    /// Every connection of a pool stayed busy for the whole wait.
    #[error("no connection came free within {0:?}")]
    Busy(std::time::Duration),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store failure");
        ApiError::Unavailable("The store could not complete the request.".into())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}
