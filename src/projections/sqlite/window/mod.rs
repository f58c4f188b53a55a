//! The rebuild's fold: the rules of [`super::fold`], applied to a window of events in memory
//! and written to the tables once per window. A message posted and deleted within one window
//! never touches the `messages` table (its history row is written as soon as it is deleted),
//! each table is written by multi-row statements (`write_out.rs`), and the history rows go
//! in key order. Replay and verify use it; the writer keeps the per-event fold, whose
//! changes must be visible after each batch. Tests replay the writer's log through this
//! fold and compare every table with the writer's.
//!
//! Rows the window has not seen are read from the tables on first use (by id, or by claim
//! for the events that concern a claim's messages), after which the window's version wins.
//! Events about whole queues and dead-lettering are rare: the window is written out first
//! and they are folded by the per-event fold.

mod write_out;

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::error::StoreError;
use crate::events::{ClaimRenewed, Envelope, Event, MessagesClaimed, MessagesPosted};
use crate::model::{ClaimId, ClientId, MessageId, ProjectId, QueueName, Timestamp};

use super::{fold, history};
use write_out::insert_history;

/// Rows per multi-row statement (at most 16 parameters a row, under SQLite's limit).
const ROWS_PER_STATEMENT: usize = 500;

/// Messages the window may hold, live, before it must be written out.
const MAX_LIVE_MESSAGES: usize = 100_000;

/// Rows written out at once above which they are freed on a thread of their own.
const DISCARD_ELSEWHERE: usize = 4_096;

/// Entries of any kind (messages, claims, history rows) a window holds by default before
/// it is written out.
pub const DEFAULT_ENTRIES: usize = 1_000_000;

/// A message id as the window keys it: the 128 bits of a UUID in canonical text form (no
/// allocation, cheap to hash and sort, in the same order as the text), or else the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Uuid(u128),
    Text(Box<str>),
}

impl Key {
    fn of(id: &str) -> Key {
        let canonical = id.len() == 36 && !id.bytes().any(|b| b.is_ascii_uppercase());
        match uuid::Uuid::try_parse(id) {
            Ok(uuid) if canonical => Key::Uuid(uuid.as_u128()),
            _ => Key::Text(id.into()),
        }
    }

    /// Calls `f` with the id's text.
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            Key::Uuid(bits) => {
                let mut buf = uuid::Uuid::encode_buffer();
                f(uuid::Uuid::from_u128(*bits)
                    .hyphenated()
                    .encode_lower(&mut buf))
            }
            Key::Text(text) => f(text),
        }
    }
}

/// A message row.
#[derive(Debug)]
struct Message {
    queue: Arc<(ProjectId, QueueName)>,
    marker: i64,
    /// The row's own body, if it has one (see [`super::bodies`]).
    body: Option<String>,
    /// The posting event's position and the message's index in it, while `body` is `None`.
    post: Option<(i64, i64)>,
    ttl: i64,
    created_at: i64,
    expires_at: i64,
    delay_until: i64,
    /// The poster's client id (the table's empty text for none).
    client_id: ClientId,
    checksum: Option<String>,
    claim_id: Option<Arc<ClaimId>>,
    claim_expires: Option<i64>,
    claim_count: i64,
}

/// What the window knows of one message.
#[derive(Debug)]
struct MessageSlot {
    /// The current row; `None` once deleted (or if it never existed).
    row: Option<Box<Message>>,
    /// Whether the table may hold a row for this id (as of the last write-out).
    stored: bool,
    /// Whether a stored row differs from the table.
    dirty: bool,
    /// The window's events that concern the message.
    history: History,
}

impl MessageSlot {
    fn new(row: Option<Box<Message>>, stored: bool) -> Self {
        MessageSlot {
            row,
            stored,
            dirty: false,
            history: History::default(),
        }
    }
}

/// Positions of a message's events gathered in the window, ascending (most messages have
/// three: posted, claimed, deleted).
#[derive(Debug, Default)]
struct History(SmallVec<[i64; 3]>);

impl History {
    /// Adds `seq` unless it is already the last (an event that names a message twice);
    /// whether it was added.
    fn push(&mut self, seq: i64) -> bool {
        if self.0.last() == Some(&seq) {
            return false;
        }
        self.0.push(seq);
        true
    }
}

/// A claim row.
#[derive(Debug, Clone)]
struct Claim {
    project: ProjectId,
    queue: QueueName,
    ttl: i64,
    grace: i64,
    updated_at: i64,
    expires_at: i64,
}

/// What the window knows of one claim.
#[derive(Debug)]
struct ClaimSlot {
    row: Option<Claim>,
    stored: bool,
    dirty: bool,
    /// Every message that may hold the claim, once the table's were read in; the window's
    /// rows decide which still do.
    members: Option<Vec<Key>>,
}

/// Read models being rebuilt, a window of events at a time.
pub struct Window<'c> {
    conn: &'c Connection,
    messages: FxHashMap<Key, MessageSlot>,
    claims: FxHashMap<Arc<ClaimId>, ClaimSlot>,
    /// The next marker each queue must give at least.
    markers: FxHashMap<Arc<(ProjectId, QueueName)>, i64>,
    /// History entries gathered since the last write-out.
    history: usize,
    /// The histories of messages posted and deleted within the window: final, so they are
    /// written while the window is still filling, a statement's worth at a time.
    finished: Vec<(Key, History)>,
    live: usize,
    max_entries: usize,
}

impl<'c> Window<'c> {
    /// A window over the read models of `conn`, which must be inside a transaction whenever
    /// events are applied or the window is written out, full at `max_entries` entries.
    pub fn new(conn: &'c Connection, max_entries: usize) -> Self {
        Window {
            conn,
            messages: FxHashMap::default(),
            claims: FxHashMap::default(),
            markers: FxHashMap::default(),
            history: 0,
            finished: Vec::with_capacity(ROWS_PER_STATEMENT),
            live: 0,
            max_entries,
        }
    }

    /// Whether the window has grown large enough to be written out.
    pub fn is_full(&self) -> bool {
        self.live >= MAX_LIVE_MESSAGES
            || self.messages.len() + self.claims.len() + self.history >= self.max_entries
    }

    /// Folds one event into the window.
    pub fn apply(&mut self, env: Envelope) -> Result<(), StoreError> {
        let seq = env.seq;
        match env.event {
            Event::MessagesPosted(e) => {
                self.post(env.project, env.queue, env.client_id, env.at, e, seq)?
            }
            Event::MessagesDeleted(e) => self.delete(&e.ids, seq)?,
            Event::MessagesPopped(e) => self.delete(&e.ids, seq)?,
            Event::MessagesExpired(e) => self.delete(&e.ids, seq)?,
            Event::MessagesClaimed(e) => self.claim(env.project, env.queue, env.at, e, seq)?,
            Event::ClaimRenewed(e) => self.renew(&e, env.at, seq)?,
            Event::ClaimReleased(e) => self.end_claim(&e.claim_id, seq)?,
            Event::ClaimExpired(e) => self.end_claim(&e.claim_id, seq)?,
            Event::NotificationDelivered(e) => {
                for id in e.message_ids() {
                    self.mention(Some(id), seq)?;
                }
            }
            Event::NotificationFailed(e) => self.mention(e.message_id.as_ref(), seq)?,
            Event::NotificationAbandoned(e) => self.mention(e.message_id.as_ref(), seq)?,
            Event::SubscriptionConfirmationRequested(_) => {}
            // Neither touches what the window holds.
            Event::QueueMetadataUpdated(_)
            | Event::SubscriptionCreated(_)
            | Event::SubscriptionUpdated(_)
            | Event::SubscriptionConfirmed(_)
            | Event::SubscriptionDeleted(_)
            | Event::SubscriptionsPurged(_)
            | Event::SubscriptionsExpired(_) => fold::apply(self.conn, &env)?,
            Event::QueueCreated(_)
            | Event::QueueDeleted(_)
            | Event::QueuePurged(_)
            | Event::MessageDeadLettered(_) => {
                self.write_out()?;
                fold::apply(self.conn, &env)?;
            }
        }
        Ok(())
    }

    fn post(
        &mut self,
        project: ProjectId,
        queue: QueueName,
        client: Option<ClientId>,
        at: Timestamp,
        e: MessagesPosted,
        seq: i64,
    ) -> Result<(), StoreError> {
        let client = client.unwrap_or_else(|| ClientId::from_stored(String::new()));
        let queue = self.queue(project, queue);
        if let Some(last) = e.messages.last() {
            let next = self.markers.entry(queue.clone()).or_insert(0);
            *next = (*next).max(last.marker + 1);
        }
        for (index, m) in (0..).zip(e.messages) {
            let key = Key::of(m.id.as_str());
            let row = Message {
                queue: queue.clone(),
                marker: m.marker,
                body: None,
                post: Some((seq, index)),
                ttl: m.ttl,
                created_at: at.0,
                expires_at: m.expires_at.0,
                delay_until: m.delay_until.0,
                client_id: client.clone(),
                checksum: m.checksum,
                claim_id: None,
                claim_expires: None,
                claim_count: 0,
            };
            let mut slot = MessageSlot::new(Some(Box::new(row)), false);
            slot.history.push(seq);
            self.history += 1;
            if self.messages.insert(key, slot).is_some() {
                return Err(StoreError::Corrupt(format!(
                    "message {} posted twice (seq {seq})",
                    m.id
                )));
            }
            self.live += 1;
        }
        Ok(())
    }

    fn delete(&mut self, ids: &[MessageId], seq: i64) -> Result<(), StoreError> {
        for id in ids {
            let key = Key::of(id.as_str());
            // Deleting by id needs no read: the write-out deletes whatever is there.
            let slot = self
                .messages
                .entry(key.clone())
                .or_insert_with(|| MessageSlot::new(None, true));
            let posted_here = slot.row.take().is_some() && !slot.stored;
            if slot.history.push(seq) {
                self.history += 1;
            }
            if posted_here {
                // Never in the table and now gone: only its history remains to be written.
                // Should a later event name it, a new slot appends to the row written here.
                self.live -= 1;
                let slot = self.messages.remove(&key).expect("just updated");
                self.history -= slot.history.0.len();
                self.finished.push((key, slot.history));
                if self.finished.len() == ROWS_PER_STATEMENT {
                    self.write_finished()?;
                }
            }
        }
        Ok(())
    }

    /// Writes the histories of the messages that left the window for good.
    fn write_finished(&mut self) -> Result<(), StoreError> {
        self.finished.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let rows: Vec<(Key, &[i64])> = self
            .finished
            .iter()
            .map(|(key, history)| (key.clone(), &history.0[..]))
            .collect();
        insert_history(self.conn, &rows)?;
        self.finished.clear();
        Ok(())
    }

    fn claim(
        &mut self,
        project: ProjectId,
        queue: QueueName,
        at: Timestamp,
        e: MessagesClaimed,
        seq: i64,
    ) -> Result<(), StoreError> {
        let claim_id = Arc::new(e.claim_id);
        let mut members = Vec::with_capacity(e.messages.len());
        for m in &e.messages {
            let key = Key::of(m.id.as_str());
            if let Some(row) = self.message(&key)? {
                row.claim_id = Some(claim_id.clone());
                row.claim_expires = Some(e.expires_at.0);
                row.claim_count = m.claim_count;
                row.ttl = m.ttl;
                row.expires_at = m.expires_at.0;
            }
            self.record(&key, seq);
            members.push(key);
        }
        let row = Claim {
            project,
            queue,
            ttl: e.ttl,
            grace: e.grace,
            updated_at: at.0,
            expires_at: e.expires_at.0,
        };
        // A new claim id: no stored message can hold it yet.
        let stored = self.claims.get(&claim_id).is_some_and(|c| c.stored);
        self.claims.insert(
            claim_id,
            ClaimSlot {
                row: Some(row),
                stored,
                dirty: stored,
                members: Some(members),
            },
        );
        Ok(())
    }

    fn renew(&mut self, e: &ClaimRenewed, at: Timestamp, seq: i64) -> Result<(), StoreError> {
        let members = self.holding(&e.claim_id)?;
        for key in members {
            if let Some(row) = self.message(&key)? {
                row.claim_expires = Some(e.expires_at.0);
            }
            self.record(&key, seq);
        }
        for m in &e.extended {
            if let Some(row) = self.message(&Key::of(m.id.as_str()))? {
                row.ttl = m.ttl;
                row.expires_at = m.expires_at.0;
            }
        }
        let slot = self.claim_slot(&e.claim_id)?;
        if let Some(claim) = slot.row.as_mut() {
            claim.ttl = e.ttl;
            claim.grace = e.grace;
            claim.updated_at = at.0;
            claim.expires_at = e.expires_at.0;
            slot.dirty = true;
        }
        Ok(())
    }

    /// A claim released or expired: its messages are free again and the claim row goes.
    fn end_claim(&mut self, claim_id: &ClaimId, seq: i64) -> Result<(), StoreError> {
        for key in self.holding(claim_id)? {
            if let Some(row) = self.message(&key)? {
                row.claim_id = None;
                row.claim_expires = None;
            }
            self.record(&key, seq);
        }
        // `holding` read the claim's slot in; the write-out deletes a stored row.
        self.claim_slot(claim_id)?.row = None;
        Ok(())
    }

    /// Indexes event `seq` against a message that it names without changing it (a
    /// notification about it), whether or not the message still exists.
    fn mention(&mut self, id: Option<&MessageId>, seq: i64) -> Result<(), StoreError> {
        let Some(id) = id else { return Ok(()) };
        let key = Key::of(id.as_str());
        self.message(&key)?;
        self.record(&key, seq);
        Ok(())
    }

    /// Indexes event `seq` against a message the window has a slot for.
    fn record(&mut self, key: &Key, seq: i64) {
        let slot = self.messages.get_mut(key).expect("read in by `message`");
        if slot.history.push(seq) {
            self.history += 1;
        }
    }

    /// The current row of a message, read from the table on first use, and marked changed.
    fn message(&mut self, key: &Key) -> Result<Option<&mut Message>, StoreError> {
        if !self.messages.contains_key(key) {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
            ))?;
            let row =
                key.with_text(|id| stmt.query_row([id], |r| self::message_row(r, 0)).optional())?;
            let row = row.map(|r| self.stored_message(r));
            let stored = row.is_some();
            self.messages
                .insert(key.clone(), MessageSlot::new(row, stored));
        }
        let slot = self.messages.get_mut(key).expect("just ensured");
        slot.dirty = slot.stored && slot.row.is_some();
        Ok(slot.row.as_deref_mut())
    }

    /// A message row read from the table, as the window holds it.
    fn stored_message(&mut self, r: StoredMessage) -> Box<Message> {
        let queue = self.queue(r.project, r.queue);
        Box::new(Message {
            queue,
            marker: r.marker,
            body: r.body,
            post: r.post_seq.zip(r.post_index),
            ttl: r.ttl,
            created_at: r.created_at,
            expires_at: r.expires_at,
            delay_until: r.delay_until,
            client_id: ClientId::from_stored(r.client_id),
            checksum: r.checksum,
            claim_id: r.claim_id.map(|c| Arc::new(ClaimId::from_stored(c))),
            claim_expires: r.claim_expires,
            claim_count: r.claim_count,
        })
    }

    /// The shared name of a queue.
    fn queue(&mut self, project: ProjectId, queue: QueueName) -> Arc<(ProjectId, QueueName)> {
        let name = (project, queue);
        match self.markers.get_key_value(&name) {
            Some((shared, _)) => shared.clone(),
            None => Arc::new(name),
        }
    }

    /// The messages holding a claim now, in id order.
    fn holding(&mut self, claim_id: &ClaimId) -> Result<Vec<Key>, StoreError> {
        let loaded = self
            .claims
            .get(claim_id)
            .is_some_and(|c| c.members.is_some());
        if !loaded {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT id, {MESSAGE_COLUMNS} FROM messages WHERE claim_id = ?1"
            ))?;
            let rows = stmt
                .query_map([claim_id.as_str()], |r| {
                    Ok((Key::of(&r.get::<_, String>(0)?), message_row(r, 1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            drop(stmt);
            let mut members = Vec::new();
            for (key, row) in rows {
                members.push(key.clone());
                // The window's version of a row wins over the table's.
                if !self.messages.contains_key(&key) {
                    let row = self.stored_message(row);
                    self.messages.insert(key, MessageSlot::new(Some(row), true));
                }
            }
            let slot = self.claim_slot(claim_id)?;
            let known = slot.members.get_or_insert_with(Vec::new);
            known.extend(members);
        }
        let mut holding: Vec<Key> = self.claims[claim_id]
            .members
            .iter()
            .flatten()
            .filter(|id| {
                self.messages
                    .get(*id)
                    .and_then(|s| s.row.as_ref())
                    .is_some_and(|row| row.claim_id.as_deref() == Some(claim_id))
            })
            .cloned()
            .collect();
        holding.sort();
        holding.dedup();
        Ok(holding)
    }

    /// The window's slot of a claim, read from the table on first use.
    fn claim_slot(&mut self, claim_id: &ClaimId) -> Result<&mut ClaimSlot, StoreError> {
        if !self.claims.contains_key(claim_id) {
            let row = self
                .conn
                .prepare_cached(
                    "SELECT project, queue, ttl, grace, updated_at, expires_at
                     FROM claims WHERE id = ?1",
                )?
                .query_row([claim_id.as_str()], |r| {
                    Ok(Claim {
                        project: ProjectId::from_stored(r.get(0)?),
                        queue: QueueName::from_stored(r.get(1)?),
                        ttl: r.get(2)?,
                        grace: r.get(3)?,
                        updated_at: r.get(4)?,
                        expires_at: r.get(5)?,
                    })
                })
                .optional()?;
            let stored = row.is_some();
            self.claims.insert(
                Arc::new(claim_id.clone()),
                ClaimSlot {
                    row,
                    stored,
                    dirty: false,
                    members: None,
                },
            );
        }
        Ok(self.claims.get_mut(claim_id).expect("just ensured"))
    }
}

/// The columns of a message row that `message_row` reads, in order.
const MESSAGE_COLUMNS: &str = "project, queue, marker, body, ttl, created_at, expires_at, \
     delay_until, client_id, checksum, claim_id, claim_expires, claim_count, post_seq, post_index";

/// A message row as read from the table.
struct StoredMessage {
    project: ProjectId,
    queue: QueueName,
    marker: i64,
    body: Option<String>,
    ttl: i64,
    created_at: i64,
    expires_at: i64,
    delay_until: i64,
    client_id: String,
    checksum: Option<String>,
    claim_id: Option<String>,
    claim_expires: Option<i64>,
    claim_count: i64,
    post_seq: Option<i64>,
    post_index: Option<i64>,
}

fn message_row(r: &rusqlite::Row, at: usize) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        project: ProjectId::from_stored(r.get(at)?),
        queue: QueueName::from_stored(r.get(at + 1)?),
        marker: r.get(at + 2)?,
        body: r.get(at + 3)?,
        ttl: r.get(at + 4)?,
        created_at: r.get(at + 5)?,
        expires_at: r.get(at + 6)?,
        delay_until: r.get(at + 7)?,
        client_id: r.get(at + 8)?,
        checksum: r.get(at + 9)?,
        claim_id: r.get(at + 10)?,
        claim_expires: r.get(at + 11)?,
        claim_count: r.get(at + 12)?,
        post_seq: r.get(at + 13)?,
        post_index: r.get(at + 14)?,
    })
}

#[cfg(test)]
mod tests;
