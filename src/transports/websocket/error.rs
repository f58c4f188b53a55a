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
    let title = match err {
        ApiError::NotAcceptable => "Not acceptable",
        other => other.title(),
    };
    let detail = match err {
        ApiError::BadClientId => "Malformed hexadecimal UUID.".to_owned(),
        ApiError::ProjectMissing => "The header X-Project-ID was missing.".to_owned(),
        ApiError::ProjectMismatch => {
            "The project in X-Project-ID is not the project of the token.".to_owned()
        }
        other => other
            .carried()
            .map_or_else(|| other.to_string(), str::to_owned),
    };
    (
        err.status(),
        json!({"error": detail, "exception": format!("{title}: {detail}")}),
    )
}
