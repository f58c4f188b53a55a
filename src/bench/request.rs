//! What the drivers' requests share, whatever the transport: the message document a post
//! sends, what a claim returns, how a request fails, and how long it may take.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// Longest wait for one request (or one connection attempt).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// What a request answers, or why it failed.
pub(crate) type OpResult<T> = Result<T, OpError>;

/// Why a request failed.
#[derive(Debug)]
pub(crate) enum OpError {
    /// The server answered with an unexpected status: nothing happened.
    Refused(u16, String),
    /// No usable answer (connection, timeout, unreadable body): it may have happened.
    Lost(String),
}

impl OpError {
    pub fn encode(e: impl std::fmt::Display) -> OpError {
        OpError::Refused(0, format!("cannot encode the request: {e}"))
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpError::Refused(status, text) => write!(f, "status {status}: {text}"),
            OpError::Lost(text) => write!(f, "{text}"),
        }
    }
}

impl std::error::Error for OpError {}

/// The body of every message: whose run it is, its sequence number, and padding.
#[derive(Debug, Serialize)]
pub(crate) struct Body<'a> {
    pub run: &'a str,
    pub n: u64,
    pub pad: &'a str,
}

/// A message document of a post.
#[derive(Debug, Serialize)]
pub(crate) struct NewMessage<'a> {
    pub ttl: u64,
    pub body: Body<'a>,
}

/// What a consumer claims each time: how many messages, for how long, with what grace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaimSpec {
    pub limit: usize,
    pub ttl: u64,
    pub grace: u64,
}

/// The `messages` list of a listing's or a claim's document (none if it has none).
pub(crate) fn messages_of(doc: Value) -> Vec<Value> {
    match doc {
        Value::Object(mut map) => match map.remove("messages") {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// What a claim returned.
pub(crate) struct Claimed {
    pub claim_id: String,
    pub messages: Vec<Value>,
}
