//! The rebuild's fold: the fold's rules ([`crate::projections::fold`]), with steps that
//! keep a window of rows in memory and write them to the tables once per window. A message
//! posted and deleted within one window never touches the `messages` table (its history row
//! is written as soon as it is deleted), each table is written by multi-row statements
//! (`write_out.rs`), and the history rows go in key order. Replay and verify use it; the
//! writer keeps the per-event steps (`super::fold`), whose changes must be visible after
//! each batch. Tests replay the writer's log through this fold and compare every table with
//! the writer's.
//!
//! Rows the window has not seen are read from the tables when a step first needs them (by
//! id, or by claim for the steps that concern a claim's messages), after which the window's
//! version wins; indexing an event against a message needs no read. The steps about whole
//! queues and dead-lettering are rare: the window is written out first and the SQL steps
//! take them.

mod steps;
mod write_out;

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::error::StoreError;
use crate::events::Envelope;
use crate::model::{ClaimId, ClientId, ProjectId, QueueName};
use crate::projections::sqlite::fold::apply_now;
use crate::projections::sqlite::rows::ROWS_PER_STATEMENT;

use crate::projections::history::sqlite as history;
use write_out::insert_history;

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
#[derive(Debug, Default)]
struct MessageSlot {
    /// The current row; `None` once deleted (or if it never existed).
    row: Option<Box<Message>>,
    /// Whether `row` and `stored` are known: a slot made to index an event is read from the
    /// table only when a step needs its row.
    known: bool,
    /// Whether the table may hold a row for this id (as of the last write-out).
    stored: bool,
    /// Whether a stored row differs from the table.
    dirty: bool,
    /// The window's events that concern the message.
    history: History,
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

/// What the window knows of a queue.
#[derive(Debug)]
struct QueueSlot {
    /// Its name, shared by the window's rows of the queue.
    name: Arc<(ProjectId, QueueName)>,
    /// The next marker the queue must give at least (0: none set in the window).
    next_marker: i64,
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
    /// The queues the window has seen, by project.
    queues: FxHashMap<ProjectId, FxHashMap<QueueName, QueueSlot>>,
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
            queues: FxHashMap::default(),
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
    pub fn apply(&mut self, env: &Envelope) -> Result<(), StoreError> {
        apply_now(self, env)
    }

    /// Adds position `seq` to a message's history in the window.
    fn record(&mut self, key: Key, seq: i64) {
        let slot = self.messages.entry(key).or_default();
        if slot.history.push(seq) {
            self.history += 1;
        }
    }

    /// Takes a message out of the window whose row was never in the table and is now gone:
    /// only its history remains to be written. Should a later event name it, a new slot
    /// appends to the row written here.
    fn finish(&mut self, key: Key) -> Result<(), StoreError> {
        self.live -= 1;
        let slot = self.messages.remove(&key).expect("in the window");
        self.history -= slot.history.0.len();
        self.finished.push((key, slot.history));
        if self.finished.len() == ROWS_PER_STATEMENT {
            self.write_finished()?;
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

    /// The current row of a message, read from the table on first use, and marked changed.
    fn message(&mut self, key: &Key) -> Result<Option<&mut Message>, StoreError> {
        if !self.messages.get(key).is_some_and(|slot| slot.known) {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
            ))?;
            let row =
                key.with_text(|id| stmt.query_row([id], |r| self::message_row(r, 0)).optional())?;
            let row = row.map(|r| self.stored_message(r));
            self.know(key.clone(), row);
        }
        let slot = self.messages.get_mut(key).expect("just ensured");
        slot.dirty = slot.stored && slot.row.is_some();
        Ok(slot.row.as_deref_mut())
    }

    /// Gives a message's slot the row read from the table, unless the window knows better.
    fn know(&mut self, key: Key, row: Option<Box<Message>>) {
        let slot = self.messages.entry(key).or_default();
        if !slot.known {
            slot.known = true;
            slot.stored = row.is_some();
            slot.row = row;
        }
    }

    /// A message row read from the table, as the window holds it.
    fn stored_message(&mut self, r: StoredMessage) -> Box<Message> {
        let queue = self.queue(&r.project, &r.queue).name.clone();
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

    /// What the window knows of a queue (looked up without copying its name).
    fn queue(&mut self, project: &ProjectId, queue: &QueueName) -> &mut QueueSlot {
        if !self.queues.contains_key(project) {
            self.queues.insert(project.clone(), FxHashMap::default());
        }
        let of_project = self.queues.get_mut(project).expect("just ensured");
        if !of_project.contains_key(queue) {
            let slot = QueueSlot {
                name: Arc::new((project.clone(), queue.clone())),
                next_marker: 0,
            };
            of_project.insert(queue.clone(), slot);
        }
        of_project.get_mut(queue).expect("just ensured")
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
                let row = self.stored_message(row);
                self.know(key, Some(row));
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
