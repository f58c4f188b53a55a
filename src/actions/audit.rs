//! Audit actions: the project's event feed (over every store the project's queues live in:
//! the node's own, named `default`, and its pools, merged by time), and everything the log
//! retains about one message.

use super::{Action, Guard, On};
use crate::error::ApiError;
use crate::events::{Envelope, EventFilter};
use crate::model::{Limits, MessageId, ProjectId, QueueName, Timestamp};

/// Events, and the last pruned log position (0: none pruned).
#[derive(Debug, Clone)]
pub struct Events {
    pub events: Vec<Envelope>,
    /// The pool of each event, when the node has pools (`None`: its own store).
    pub pools: Vec<Option<String>>,
    pub horizon: i64,
    /// The marker of the next page: the last position read in each store.
    pub next: String,
    /// Whether the feed spans pools (each event then names its pool).
    pub pooled: bool,
}

/// The name of the node's own store in a feed's marker.
pub const HOME_POOL: &str = "default";

/// Where a feed resumes in each store: the last position read, by pool name (`default`:
/// the node's own store). Written `120` (the node's own store only) or
/// `default:120,fast:98`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedMarker(std::collections::BTreeMap<String, i64>);

impl FeedMarker {
    /// Parses a marker; pool names cannot hold `:` or `,`.
    pub fn parse(raw: &str) -> Result<FeedMarker, ApiError> {
        let bad = || {
            ApiError::InvalidParameter(
                "The marker must be a log position (integer), or POOL:POSITION pairs \
                 separated by commas."
                    .into(),
            )
        };
        let mut marker = FeedMarker::default();
        for part in raw.trim().split(',').filter(|p| !p.is_empty()) {
            let (pool, seq) = part.split_once(':').unwrap_or((HOME_POOL, part));
            let seq = seq.trim().parse::<i64>().map_err(|_| bad())?;
            marker.0.insert(pool.trim().to_owned(), seq);
        }
        Ok(marker)
    }

    /// The last position read in a store.
    pub fn after(&self, pool: Option<&str>) -> i64 {
        self.0.get(pool.unwrap_or(HOME_POOL)).copied().unwrap_or(0)
    }

    /// Records `seq` as the last position read in a store.
    pub fn advance(&mut self, pool: Option<&str>, seq: i64) {
        self.0.insert(pool.unwrap_or(HOME_POOL).to_owned(), seq);
    }

    /// The marker as a query parameter.
    pub fn render(&self) -> String {
        match (self.0.len(), self.0.get(HOME_POOL)) {
            (1, Some(seq)) => seq.to_string(),
            _ => self
                .0
                .iter()
                .map(|(pool, seq)| format!("{pool}:{seq}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// `event_list`: a page of the project's event feed.
#[derive(Debug, Clone)]
pub struct EventList {
    pub filter: EventFilter,
    pub marker: FeedMarker,
}

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
        let marker = marker
            .map(FeedMarker::parse)
            .transpose()?
            .unwrap_or_default();
        Ok(EventList {
            filter: EventFilter {
                after: marker.after(None),
                limit: limits.event_page(limit)?,
                queue: queue.map(|q| QueueName::new(q, project)).transpose()?,
                kinds: types.map(|t| t.split(',').map(|k| k.trim().to_owned()).collect()),
                since: instant("since", since)?,
                until: instant("until", until)?,
            },
            marker,
        })
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

    /// Each store's page after its marker, merged by time (then pool, then position) and
    /// cut to the limit; the next marker resumes each store after what was taken from it.
    async fn run(self, on: &On<'_>) -> Result<Events, ApiError> {
        let stores = on.core.pools.all_named();
        let pooled = stores.len() > 1;
        let mut taken: Vec<(Option<String>, Envelope)> = Vec::new();
        for (pool, store) in stores {
            let filter = EventFilter {
                after: self.marker.after(pool.as_deref()),
                ..self.filter.clone()
            };
            let events = store.list_events(on.project(), &filter).await?;
            taken.extend(events.into_iter().map(|env| (pool.clone(), env)));
        }
        if pooled {
            taken.sort_by(|(p, a), (q, b)| (a.at, p, a.seq).cmp(&(b.at, q, b.seq)));
            taken.truncate(usize::try_from(self.filter.limit).unwrap_or(usize::MAX));
        }
        let mut next = self.marker;
        for (pool, env) in &taken {
            next.advance(pool.as_deref(), env.seq);
        }
        let (pools, events) = taken.into_iter().unzip();
        Ok(Events {
            events,
            pools,
            horizon: on.core.store.horizon().await?,
            next: next.render(),
            pooled,
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
