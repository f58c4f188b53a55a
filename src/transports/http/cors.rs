//! Cross-origin requests, as Zaqar configures oslo.middleware's CORS: off unless origins are
//! allowed; preflight requests are answered before authentication; the allowed and exposed
//! headers are Zaqar's defaults, plus the headers a browser client of the v2 API must send
//! (`X-Project-ID`, `Content-Type` and the pre-signed URL headers).

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// `--cors-allowed-origin` and its companions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    /// Origins (`https://console.example.org`), or `*` for any.
    pub allowed_origins: Vec<String>,
    pub allow_credentials: bool,
    /// Seconds a browser may cache a preflight answer.
    pub max_age: Option<u64>,
}

const ALLOW_HEADERS: &[&str] = &[
    "x-auth-token",
    "x-identity-status",
    "x-roles",
    "x-service-catalog",
    "x-user-id",
    "x-tenant-id",
    "x-openstack-request-id",
    "x-trace-info",
    "x-trace-hmac",
    "client-id",
    "x-project-id",
    "content-type",
    "url-signature",
    "url-expires",
    "url-methods",
    "url-paths",
];

const EXPOSE_HEADERS: &[&str] = &[
    "x-auth-token",
    "x-subject-token",
    "x-service-token",
    "x-openstack-request-id",
    "location",
];

impl CorsSettings {
    /// The layer that answers preflights and adds the CORS headers.
    pub fn layer(&self) -> CorsLayer {
        let headers = |names: &[&'static str]| -> Vec<HeaderName> {
            names.iter().map(|n| HeaderName::from_static(n)).collect()
        };
        let origin = match self.allowed_origins.iter().any(|o| o == "*") {
            true if !self.allow_credentials => AllowOrigin::any(),
            // With credentials a browser refuses `*`: echo the request's origin instead.
            true => AllowOrigin::mirror_request(),
            false => AllowOrigin::list(
                self.allowed_origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
            ),
        };
        let mut layer = CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([
                Method::GET,
                Method::PUT,
                Method::POST,
                Method::DELETE,
                Method::PATCH,
                Method::HEAD,
            ])
            .allow_headers(headers(ALLOW_HEADERS))
            .expose_headers(headers(EXPOSE_HEADERS))
            .allow_credentials(self.allow_credentials);
        if let Some(secs) = self.max_age {
            layer = layer.max_age(std::time::Duration::from_secs(secs));
        }
        layer
    }
}
