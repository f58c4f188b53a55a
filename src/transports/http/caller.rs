//! The REST request pipeline that runs before every `/v2` handler (reference §1.2), in
//! Zaqar's order: a pre-signed URL or a token is checked first ([`crate::auth`]), form
//! bodies are refused, `Accept` must admit JSON, then `Client-ID` and (without
//! authentication) the project header are validated into an
//! [`actions::Context`](crate::actions::Context).

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap};

use std::sync::Arc;

use crate::actions::Context;
use crate::auth::signed_url::Presented;
use crate::auth::Credentials;
use crate::error::ApiError;
use crate::model::ClientId;
use crate::state::Core;

/// The request id given to this request by the middleware.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The validated identity of a `/v2` request.
#[derive(Debug, Clone)]
pub struct Caller(pub Context);

impl FromRequestParts<Core> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Core) -> Result<Self, ApiError> {
        let headers = &parts.headers;
        let creds = Credentials {
            token: header_str(headers, "x-auth-token"),
            project: header_str(headers, "x-project-id")
                .or_else(|| header_str(headers, "x-tenant-id"))
                .or_else(|| header_str(headers, "x-tenant")),
            signed: signed_headers(headers),
            method: parts.method.as_str(),
            path: parts.uri.path(),
        };
        let now = app.clock.now();
        // Signatures and tokens are judged before anything else, as in Zaqar; without
        // authentication the project header is validated after Client-ID.
        let early = match creds.signed.is_some() || app.auth.requires_token() {
            true => Some(app.auth.authenticate(&creds, now).await?),
            false => None,
        };
        if has_body(headers) && is_form(headers) {
            return Err(ApiError::FormBody);
        }
        if !accepts_json(headers) {
            return Err(ApiError::NotAcceptable);
        }
        let limits = &app.limits;
        let client_id = ClientId::new(
            header_str(headers, "client-id"),
            limits.client_id_uuid_safe,
            limits.min_length_client_id,
            limits.max_length_client_id,
        )?;
        let principal = match early {
            Some(principal) => principal,
            None => app.auth.authenticate(&creds, now).await?,
        };
        // Topic routes act on the project's topic namespace (see `topics`).
        let project = match parts.uri.path().starts_with(super::topics::PREFIX) {
            true => principal.project.topics(),
            false => principal.project.clone(),
        };
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        Ok(Caller(Context {
            project,
            principal: Arc::new(principal),
            client_id,
            request_id,
        }))
    }
}

/// The pre-signed URL headers, when `URL-Signature` is present (even empty). Methods and
/// paths are comma-separated, as Zaqar reads them.
fn signed_headers(headers: &HeaderMap) -> Option<Presented> {
    // A signature that is not text is a failed signature, not an absent one.
    let signature = headers.get("url-signature")?.to_str().unwrap_or("");
    let list = |name: &str| -> Vec<String> {
        header_str(headers, name)
            .unwrap_or("")
            .split(',')
            .map(str::to_owned)
            .collect()
    };
    Some(Presented {
        signature: signature.to_owned(),
        expires: header_str(headers, "url-expires").map(str::to_owned),
        methods: list("url-methods"),
        paths: list("url-paths"),
        project: header_str(headers, "x-project-id").map(str::to_owned),
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A body is present when it has a non-zero length or is chunked.
fn has_body(headers: &HeaderMap) -> bool {
    let length = header_str(headers, "content-length").and_then(|l| l.trim().parse::<u64>().ok());
    length.is_some_and(|l| l > 0) || headers.contains_key(header::TRANSFER_ENCODING)
}

fn is_form(headers: &HeaderMap) -> bool {
    header_str(headers, "content-type").is_some_and(|ct| {
        ct.split(';').next().is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    })
}

/// Whether the `Accept` header (absent = anything) admits `application/json`.
fn accepts_json(headers: &HeaderMap) -> bool {
    let Some(accept) = header_str(headers, "accept") else {
        return true;
    };
    if accept.trim().is_empty() {
        return true;
    }
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let zero_q = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !zero_q && matches!(media.as_str(), "application/json" | "application/*" | "*/*")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn accept_rules() {
        assert!(accepts_json(&HeaderMap::new()));
        assert!(accepts_json(&with("accept", "application/json")));
        assert!(accepts_json(&with("accept", "text/html, */*;q=0.8")));
        assert!(!accepts_json(&with("accept", "application/xml")));
        assert!(!accepts_json(&with("accept", "application/json;q=0")));
    }

    #[test]
    fn zero_length_is_no_body() {
        assert!(!has_body(&with("content-length", "0")));
        assert!(has_body(&with("content-length", "2")));
    }
}
