//! The one mapping from [`ApiError`] to HTTP: status code, Zaqar title, JSON body.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut realm = None;
        let (status, title, description) = match self {
            ApiError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "Invalid API request", d),
            ApiError::InvalidBody(d) => (StatusCode::BAD_REQUEST, "Invalid request body", d),
            ApiError::InvalidQueueName(d) => {
                (StatusCode::BAD_REQUEST, "Invalid queue identification", d)
            }
            ApiError::MissingHeader(d) => (StatusCode::BAD_REQUEST, "Missing header value", d),
            ApiError::BadClientId => (
                StatusCode::BAD_REQUEST,
                "Wrong UUID value",
                "Malformed hexadecimal UUID.".into(),
            ),
            ApiError::ProjectMissing => (
                StatusCode::BAD_REQUEST,
                "Project-Id Missing",
                "The header X-PROJECT-ID was missing".into(),
            ),
            ApiError::ProjectEmpty => (
                StatusCode::BAD_REQUEST,
                "Empty project header not allowed",
                "X-PROJECT-ID cannot be an empty string. Specify the right header \
                 X-PROJECT-ID and retry."
                    .into(),
            ),
            ApiError::FormBody => (
                StatusCode::BAD_REQUEST,
                "Invalid Content-Type",
                "Content-Type application/x-www-form-urlencoded is not supported.".into(),
            ),
            ApiError::InvalidParameter(d) => (StatusCode::BAD_REQUEST, "Invalid parameter", d),
            ApiError::DeleteBadClaim(d) => (StatusCode::BAD_REQUEST, "Unable to delete", d),
            ApiError::DeleteClaimed(d) => (StatusCode::FORBIDDEN, "Unable to delete", d),
            ApiError::NotFound(d) => (StatusCode::NOT_FOUND, "Not found", d),
            ApiError::Conflict(d) => (StatusCode::CONFLICT, "Resource conflict", d),
            ApiError::UnsupportedMediaType(d) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
                d,
            ),
            ApiError::NotAcceptable => (
                StatusCode::NOT_ACCEPTABLE,
                "Media type not acceptable",
                "This API only supports responses encoded as JSON.".into(),
            ),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not authorized",
                "You are not authorized to complete this action.".into(),
            ),
            ApiError::Unauthenticated {
                description,
                realm: r,
            } => {
                realm = r;
                (StatusCode::UNAUTHORIZED, "Unauthorized", description)
            }
            ApiError::ProjectMismatch => (
                StatusCode::FORBIDDEN,
                "Not authorized",
                "The project in X-Project-ID is not the project of the token.".into(),
            ),
            // Zaqar answers every failed signature check with falcon's bare 404.
            ApiError::SignatureRejected => {
                let body = json!({"title": "404 Not Found"}).to_string();
                let mut response = (StatusCode::NOT_FOUND, body).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=UTF-8"),
                );
                return response;
            }
            ApiError::Unavailable(d) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Service temporarily unavailable",
                format!("{d} Please try again in a few seconds."),
            ),
        };
        let body = json!({"title": title, "description": description}).to_string();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        if let Some(value) =
            realm.and_then(|r| HeaderValue::from_str(&format!("Keystone uri=\"{r}\"")).ok())
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
