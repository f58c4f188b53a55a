//! Keystone v3 token validation, as keystonemiddleware does it for Zaqar: Cairn holds a
//! service token of its own (from a user and password, or an application credential) and
//! asks `GET /v3/auth/tokens` about each client token. Valid tokens are cached, bounded in
//! number, until they expire or for `cache_ttl` (so a revoked token stops working within
//! that time), whichever comes first. Keystone unreachable is a 503, never an open door.
//!
//! It also makes and uses the trusts of `trust+http(s)` subscribers, as Zaqar does: at
//! creation, a trust from the caller (with the caller's token and roles, expiring with the
//! subscription) to the trustee user; at each delivery, a token through that trust.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::model::Timestamp;

/// How Cairn authenticates itself to Keystone.
#[derive(Debug, Clone)]
pub enum ServiceCredentials {
    Password {
        user: String,
        password: String,
        project: String,
        /// Domain (name) of the user and of the project.
        user_domain: String,
        project_domain: String,
    },
    ApplicationCredential {
        id: String,
        secret: String,
    },
}

/// The user trusts are made out to, who gets a token through them at each delivery.
#[derive(Clone)]
pub struct Trustee {
    pub user: String,
    pub password: String,
    /// Domain (name) of the user.
    pub domain: String,
}

impl std::fmt::Debug for Trustee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trustee")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// Where Keystone is and how to use it.
#[derive(Debug, Clone)]
pub struct KeystoneSettings {
    /// Keystone's address, e.g. `http://127.0.0.1:5000` (a trailing `/v3` is allowed).
    pub url: String,
    pub credentials: ServiceCredentials,
    /// The trustee of `trust+` subscriptions (`None`: the service user, when it has a
    /// password).
    pub trustee: Option<Trustee>,
    /// Most tokens cached at once.
    pub cache_size: usize,
    /// Longest a validation is trusted without asking Keystone again.
    pub cache_ttl: Duration,
    /// Longest one request to Keystone may take.
    pub timeout: Duration,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The project the token is scoped to (`None`: unscoped or domain-scoped).
    pub project: Option<String>,
    pub user: String,
    pub roles: Vec<String>,
    pub expires: Timestamp,
}

/// A Keystone client with its token cache.
#[derive(Debug)]
pub struct Keystone {
    settings: KeystoneSettings,
    /// `url` without a trailing `/` or `/v3`.
    base: String,
    http: reqwest::Client,
    service: tokio::sync::Mutex<Option<(String, Timestamp)>>,
    /// The trustee's user id, learnt from its first token.
    trustee_id: tokio::sync::OnceCell<String>,
    cache: Mutex<HashMap<[u8; 32], (TokenInfo, Timestamp)>>,
    metrics: Arc<Metrics>,
}

/// A service token is renewed this long before it expires.
const SERVICE_TOKEN_MARGIN_MS: i64 = 60_000;

impl Keystone {
    pub fn new(settings: KeystoneSettings, metrics: Arc<Metrics>) -> Result<Keystone, String> {
        let base = settings
            .url
            .trim_end_matches('/')
            .trim_end_matches("/v3")
            .to_owned();
        url::Url::parse(&base).map_err(|e| format!("--keystone-url {base:?}: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the Keystone client: {e}"))?;
        Ok(Keystone {
            settings,
            base,
            http,
            service: tokio::sync::Mutex::new(None),
            trustee_id: tokio::sync::OnceCell::new(),
            cache: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// Keystone's address, as clients are told in `WWW-Authenticate`.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// A 401 naming Keystone as the place to get a token.
    pub fn unauthenticated(&self, description: &str) -> ApiError {
        ApiError::Unauthenticated {
            description: description.to_owned(),
            realm: Some(self.base.clone()),
        }
    }

    /// Validates a client token.
    pub async fn validate(&self, token: &str, now: Timestamp) -> Result<TokenInfo, ApiError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(info) = self.cached(&key, now) {
            self.metrics.token_lookup(true);
            return Ok(info);
        }
        self.metrics.token_lookup(false);
        let mut renewed = false;
        loop {
            let service = self.service_token(renewed, now).await?;
            let response = self
                .http
                .get(format!("{}/v3/auth/tokens", self.base))
                .header("X-Auth-Token", service)
                .header("X-Subject-Token", token)
                .send()
                .await
                .map_err(|e| unreachable(&e))?;
            match response.status().as_u16() {
                200 => {
                    let body: TokenBody = response.json().await.map_err(|e| {
                        tracing::error!(error = %e, "Keystone sent a token body Cairn cannot read");
                        ApiError::Unavailable(
                            "The identity service gave an unreadable answer.".into(),
                        )
                    })?;
                    let info = body.token.info()?;
                    if info.expires.0 <= now.0 {
                        return Err(self.unauthenticated("The token has expired."));
                    }
                    self.remember(key, &info, now);
                    return Ok(info);
                }
                // Cairn's own token was refused (expired or revoked): renew it once.
                401 if !renewed => renewed = true,
                401 | 403 => {
                    tracing::error!(
                        status = response.status().as_u16(),
                        "Keystone refuses Cairn's service credentials"
                    );
                    return Err(ApiError::Unavailable(
                        "The identity service refuses this server's credentials.".into(),
                    ));
                }
                404 | 400 => {
                    return Err(self.unauthenticated(
                        "The token is not valid: it is malformed, expired or revoked.",
                    ))
                }
                status => {
                    tracing::warn!(status, "Keystone failed a token validation");
                    return Err(ApiError::Unavailable(
                        "The identity service could not validate the token.".into(),
                    ));
                }
            }
        }
    }

    fn cached(&self, key: &[u8; 32], now: Timestamp) -> Option<TokenInfo> {
        let cache = self.cache.lock().ok()?;
        let (info, until) = cache.get(key)?;
        (until.0 > now.0).then(|| info.clone())
    }

    fn remember(&self, key: [u8; 32], info: &TokenInfo, now: Timestamp) {
        let ttl = i64::try_from(self.settings.cache_ttl.as_millis()).unwrap_or(i64::MAX);
        let until = Timestamp(info.expires.0.min(now.0.saturating_add(ttl)));
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        let capacity = self.settings.cache_size.max(1);
        if cache.len() >= capacity {
            cache.retain(|_, (_, until)| until.0 > now.0);
        }
        if cache.len() >= capacity {
            // Still full of live entries: drop a quarter (any quarter; they are re-validated
            // on their next use).
            let drop: Vec<[u8; 32]> = cache.keys().take(capacity / 4 + 1).copied().collect();
            for k in drop {
                cache.remove(&k);
            }
        }
        cache.insert(key, (info.clone(), until));
    }

    /// Cairn's own token, issued again when `renew` or near its expiry.
    async fn service_token(&self, renew: bool, now: Timestamp) -> Result<String, ApiError> {
        let mut held = self.service.lock().await;
        if let Some((token, expires)) = held.as_ref() {
            if !renew && expires.0 - SERVICE_TOKEN_MARGIN_MS > now.0 {
                return Ok(token.clone());
            }
        }
        let auth = match &self.settings.credentials {
            ServiceCredentials::Password {
                user,
                password,
                project,
                user_domain,
                project_domain,
            } => json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": user, "password": password, "domain": {"name": user_domain}}}},
                "scope": {"project": {"name": project, "domain": {"name": project_domain}}},
            }}),
            ServiceCredentials::ApplicationCredential { id, secret } => json!({"auth": {
                "identity": {"methods": ["application_credential"],
                             "application_credential": {"id": id, "secret": secret}},
            }}),
        };
        let (token, fields) = self.issue(&auth).await.map_err(|refusal| {
            if let Refusal::Refused(status, _) = &refusal {
                tracing::error!(status, "Keystone refused Cairn's service credentials");
            }
            refusal.into_service_error()
        })?;
        let expires = parse_time(&fields.expires_at)?;
        *held = Some((token.clone(), expires));
        Ok(token)
    }

    /// Asks Keystone for a token (`POST /v3/auth/tokens`): the token and what it says.
    async fn issue(&self, auth: &serde_json::Value) -> Result<(String, TokenFields), Refusal> {
        let response = self
            .http
            .post(format!("{}/v3/auth/tokens", self.base))
            .json(auth)
            .send()
            .await
            .map_err(|e| Refusal::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        if status != 201 {
            let text = response.text().await.unwrap_or_default();
            return Err(Refusal::Refused(status, keystone_message(&text)));
        }
        let token = response
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| Refusal::Unreadable("no X-Subject-Token".into()))?;
        let body: TokenBody = response
            .json()
            .await
            .map_err(|e| Refusal::Unreadable(e.to_string()))?;
        Ok((token, body.token))
    }

    /// The trustee's name, password and domain: `--keystone-trustee-*`, else the service
    /// user's own.
    fn trustee(&self) -> Option<(&str, &str, &str)> {
        match (&self.settings.trustee, &self.settings.credentials) {
            (Some(t), _) => Some((&t.user, &t.password, &t.domain)),
            (
                None,
                ServiceCredentials::Password {
                    user,
                    password,
                    user_domain,
                    ..
                },
            ) => Some((user, password, user_domain)),
            (None, ServiceCredentials::ApplicationCredential { .. }) => None,
        }
    }

    /// The trustee's password authentication, scoped as `scope` says.
    fn trustee_auth(&self, scope: Option<serde_json::Value>) -> Result<serde_json::Value, String> {
        let (user, password, domain) = self.trustee().ok_or(
            "no trustee: set --keystone-trustee-user and --keystone-trustee-password (an \
             application credential cannot receive trusts)",
        )?;
        let mut auth = json!({"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": user, "password": password, "domain": {"name": domain}}}}}});
        if let Some(scope) = scope {
            auth["auth"]["scope"] = scope;
        }
        Ok(auth)
    }

    /// Creates a trust from the caller (`trustor`, with its own token) to the trustee, in
    /// `project`, with the caller's `roles`, impersonating the caller, until `expires`.
    /// Answers the trust's id. Keystone's refusal is the client's error (400), with
    /// Keystone's reason.
    pub async fn create_trust(
        &self,
        trustor_token: &str,
        trustor: &str,
        project: &str,
        roles: &[String],
        expires: Timestamp,
    ) -> Result<String, ApiError> {
        let trustee = self
            .trustee_id
            .get_or_try_init(|| async {
                let auth = self.trustee_auth(None).map_err(ApiError::Unavailable)?;
                let (_, fields) = self.issue(&auth).await.map_err(|refusal| {
                    tracing::error!(reason = %refusal, "Keystone refused the trustee's credentials");
                    refusal.into_service_error()
                })?;
                fields
                    .user
                    .and_then(|u| u.id)
                    .ok_or_else(|| ApiError::Unavailable("The identity service named no user.".into()))
            })
            .await?
            .clone();
        let roles: Vec<_> = roles.iter().map(|r| json!({"name": r})).collect();
        let body = json!({"trust": {
            "trustor_user_id": trustor,
            "trustee_user_id": trustee,
            "project_id": project,
            "impersonation": true,
            "roles": roles,
            "expires_at": expires.to_rfc3339_millis(),
        }});
        let response = self
            .http
            .post(format!("{}/v3/OS-TRUST/trusts", self.base))
            .header("X-Auth-Token", trustor_token)
            .json(&body)
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match status {
            201 => serde_json::from_str::<TrustBody>(&text)
                .map(|b| b.trust.id)
                .map_err(|_| {
                    ApiError::Unavailable("The identity service gave an unreadable trust.".into())
                }),
            400..=499 => Err(ApiError::InvalidRequest(format!(
                "The identity service refused the trust this trust+ subscriber needs: {}",
                keystone_message(&text)
            ))),
            _ => {
                tracing::warn!(status, "Keystone failed to create a trust");
                Err(ApiError::Unavailable(
                    "The identity service could not create the trust.".into(),
                ))
            }
        }
    }

    /// A token through the trust `trust_id`, for one delivery; the error is the reason the
    /// delivery records.
    pub async fn trust_token(&self, trust_id: &str) -> Result<String, String> {
        let scope = json!({"OS-TRUST:trust": {"id": trust_id}});
        let auth = self.trustee_auth(Some(scope))?;
        match self.issue(&auth).await {
            Ok((token, _)) => Ok(token),
            Err(refusal) => Err(format!("no token through trust {trust_id}: {refusal}")),
        }
    }
}

/// Why Keystone gave no token.
#[derive(Debug)]
enum Refusal {
    Unreachable(String),
    /// Keystone's status and message.
    Refused(u16, String),
    Unreadable(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unreachable(e) => write!(f, "the identity service is unreachable ({e})"),
            Refusal::Refused(status, message) => {
                write!(f, "the identity service answered {status}: {message}")
            }
            Refusal::Unreadable(e) => {
                write!(f, "the identity service gave an unreadable answer ({e})")
            }
        }
    }
}

impl Refusal {
    /// The error a client sees when Cairn's own credentials (service or trustee) fail.
    fn into_service_error(self) -> ApiError {
        match self {
            Refusal::Unreachable(e) => {
                tracing::warn!(error = %e, "Keystone is unreachable");
                ApiError::Unavailable("The identity service (Keystone) is unreachable.".into())
            }
            Refusal::Refused(..) => ApiError::Unavailable(
                "The identity service refuses this server's credentials.".into(),
            ),
            Refusal::Unreadable(e) => {
                tracing::error!(error = %e, "Keystone sent a token Cairn cannot read");
                ApiError::Unavailable("The identity service gave an unreadable answer.".into())
            }
        }
    }
}

/// Keystone's own words from an error body (`{"error": {"message": …}}`), else the text.
fn keystone_message(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

#[derive(Debug, Deserialize)]
struct TrustBody {
    trust: TrustFields,
}

#[derive(Debug, Deserialize)]
struct TrustFields {
    id: String,
}

fn unreachable(e: &reqwest::Error) -> ApiError {
    tracing::warn!(error = %e, "Keystone is unreachable");
    ApiError::Unavailable("The identity service (Keystone) is unreachable.".into())
}

fn parse_time(text: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339(text).ok_or_else(|| {
        ApiError::Unavailable("The identity service sent an unreadable expiry.".into())
    })
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    token: TokenFields,
}

#[derive(Debug, Deserialize)]
struct TokenFields {
    expires_at: String,
    #[serde(default)]
    project: Option<Named>,
    #[serde(default)]
    user: Option<Named>,
    #[serde(default)]
    roles: Vec<Named>,
}

#[derive(Debug, Deserialize)]
struct Named {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl TokenFields {
    fn info(self) -> Result<TokenInfo, ApiError> {
        Ok(TokenInfo {
            expires: parse_time(&self.expires_at)?,
            project: self.project.and_then(|p| p.id),
            user: self.user.and_then(|u| u.id).unwrap_or_default(),
            roles: self.roles.into_iter().filter_map(|r| r.name).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bodies_parse() {
        let body: TokenBody = serde_json::from_value(json!({"token": {
            "expires_at": "2030-01-01T00:00:00.000000Z",
            "project": {"id": "p1", "name": "alpha"},
            "user": {"id": "u1", "name": "alice"},
            "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}],
            "methods": ["password"]
        }}))
        .unwrap();
        let info = body.token.info().unwrap();
        assert_eq!(info.project.as_deref(), Some("p1"));
        assert_eq!(info.user, "u1");
        assert_eq!(info.roles, ["member", "reader"]);
        assert_eq!(info.expires, Timestamp(1_893_456_000_000));
    }
}
