//! Authentication and authorization, once for every transport.
//!
//! A transport gathers what a request presents ([`Credentials`]: a token, the project
//! header, pre-signed URL headers, and the method and path it asks for) and calls
//! [`Auth::authenticate`], which answers with the [`Principal`] the request acts as, or the
//! error to send. The action then passes [`Auth::authorize`] (the [`policy`]) in
//! `actions::execute`, whichever transport it came from.
//!
//! - [`signed_url`]: Zaqar's pre-signed URLs; a request that carries `URL-Signature` is
//!   judged by its signature alone (an empty or wrong one fails; it never falls through to
//!   another method).
//! - [`keystone`]: token validation against Keystone v3, with a bounded cache; and the
//!   trusts of `trust+` subscribers ([`Auth::create_trust`], [`Auth::trust_token`]).
//! - With `--auth none` the project header is trusted, as Zaqar's noauth: for development.
//!
//! Identity never comes from headers a client can forge beside its credentials: `X-Roles`,
//! `X-User-Id` and Zaqar's `EXTRA-SPEC` are ignored.

pub mod keystone;
pub mod policy;
pub mod signed_url;

use std::sync::Arc;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::model::{ProjectId, Timestamp};

pub use policy::Policy;

/// How requests are authenticated.
#[derive(Debug)]
pub enum Strategy {
    /// Every request is trusted to name its project (`--auth none`).
    None,
    Keystone(Box<keystone::Keystone>),
}

/// A credential kept for a later call on the holder's behalf; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: &str) -> Secret {
        Secret(text.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// `--auth none`: the project header, trusted.
    Trusted,
    /// A Keystone token, valid until `expires` (kept to create trusts as its holder).
    Token { expires: Timestamp, token: Secret },
    /// A pre-signed URL, valid until `expires`.
    Signed { expires: Timestamp },
}

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub project: ProjectId,
    pub user: Option<String>,
    pub roles: Vec<String>,
    pub via: Via,
}

impl Principal {
    /// A caller of a server without authentication.
    pub fn open(project: ProjectId) -> Principal {
        Principal {
            project,
            user: None,
            roles: Vec::new(),
            via: Via::Trusted,
        }
    }

    /// The holder of a validated token.
    pub fn token(
        project: ProjectId,
        user: String,
        roles: Vec<String>,
        expires: Timestamp,
        token: Secret,
    ) -> Self {
        Principal {
            project,
            user: Some(user),
            roles,
            via: Via::Token { expires, token },
        }
    }

    /// The bearer of a verified pre-signed URL: no roles.
    pub fn signed(project: ProjectId, expires: Timestamp) -> Principal {
        Principal {
            project,
            user: None,
            roles: Vec::new(),
            via: Via::Signed { expires },
        }
    }

    /// Whether the server trusts the caller entirely (`--auth none`): role checks pass, as
    /// anyone could claim any role there anyway. Rules that deny everyone still deny.
    pub fn trusted(&self) -> bool {
        self.via == Via::Trusted
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }

    /// The one rule for a request's project header beside credentials: absent, or naming
    /// the principal's own project.
    pub fn admits(&self, project_header: Option<&str>) -> Result<(), ApiError> {
        match project_header {
            Some(p) if p != self.project.as_str() => Err(ApiError::ProjectMismatch),
            _ => Ok(()),
        }
    }

    /// When the credentials stop being valid, if they do.
    pub fn expires(&self) -> Option<Timestamp> {
        match self.via {
            Via::Trusted => None,
            Via::Token { expires, .. } | Via::Signed { expires } => Some(expires),
        }
    }
}

/// What a request presents.
#[derive(Debug, Clone, Default)]
pub struct Credentials<'a> {
    /// `X-Auth-Token`.
    pub token: Option<&'a str>,
    /// The project header (`X-Project-ID`, or Zaqar's older names), as sent.
    pub project: Option<&'a str>,
    /// Present when the request carries `URL-Signature`, even empty.
    pub signed: Option<signed_url::Presented>,
    /// The REST method and path the request asks for (for a WebSocket action, those of the
    /// REST route with the same effect), which a signature must cover.
    pub method: &'a str,
    pub path: &'a str,
}

/// The server's authentication settings and policy.
#[derive(Debug)]
pub struct Auth {
    pub strategy: Strategy,
    /// Zaqar's `[signed_url] secret_key`.
    signing_key: Option<Vec<u8>>,
    pub policy: Policy,
    metrics: Arc<Metrics>,
}

impl Auth {
    pub fn new(
        strategy: Strategy,
        signing_key: Option<Vec<u8>>,
        policy: Policy,
        metrics: Arc<Metrics>,
    ) -> Auth {
        Auth {
            strategy,
            signing_key,
            policy,
            metrics,
        }
    }

    /// No authentication, default policy, no signing key: for tests and tools.
    pub fn none(metrics: Arc<Metrics>) -> Auth {
        Auth::new(Strategy::None, None, Policy::default(), metrics)
    }

    /// Whether tokens are required.
    pub fn requires_token(&self) -> bool {
        matches!(self.strategy, Strategy::Keystone(_))
    }

    /// Who the request acts as, or why it may not act at all.
    pub async fn authenticate(
        &self,
        creds: &Credentials<'_>,
        now: Timestamp,
    ) -> Result<Principal, ApiError> {
        let result = self.judge(creds, now).await;
        if let Err(e) = &result {
            self.metrics.auth_refused(match e {
                ApiError::SignatureRejected => "signature",
                ApiError::Unauthenticated { .. } => "token",
                ApiError::ProjectMismatch => "project_mismatch",
                ApiError::Unavailable(_) => "identity_unavailable",
                _ => "invalid",
            });
        }
        result
    }

    async fn judge(&self, creds: &Credentials<'_>, now: Timestamp) -> Result<Principal, ApiError> {
        if let Some(presented) = &creds.signed {
            let grant = self
                .signing_key
                .as_deref()
                .and_then(|key| signed_url::verify(key, presented, now))
                .filter(|grant| grant.permits(creds.method, creds.path))
                .ok_or(ApiError::SignatureRejected)?;
            let project = ProjectId::new(Some(&grant.project))?;
            return Ok(Principal::signed(project, grant.expires));
        }
        match &self.strategy {
            Strategy::None => Ok(Principal::open(ProjectId::new(creds.project)?)),
            Strategy::Keystone(keystone) => {
                let token = creds
                    .token
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        keystone.unauthenticated("Authentication required: send X-Auth-Token.")
                    })?;
                let info = keystone.validate(token, now).await?;
                let Some(project) = info.project else {
                    return Err(keystone.unauthenticated("The token is not scoped to a project."));
                };
                let project = ProjectId::new(Some(&project))?;
                let principal = Principal::token(
                    project,
                    info.user,
                    info.roles,
                    info.expires,
                    Secret::new(token),
                );
                principal.admits(creds.project)?;
                Ok(principal)
            }
        }
    }

    /// The Keystone trust a `trust+` subscription created by `who` delivers through, valid
    /// for `ttl` seconds from `now` (`None` without Keystone: such subscribers are then
    /// delivered as plain webhooks).
    pub async fn create_trust(
        &self,
        who: &Principal,
        ttl: i64,
        now: Timestamp,
    ) -> Result<Option<String>, ApiError> {
        let Strategy::Keystone(keystone) = &self.strategy else {
            return Ok(None);
        };
        let (Via::Token { token, .. }, Some(user)) = (&who.via, &who.user) else {
            return Err(ApiError::InvalidRequest(
                "A trust+ subscriber delivers through a Keystone trust, which only the holder \
                 of a token can create: a pre-signed URL cannot."
                    .into(),
            ));
        };
        let trust = keystone
            .create_trust(
                token.expose(),
                user,
                who.project.as_str(),
                &who.roles,
                now.plus_secs(ttl),
            )
            .await?;
        Ok(Some(trust))
    }

    /// A token through `trust_id` for one delivery; the error is the reason the delivery
    /// records.
    pub async fn trust_token(&self, trust_id: &str) -> Result<String, String> {
        match &self.strategy {
            Strategy::None => Err("trusts need Keystone (--auth keystone)".into()),
            Strategy::Keystone(keystone) => keystone.trust_token(trust_id).await,
        }
    }

    /// Whether `who` may run the operation the policy calls `rule`.
    pub fn authorize(&self, rule: &str, who: &Principal) -> Result<(), ApiError> {
        match self.policy.allows(rule, who) {
            true => Ok(()),
            false => {
                self.metrics.auth_refused("policy");
                Err(ApiError::Forbidden)
            }
        }
    }

    /// Signs `paths` for `methods` in `project` until `expires` (`POST …/share`).
    pub fn share(
        &self,
        paths: &[&str],
        methods: &[&str],
        project: &str,
        expires: Timestamp,
    ) -> Result<signed_url::SignedUrl, ApiError> {
        let key = self.signing_key.as_deref().ok_or_else(|| {
            ApiError::InvalidRequest(
                "Pre-signed URLs are not enabled: start Cairn with --signing-key.".into(),
            )
        })?;
        Ok(signed_url::sign(key, paths, methods, project, expires))
    }
}

/// Authentication settings, as configured; [`AuthSettings::build`] makes the [`Auth`].
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// `None`: `--auth none`.
    pub keystone: Option<keystone::KeystoneSettings>,
    pub signing_key: Option<Vec<u8>>,
    pub policy: Policy,
}

impl AuthSettings {
    pub fn build(&self, metrics: Arc<Metrics>) -> Result<Auth, String> {
        let strategy = match &self.keystone {
            None => Strategy::None,
            Some(settings) => {
                let keystone = keystone::Keystone::new(settings.clone(), metrics.clone())?;
                Strategy::Keystone(Box::new(keystone))
            }
        };
        Ok(Auth::new(
            strategy,
            self.signing_key.clone(),
            self.policy.clone(),
            metrics,
        ))
    }
}
