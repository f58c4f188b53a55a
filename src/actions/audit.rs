//! Audit actions: the project's event feed, and everything the log retains about one
//! message.

use super::{Action, Guard, On};
use crate::error::ApiError;
use crate::events::{Envelope, EventFilter};
use crate::model::{Limits, MessageId, ProjectId, QueueName, Timestamp};

/// Events, and the last pruned log position (0: none pruned).
#[derive(Debug, Clone)]
pub struct Events {
    pub events: Vec<Envelope>,
    pub horizon: i64,
}

/// `event_list`: a page of the project's event feed.
#[derive(Debug, Clone)]
pub struct EventList(pub EventFilter);

impl EventList {
    /// After the `marker` position, optionally one queue, some event types
    /// (comma-separated) and a time range (RFC 3339).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        project: &ProjectId,
        marker: Option<&str>,
        limit: Option<i64>,
        queue: Option<&str>,
        types: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
        limits: &Limits,
    ) -> Result<EventList, ApiError> {
        let after = match marker {
            None => 0,
            Some(m) => m.trim().parse::<i64>().map_err(|_| {
                ApiError::InvalidParameter("The marker must be a log position (integer).".into())
            })?,
        };
        Ok(EventList(EventFilter {
            after,
            limit: limits.event_page(limit)?,
            queue: queue.map(|q| QueueName::new(q, project)).transpose()?,
            kinds: types.map(|t| t.split(',').map(|k| k.trim().to_owned()).collect()),
            since: instant("since", since)?,
            until: instant("until", until)?,
        }))
    }
}

/// An RFC 3339 parameter, if given.
fn instant(name: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(|t| {
            Timestamp::parse_rfc3339(t).ok_or_else(|| {
                ApiError::InvalidParameter(format!(
                    "\"{name}\" must be an RFC 3339 time, e.g. 2026-01-01T09:00:00Z."
                ))
            })
        })
        .transpose()
}

impl Action for EventList {
    type Reply = Events;

    fn guard(&self, _topics: bool) -> Guard {
        Guard::new("events:get_all", "GET", "/v2/events".into())
    }

    async fn run(self, on: &On<'_>) -> Result<Events, ApiError> {
        let store = &on.core.store;
        Ok(Events {
            events: store.list_events(on.project(), &self.0).await?,
            horizon: store.horizon().await?,
        })
    }
}

/// A message's history, oldest first; events up to `horizon` were pruned (0: none).
#[derive(Debug, Clone)]
pub struct History {
    pub id: MessageId,
    pub events: Vec<Envelope>,
    pub horizon: i64,
}

/// `message_history`: everything the log retains about one message.
#[derive(Debug, Clone)]
pub struct MessageHistory {
    pub queue: QueueName,
    pub id: String,
}

impl Action for MessageHistory {
    type Reply = History;

    fn guard(&self, topics: bool) -> Guard {
        let rest = format!("/messages/{}/history", self.id);
        Guard::queue("messages:history", "GET", topics, &self.queue, &rest)
    }

    async fn run(self, on: &On<'_>) -> Result<History, ApiError> {
        let store = &on.store_of(&self.queue).await?;
        let message = MessageId::parse(&self.id);
        let events = match &message {
            Some(m) => store.message_history(on.project(), m).await?,
            None => Vec::new(),
        };
        let horizon = store.horizon().await?;
        if let Some(id) = message.filter(|_| !events.is_empty()) {
            return Ok(History {
                id,
                events,
                horizon,
            });
        }
        let missing = format!(
            "No history of message {} in queue {} for project {}: it never existed",
            self.id,
            self.queue,
            on.project().as_str()
        );
        Err(ApiError::NotFound(match horizon {
            0 => format!("{missing}."),
            _ => format!(
                "{missing}, or all its events are older than the log's retention (events up \
                 to seq {horizon} were pruned)."
            ),
        }))
    }
}
