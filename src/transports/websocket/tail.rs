//! The event tail of a connection (`event_subscribe`): the response goes out first, then
//! the matching events after the given position from the log (catch-up), then live ones
//! from the committed-event feed — no gap and no duplicate, because the feed is joined
//! before the log is read and every event at or below the last one sent is skipped. With
//! pools, each store (the node's own, `default`, and each pool open when the tail starts)
//! is tailed so, with a position of its own, and each event names its pool.

use std::time::Duration;

use serde_json::{json, Value};

use super::protocol::{Codec, Rejection};
use super::request::Refusal;
use super::Session;
use crate::actions::{Action, Context, EventList, FeedMarker, HOME_POOL};
use crate::events::{Envelope, EventFilter};

/// An `event_subscribe` tail: every event after its store's position that passes the
/// filter.
pub(super) struct Tail {
    /// The project whose events are tailed.
    pub(super) project: crate::model::ProjectId,
    pub(super) filter: EventFilter,
    /// The last position sent, by store.
    pub(super) marker: FeedMarker,
    /// Whether the node has pools (each event then names its pool).
    pub(super) pooled: bool,
    pub(super) codec: Codec,
    /// Whether events up to the log's head still have to be read from the log.
    pub(super) catching_up: bool,
}

/// How long a catch-up waits for room in a connection's send queue.
const CATCH_UP_PATIENCE: Duration = Duration::from_secs(10);

/// A tailed event as sent to the client; `pool` names its store when the node has pools.
pub(super) fn tail_frame(env: &Envelope, pool: Option<Option<&str>>) -> Value {
    let mut frame = crate::transports::views::event(env);
    frame["Message_Type"] = Value::from("Event");
    if let Some(pool) = pool {
        frame["pool"] = Value::from(pool.unwrap_or(HOME_POOL));
    }
    frame
}

/// Whether a live event passes a tail's filter (the log query applies the same filter).
pub(super) fn matches_filter(filter: &EventFilter, env: &Envelope) -> bool {
    filter.queue.as_ref().is_none_or(|q| *q == env.queue)
        && filter
            .kinds
            .as_ref()
            .is_none_or(|k| k.iter().any(|k| k == env.event.kind()))
}

impl Session {
    /// Starts an event tail: the response goes out first, then the events after `marker`
    /// from the log (catch-up), then live ones, without gaps or duplicates.
    pub(super) fn start_tail(
        &mut self,
        ctx: &Context,
        body: &serde_json::Map<String, Value>,
        codec: Codec,
    ) -> Result<(u16, Value, Option<i64>), Refusal> {
        let text = |name: &str| match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(Rejection::schema()),
        };
        let action = EventList::new(
            &ctx.project,
            text("marker")?.as_deref(),
            None,
            text("queue_name")?.as_deref(),
            text("types")?.as_deref(),
            text("since")?.as_deref(),
            None,
            &self.app.limits,
        )?;
        self.app
            .auth
            .authorize(action.guard(false).rule, &ctx.principal)?;
        let EventList { filter, marker } = action;
        // Listen before reading the logs, so nothing committed in between is missed.
        if self.feed.is_none() {
            self.feed = Some(self.app.store.subscribe());
        }
        let stores = self.app.pools.all_named();
        let pooled = stores.len() > 1;
        for (pool, store) in stores {
            if let Some(pool) = pool.filter(|p| !self.pool_feeds.iter().any(|(f, _)| f == p)) {
                self.pool_feeds.push((pool, store.subscribe()));
            }
        }
        let shown = match pooled {
            true => Value::from(marker.render()),
            false => Value::from(filter.after),
        };
        self.tail = Some(Tail {
            project: ctx.project.clone(),
            filter,
            marker,
            pooled,
            codec,
            catching_up: true,
        });
        Ok((
            200,
            json!({"message": "Subscribed to events.", "marker": shown}),
            None,
        ))
    }

    /// Sends the tail's events from each store's log up to its head; afterwards live events
    /// follow (they wait in the feeds meanwhile).
    pub(super) async fn catch_up(&mut self) -> Result<(), ()> {
        let Some(project) = self.tail.as_ref().map(|t| t.project.clone()) else {
            return Ok(());
        };
        if !self.tail.as_ref().is_some_and(|t| t.catching_up) {
            return Ok(());
        }
        for (pool, store) in self.app.pools.all_named() {
            loop {
                let Some(tail) = self.tail.as_mut() else {
                    return Ok(());
                };
                let mut filter = tail.filter.clone();
                filter.after = tail.marker.after(pool.as_deref());
                filter.limit = 200;
                let (codec, pooled) = (tail.codec, tail.pooled);
                let page = match store.list_events(&project, &filter).await {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::warn!(error = %e, "event tail could not read the log");
                        return Err(());
                    }
                };
                let done = (page.len() as i64) < filter.limit;
                for env in &page {
                    let named = pooled.then_some(pool.as_deref());
                    let frame = codec.encode(&tail_frame(env, named));
                    // A client that stops reading during catch-up is dropped, not waited for.
                    if let Err(e) = self.out.send_timeout(frame, CATCH_UP_PATIENCE).await {
                        tracing::info!(error = %e, "event tail client too slow; closing");
                        return Err(());
                    }
                }
                if let (Some(tail), Some(last)) = (self.tail.as_mut(), page.last()) {
                    tail.marker.advance(pool.as_deref(), last.seq);
                }
                if done {
                    break;
                }
            }
        }
        if let Some(tail) = self.tail.as_mut() {
            tail.catching_up = false;
        }
        Ok(())
    }
}
