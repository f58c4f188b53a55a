//! Identity of tenants, clients and queues, with Zaqar's naming rules. The names are shared
//! text: every event and row carries them, and a copy costs no allocation.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Longest accepted project id.
pub const MAX_PROJECT_ID_LEN: usize = 256;
/// Separates a project id from the suffix of its topic namespace (a control character, which
/// project ids may not contain).
const TOPICS: char = '\u{1f}';
/// The end of a topic namespace's id.
const TOPICS_SUFFIX: &str = "\u{1f}topics";
/// Longest accepted queue name.
pub const MAX_QUEUE_NAME_LEN: usize = 64;

/// The tenant every resource is scoped by (`X-Project-ID`). Non-empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProjectId(Arc<str>);

impl ProjectId {
    /// Validates the header value: present and non-empty. Length is checked on queue routes
    /// only (see [`QueueName::new`]), as Zaqar does.
    pub fn new(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw {
            None => Err(ApiError::ProjectMissing),
            Some("") => Err(ApiError::ProjectEmpty),
            Some(s) if s.contains('\0') => Err(ApiError::InvalidRequest(
                "The project id may not contain the NUL character.".into(),
            )),
            Some(s) if s.contains(TOPICS) => Err(ApiError::InvalidRequest(
                "The project id may not contain control characters.".into(),
            )),
            Some(s) => Ok(ProjectId(s.into())),
        }
    }

    /// The namespace of this project's topics (reference §2.7): stored like queues, apart
    /// from them. No client can name it: project ids cannot hold the separator.
    pub fn topics(&self) -> ProjectId {
        match self.is_topics() {
            true => self.clone(),
            false => ProjectId(format!("{}{TOPICS_SUFFIX}", self.0).into()),
        }
    }

    /// Whether this is a project's topic namespace.
    pub fn is_topics(&self) -> bool {
        self.0.ends_with(TOPICS_SUFFIX)
    }

    /// The catalogue's own project, under which pools are recorded: no client can name
    /// it, as project ids cannot hold the separator.
    pub fn catalogue() -> ProjectId {
        ProjectId(format!("{TOPICS}catalogue").into())
    }

    /// The project as its clients name it (without a topic namespace's suffix).
    pub fn public(&self) -> &str {
        self.0.split(TOPICS).next().unwrap_or_default()
    }

    /// A project id read back from storage (validated when written).
    pub fn from_stored(raw: String) -> Self {
        ProjectId(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A queue name: `^[a-zA-Z0-9_.-]{1,64}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueueName(Arc<str>);

impl QueueName {
    /// Validates a queue name within a project (the project id length is checked here too,
    /// because Zaqar reports both as "Invalid queue identification").
    pub fn new(raw: &str, project: &ProjectId) -> Result<Self, ApiError> {
        if !Self::well_formed(raw) {
            return Err(ApiError::InvalidQueueName(format!(
                "Queue names may not be more than {MAX_QUEUE_NAME_LEN} characters long, and may \
                 only contain ASCII letters, digits, underscores, hyphens and periods."
            )));
        }
        if project.public().len() > MAX_PROJECT_ID_LEN {
            return Err(ApiError::InvalidQueueName(format!(
                "Project ids may not be more than {MAX_PROJECT_ID_LEN} characters long."
            )));
        }
        Ok(QueueName(raw.into()))
    }

    /// A name read back from storage or from an event (already validated when written).
    pub fn from_stored(raw: String) -> Self {
        QueueName(raw.into())
    }

    /// The naming rule (shared by pool and flavor names): 1 to 64 ASCII letters, digits,
    /// underscores, hyphens and periods.
    pub fn well_formed(raw: &str) -> bool {
        let valid_chars = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        !raw.is_empty() && raw.len() <= MAX_QUEUE_NAME_LEN && valid_chars
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity of one client instance (`Client-ID`), used for `echo` filtering.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(Arc<str>);

/// How strictly Client-ID is checked (Zaqar's `client_id_uuid_safe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientIdPolicy {
    /// Must parse as a UUID.
    Strict,
    /// Any string within the configured length bounds.
    Off,
}

impl ClientId {
    /// Validates the Client-ID header under the configured policy.
    pub fn new(
        raw: Option<&str>,
        policy: ClientIdPolicy,
        min_len: usize,
        max_len: usize,
    ) -> Result<Self, ApiError> {
        let raw = raw.ok_or_else(|| {
            ApiError::MissingHeader("The header \"Client-ID\" is required.".into())
        })?;
        match policy {
            ClientIdPolicy::Strict => uuid::Uuid::try_parse(raw)
                .map(|_| ClientId(raw.into()))
                .map_err(|_| ApiError::BadClientId),
            ClientIdPolicy::Off if raw.contains('\0') => Err(ApiError::MissingHeader(
                "Client ID may not contain the NUL character.".into(),
            )),
            ClientIdPolicy::Off if (min_len..=max_len).contains(&raw.chars().count()) => {
                Ok(ClientId(raw.into()))
            }
            ClientIdPolicy::Off => Err(ApiError::MissingHeader(format!(
                "Client ID must be at least {min_len} and may not be greater than {max_len} \
                 characters long."
            ))),
        }
    }

    /// A client id read back from storage.
    pub fn from_stored(raw: String) -> Self {
        ClientId(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> ProjectId {
        ProjectId::new(Some("p")).unwrap()
    }

    #[test]
    fn queue_names_follow_zaqar_rules() {
        assert!(QueueName::new("a-b_c.9", &project()).is_ok());
        assert!(QueueName::new(&"x".repeat(64), &project()).is_ok());
        assert!(QueueName::new(&"x".repeat(65), &project()).is_err());
        assert!(QueueName::new("", &project()).is_err());
        assert!(QueueName::new("spaces here", &project()).is_err());
        assert!(QueueName::new("non-äscii", &project()).is_err());
    }

    #[test]
    fn long_project_ids_are_rejected_on_queue_routes() {
        let long = ProjectId::new(Some(&"p".repeat(257))).unwrap();
        assert!(QueueName::new("q", &long).is_err());
    }

    #[test]
    fn project_header_rules() {
        assert_eq!(ProjectId::new(None), Err(ApiError::ProjectMissing));
        assert_eq!(ProjectId::new(Some("")), Err(ApiError::ProjectEmpty));
    }

    #[test]
    fn strict_client_ids_must_be_uuids() {
        let strict = |s| ClientId::new(Some(s), ClientIdPolicy::Strict, 10, 36);
        assert!(strict("3381af92-2b9e-11e3-b191-71861300734c").is_ok());
        assert!(strict("3381af922b9e11e3b19171861300734c").is_ok());
        assert_eq!(strict("0xdeadbeef"), Err(ApiError::BadClientId));
        assert!(ClientId::new(None, ClientIdPolicy::Strict, 10, 36).is_err());
    }
}
