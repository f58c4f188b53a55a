//! The one mapping from [`ApiError`] to WebSocket responses: the status in `headers.status`
//! and a body with `error` (what went wrong) and `exception` (Zaqar's title and detail).

use serde_json::{json, Value};

use crate::error::ApiError;

/// Status and body of a failed request.
pub fn status_and_body(err: &ApiError) -> (u16, Value) {
    if *err == ApiError::SignatureRejected {
        // Zaqar's answer to a pre-signed frame that does not verify.
        return (403, json!({"error": "Not authentified."}));
    }
    let (status, title) = match err {
        ApiError::InvalidRequest(_) => (400, "Invalid API request"),
        ApiError::InvalidBody(_) => (400, "Invalid request body"),
        ApiError::InvalidQueueName(_) => (400, "Invalid queue identification"),
        ApiError::MissingHeader(_) => (400, "Missing header value"),
        ApiError::BadClientId => (400, "Wrong UUID value"),
        ApiError::ProjectMissing => (400, "Project-Id Missing"),
        ApiError::ProjectEmpty => (400, "Empty project header not allowed"),
        ApiError::FormBody => (400, "Invalid Content-Type"),
        ApiError::InvalidParameter(_) => (400, "Invalid parameter"),
        ApiError::DeleteBadClaim(_) => (400, "Unable to delete"),
        ApiError::DeleteClaimed(_) => (403, "Unable to delete"),
        ApiError::NotFound(_) => (404, "Not found"),
        ApiError::Conflict(_) => (409, "Resource conflict"),
        ApiError::UnsupportedMediaType(_) => (415, "Unsupported media type"),
        ApiError::NotAcceptable => (406, "Not acceptable"),
        ApiError::Forbidden => (403, "Not authorized"),
        ApiError::Unauthenticated { .. } => (401, "Unauthorized"),
        ApiError::ProjectMismatch => (403, "Not authorized"),
        ApiError::SignatureRejected => (403, "Not authentified"),
        ApiError::Unavailable(_) => (503, "Service temporarily unavailable"),
    };
    let detail = match err {
        ApiError::BadClientId => "Malformed hexadecimal UUID.".to_owned(),
        ApiError::ProjectMissing => "The header X-Project-ID was missing.".to_owned(),
        other => detail(other),
    };
    (
        status,
        json!({"error": detail, "exception": format!("{title}: {detail}")}),
    )
}

fn detail(err: &ApiError) -> String {
    match err {
        ApiError::InvalidRequest(d)
        | ApiError::InvalidBody(d)
        | ApiError::InvalidQueueName(d)
        | ApiError::MissingHeader(d)
        | ApiError::InvalidParameter(d)
        | ApiError::DeleteBadClaim(d)
        | ApiError::DeleteClaimed(d)
        | ApiError::NotFound(d)
        | ApiError::Conflict(d)
        | ApiError::UnsupportedMediaType(d)
        | ApiError::Unavailable(d) => d.clone(),
        ApiError::Unauthenticated { description, .. } => description.clone(),
        ApiError::ProjectMismatch => {
            "The project in X-Project-ID is not the project of the token.".to_owned()
        }
        other => other.to_string(),
    }
}
