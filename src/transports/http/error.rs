//! The one mapping from [`ApiError`] to HTTP: status code, Zaqar title, JSON body.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self == ApiError::SignatureRejected {
            // Zaqar answers every failed signature check with falcon's bare 404.
            return json_response(StatusCode::NOT_FOUND, json!({"title": "404 Not Found"}));
        }
        let description = match &self {
            ApiError::BadClientId => "Malformed hexadecimal UUID.".into(),
            ApiError::ProjectMissing => "The header X-PROJECT-ID was missing".into(),
            ApiError::ProjectEmpty => "X-PROJECT-ID cannot be an empty string. Specify the right \
                                       header X-PROJECT-ID and retry."
                .into(),
            ApiError::FormBody => {
                "Content-Type application/x-www-form-urlencoded is not supported.".into()
            }
            ApiError::NotAcceptable => "This API only supports responses encoded as JSON.".into(),
            ApiError::Forbidden => "You are not authorized to complete this action.".into(),
            ApiError::ProjectMismatch => {
                "The project in X-Project-ID is not the project of the token.".into()
            }
            ApiError::Unavailable(d) => format!("{d} Please try again in a few seconds."),
            other => other.carried().unwrap_or_default().to_owned(),
        };
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"title": self.title(), "description": description});
        let mut response = json_response(status, body);
        let realm = match &self {
            ApiError::Unauthenticated { realm, .. } => realm.as_deref(),
            _ => None,
        };
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

/// A JSON body with Zaqar's content type.
fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}
