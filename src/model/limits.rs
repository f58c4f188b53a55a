//! Zaqar's configurable limits (reference §3.1) and the range checks that use them.
//! Every check returns Zaqar's wording, so clients see familiar messages.

use clap::Args;
use serde::{Deserialize, Serialize};

use super::names::ClientIdPolicy;
use crate::error::ApiError;

/// Minimum message TTL, claim TTL and claim grace (seconds; fixed by Zaqar).
pub const MIN_TTL: i64 = 60;

/// The limits of the API. Each is a flag, a `CAIRN_*` variable and a config-file key.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct Limits {
    /// Message TTL (seconds) when neither the message nor its queue gives one.
    #[arg(long, env = "CAIRN_DEFAULT_MESSAGE_TTL", default_value_t = 3600)]
    pub default_message_ttl: i64,
    /// Default shown for a queue's `_default_message_delay` (seconds).
    #[arg(long, env = "CAIRN_DEFAULT_MESSAGE_DELAY", default_value_t = 0)]
    pub default_message_delay: i64,
    /// Claim TTL (seconds) when a claim gives none.
    #[arg(long, env = "CAIRN_DEFAULT_CLAIM_TTL", default_value_t = 300)]
    pub default_claim_ttl: i64,
    /// Claim grace (seconds) when a claim gives none.
    #[arg(long, env = "CAIRN_DEFAULT_CLAIM_GRACE", default_value_t = 60)]
    pub default_claim_grace: i64,
    /// Subscription TTL (seconds) when a subscription gives none.
    #[arg(long, env = "CAIRN_DEFAULT_SUBSCRIPTION_TTL", default_value_t = 3600)]
    pub default_subscription_ttl: i64,
    /// Largest page of a subscription listing.
    #[arg(long, env = "CAIRN_MAX_SUBSCRIPTIONS_PER_PAGE", default_value_t = 20)]
    pub max_subscriptions_per_page: i64,
    /// Accepted subscriber URI schemes (comma-separated).
    #[arg(
        long,
        env = "CAIRN_SUBSCRIBER_TYPES",
        value_delimiter = ',',
        default_value = "http,https,mailto,trust+http,trust+https"
    )]
    pub subscriber_types: Vec<String>,
    /// Largest page of the event feed (`GET /v2/events`).
    #[arg(long, env = "CAIRN_MAX_EVENTS_PER_PAGE", default_value_t = 100)]
    pub max_events_per_page: i64,
    /// Largest page of a queue listing.
    #[arg(long, env = "CAIRN_MAX_QUEUES_PER_PAGE", default_value_t = 20)]
    pub max_queues_per_page: i64,
    /// Largest page of a message listing, and most ids in one get/delete by ids.
    #[arg(long, env = "CAIRN_MAX_MESSAGES_PER_PAGE", default_value_t = 20)]
    pub max_messages_per_page: i64,
    /// Most messages one claim or pop may take.
    #[arg(
        long,
        env = "CAIRN_MAX_MESSAGES_PER_CLAIM_OR_POP",
        default_value_t = 20
    )]
    pub max_messages_per_claim_or_pop: i64,
    /// Largest queue metadata document (bytes).
    #[arg(long, env = "CAIRN_MAX_QUEUE_METADATA", default_value_t = 65536)]
    pub max_queue_metadata: usize,
    /// Largest message post body (bytes); also the ceiling of `_max_messages_post_size`.
    #[arg(long, env = "CAIRN_MAX_MESSAGES_POST_SIZE", default_value_t = 262144)]
    pub max_messages_post_size: usize,
    /// Longest message TTL (seconds).
    #[arg(long, env = "CAIRN_MAX_MESSAGE_TTL", default_value_t = 1_209_600)]
    pub max_message_ttl: i64,
    /// Longest message delay (seconds).
    #[arg(long, env = "CAIRN_MAX_MESSAGE_DELAY", default_value_t = 900)]
    pub max_message_delay: i64,
    /// Longest claim TTL (seconds).
    #[arg(long, env = "CAIRN_MAX_CLAIM_TTL", default_value_t = 43200)]
    pub max_claim_ttl: i64,
    /// Longest claim grace (seconds).
    #[arg(long, env = "CAIRN_MAX_CLAIM_GRACE", default_value_t = 43200)]
    pub max_claim_grace: i64,
    /// How Client-ID is checked: `strict` (a UUID) or `off` (any string of bounded length).
    #[arg(
        long,
        env = "CAIRN_CLIENT_ID_UUID_SAFE",
        value_enum,
        default_value = "strict"
    )]
    pub client_id_uuid_safe: ClientIdPolicy,
    /// Shortest Client-ID when `client-id-uuid-safe` is `off`.
    #[arg(long, env = "CAIRN_MIN_LENGTH_CLIENT_ID", default_value_t = 10)]
    pub min_length_client_id: usize,
    /// Longest Client-ID when `client-id-uuid-safe` is `off`.
    #[arg(long, env = "CAIRN_MAX_LENGTH_CLIENT_ID", default_value_t = 36)]
    pub max_length_client_id: usize,
    /// Require `claim_ids` next to `ids` when deleting messages in bulk.
    #[arg(
        long,
        env = "CAIRN_MESSAGE_DELETE_WITH_CLAIM_ID",
        default_value_t = false
    )]
    pub message_delete_with_claim_id: bool,
    /// Report an MD5 checksum of each message body, as Zaqar's `enable_checksum` does.
    #[arg(long, env = "CAIRN_ENABLE_CHECKSUM", default_value_t = false)]
    pub enable_checksum: bool,
    /// Notify only subscribers that confirmed their subscription (Zaqar's
    /// `require_confirmation`): each new subscriber first gets a signed confirmation request.
    /// Needs `--signing-key`.
    #[arg(long, env = "CAIRN_REQUIRE_CONFIRMATION", default_value_t = false)]
    #[serde(default)]
    pub require_confirmation: bool,
    /// Exceptions to the guard that keeps notifications away from loopback, private,
    /// link-local, shared and multicast addresses: CIDRs, addresses or host names
    /// (comma-separated), e.g. `127.0.0.1/32,hooks.internal`.
    #[arg(long, env = "CAIRN_NOTIFY_ALLOW_HOSTS", value_delimiter = ',')]
    #[serde(default)]
    pub notify_allow_hosts: Vec<String>,
    /// Most REST requests served at once (long polls included); one more is answered 503
    /// at once rather than queued.
    #[arg(long, env = "CAIRN_MAX_CONCURRENT_REQUESTS", default_value_t = 4096)]
    #[serde(default = "default_concurrent_requests")]
    pub max_concurrent_requests: usize,
    /// Most queues one project may hold (its topics are counted apart, against the same
    /// limit); 0: no limit (as in Zaqar). A queue beyond it, created by PUT or by a first
    /// post, is refused with 403.
    #[arg(long, env = "CAIRN_MAX_QUEUES_PER_PROJECT", default_value_t = 0)]
    #[serde(default)]
    pub max_queues_per_project: i64,
    /// Most unexpired messages one queue may hold; 0: no limit (as in Zaqar). A post that
    /// would go beyond it is refused whole with 403. Messages moved by dead-lettering are
    /// not refused.
    #[arg(long, env = "CAIRN_MAX_MESSAGES_PER_QUEUE", default_value_t = 0)]
    #[serde(default)]
    pub max_messages_per_queue: i64,
}

fn default_concurrent_requests() -> usize {
    4096
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            default_message_ttl: 3600,
            default_message_delay: 0,
            default_claim_ttl: 300,
            default_claim_grace: 60,
            default_subscription_ttl: 3600,
            max_subscriptions_per_page: 20,
            max_events_per_page: 100,
            subscriber_types: ["http", "https", "mailto", "trust+http", "trust+https"]
                .map(String::from)
                .to_vec(),
            max_queues_per_page: 20,
            max_messages_per_page: 20,
            max_messages_per_claim_or_pop: 20,
            max_queue_metadata: 65536,
            max_messages_post_size: 262_144,
            max_message_ttl: 1_209_600,
            max_message_delay: 900,
            max_claim_ttl: 43200,
            max_claim_grace: 43200,
            client_id_uuid_safe: ClientIdPolicy::Strict,
            min_length_client_id: 10,
            max_length_client_id: 36,
            message_delete_with_claim_id: false,
            enable_checksum: false,
            require_confirmation: false,
            notify_allow_hosts: Vec::new(),
            max_concurrent_requests: default_concurrent_requests(),
            max_queues_per_project: 0,
            max_messages_per_queue: 0,
        }
    }
}

impl Limits {
    /// Whether a project holding `existing` queues may create one more.
    pub fn queue_quota(&self, existing: i64) -> Result<(), ApiError> {
        let max = self.max_queues_per_project;
        if max > 0 && existing >= max {
            return Err(ApiError::QuotaExceeded(format!(
                "The project holds {existing} queues; this server allows at most {max}."
            )));
        }
        Ok(())
    }

    /// Whether a queue holding `depth` unexpired messages may take `adding` more.
    pub fn message_quota(&self, depth: i64, adding: usize) -> Result<(), ApiError> {
        let max = self.max_messages_per_queue;
        if max > 0 && depth.saturating_add(adding as i64) > max {
            return Err(ApiError::QuotaExceeded(format!(
                "The queue holds {depth} messages and {adding} more would pass the \
                 {max} this server allows in one queue."
            )));
        }
        Ok(())
    }
}

fn in_range(v: i64, min: i64, max: i64) -> bool {
    (min..=max).contains(&v)
}

/// A number of seconds between `min` and `max`, or Zaqar's error about `what`.
fn seconds(v: i64, min: i64, max: i64, what: &str) -> Result<i64, ApiError> {
    if in_range(v, min, max) {
        Ok(v)
    } else {
        Err(ApiError::InvalidRequest(format!(
            "{what} may not exceed {max} seconds, and must be at least {min} seconds long."
        )))
    }
}

impl Limits {
    /// Page size of a pool or flavor listing (Zaqar's `max_pools_per_page` and
    /// `max_flavors_per_page`: 20).
    pub fn catalogue_page(&self, limit: Option<i64>) -> Result<i64, ApiError> {
        page(limit, 20)
    }

    /// Long polling's `wait` (seconds): none for 0 or absent, at most 20.
    pub fn long_poll(&self, wait: Option<i64>) -> Result<Option<std::time::Duration>, ApiError> {
        match wait {
            None | Some(0) => Ok(None),
            Some(secs) if in_range(secs, 1, 20) => {
                Ok(Some(std::time::Duration::from_secs(secs.unsigned_abs())))
            }
            Some(_) => Err(ApiError::InvalidRequest(
                "The wait must be from 0 to 20 seconds.".into(),
            )),
        }
    }

    /// Page size of a queue listing.
    pub fn queue_page(&self, limit: Option<i64>) -> Result<i64, ApiError> {
        page(limit, self.max_queues_per_page)
    }

    /// Page size of a message listing.
    pub fn message_page(&self, limit: Option<i64>) -> Result<i64, ApiError> {
        page(limit, self.max_messages_per_page)
    }

    /// Page size of a subscription listing.
    pub fn subscription_page(&self, limit: Option<i64>) -> Result<i64, ApiError> {
        page(limit, self.max_subscriptions_per_page)
    }

    /// Page size of the event feed (default 20).
    pub fn event_page(&self, limit: Option<i64>) -> Result<i64, ApiError> {
        let max = self.max_events_per_page;
        match limit {
            None => Ok(20.min(max)),
            Some(n) if in_range(n, 1, max) => Ok(n),
            Some(_) => Err(ApiError::InvalidRequest(format!(
                "Limit must be at least 1 and may not be greater than {max}."
            ))),
        }
    }

    /// Number of messages a claim may take.
    pub fn claim_limit(&self, limit: Option<i64>) -> Result<i64, ApiError> {
        page(limit, self.max_messages_per_claim_or_pop)
    }

    pub fn pop_count(&self, n: i64) -> Result<i64, ApiError> {
        let max = self.max_messages_per_claim_or_pop;
        if in_range(n, 1, max) {
            Ok(n)
        } else {
            Err(ApiError::InvalidRequest(format!(
                "Pop value must be at least 1 and may not be greater than {max}."
            )))
        }
    }

    /// Number of ids in a get or delete by ids.
    pub fn id_count(&self, n: usize) -> Result<(), ApiError> {
        let max = self.max_messages_per_page;
        if in_range(n as i64, 1, max) {
            Ok(())
        } else {
            Err(ApiError::InvalidRequest(format!(
                "ids parameter should have at least 1 and not greater than {max} values."
            )))
        }
    }

    pub fn message_ttl(&self, ttl: i64) -> Result<i64, ApiError> {
        seconds(ttl, MIN_TTL, self.max_message_ttl, "The TTL for a message")
    }

    pub fn message_delay(&self, delay: i64) -> Result<i64, ApiError> {
        seconds(
            delay,
            0,
            self.max_message_delay,
            "The Delay TTL for a message",
        )
    }

    pub fn claim_ttl(&self, ttl: i64) -> Result<i64, ApiError> {
        seconds(ttl, MIN_TTL, self.max_claim_ttl, "The TTL for a claim")
    }

    pub fn claim_grace(&self, grace: i64) -> Result<i64, ApiError> {
        seconds(
            grace,
            MIN_TTL,
            self.max_claim_grace,
            "The grace for a claim",
        )
    }

    /// A message post body of `len` bytes against the global cap and the queue's own cap.
    pub fn post_size(&self, len: usize, queue_cap: Option<usize>) -> Result<(), ApiError> {
        let max = queue_cap.map_or(self.max_messages_post_size, |q| {
            q.min(self.max_messages_post_size)
        });
        if len <= max {
            Ok(())
        } else {
            Err(ApiError::InvalidRequest(format!(
                "Message collection size is too large. Max size {max}"
            )))
        }
    }

    /// A queue metadata document (PUT or PATCH body) of `len` bytes.
    pub fn metadata_size(&self, len: usize) -> Result<(), ApiError> {
        let max = self.max_queue_metadata;
        if len <= max {
            Ok(())
        } else {
            Err(ApiError::InvalidRequest(format!(
                "Queue metadata is too large. Max size: {max}"
            )))
        }
    }
}

fn page(limit: Option<i64>, max: i64) -> Result<i64, ApiError> {
    match limit {
        None => Ok(10.min(max)),
        Some(n) if in_range(n, 1, max) => Ok(n),
        Some(_) => Err(ApiError::InvalidRequest(format!(
            "Limit must be at least 1 and may not be greater than {max}."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_zaqar_defaults() {
        let l = Limits::default();
        assert_eq!(l.queue_page(None), Ok(10));
        assert!(l.queue_page(Some(21)).is_err());
        assert!(l.queue_page(Some(0)).is_err());
        assert!(l.message_ttl(59).is_err());
        assert!(l.message_ttl(1_209_601).is_err());
        assert!(l.claim_ttl(43201).is_err());
        assert!(l.claim_grace(60).is_ok());
        assert!(l.pop_count(21).is_err());
        assert!(l.id_count(0).is_err());
        assert!(l.post_size(262_145, None).is_err());
        assert!(l.post_size(100, Some(99)).is_err());
    }
}
