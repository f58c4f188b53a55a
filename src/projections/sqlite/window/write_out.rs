//! Writing a window out: its finished histories, its message rows and its claims go to the
//! tables in multi-row statements, the history rows in key order.

use std::sync::Arc;

use rusqlite::Connection;

use super::{history, Key, Window, DISCARD_ELSEWHERE};
use crate::error::StoreError;
use crate::projections::sqlite::rows::insert_rows;

impl Window<'_> {
    /// Writes everything the window holds to the tables and empties it.
    pub fn write_out(&mut self) -> Result<(), StoreError> {
        // Before the window's own rows, which may append to the same messages' rows.
        self.write_finished()?;
        self.write_history()?;
        self.write_messages()?;
        self.write_claims()?;
        let mut advance = self.conn.prepare_cached(
            "UPDATE queues SET next_marker = MAX(next_marker, ?3) WHERE project = ?1 AND name = ?2",
        )?;
        for (project, queues) in self.queues.drain() {
            for (queue, slot) in queues.into_iter().filter(|(_, s)| s.next_marker > 0) {
                advance.execute(rusqlite::params![
                    project.as_str(),
                    queue.as_str(),
                    slot.next_marker
                ])?;
            }
        }
        self.history = 0;
        self.live = 0;
        Ok(())
    }

    /// Adds the window's history entries to the messages' rows, in key order.
    fn write_history(&mut self) -> Result<(), StoreError> {
        // Keys copied next to their entries, so sorting compares without chasing pointers.
        let mut rows: Vec<(Key, &[i64])> = self
            .messages
            .iter()
            .filter(|(_, slot)| !slot.history.0.is_empty())
            .map(|(key, slot)| (key.clone(), &slot.history.0[..]))
            .collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        insert_history(self.conn, &rows)
    }

    fn write_messages(&mut self) -> Result<(), StoreError> {
        let mut gone = Vec::new();
        let mut new = Vec::new();
        let mut changed = Vec::new();
        for (id, slot) in self.messages.drain() {
            match (slot.row, slot.stored) {
                (None, true) => gone.push(id),
                (None, false) => {}
                (Some(row), false) => new.push((id, row)),
                (Some(row), true) if slot.dirty => changed.push((id, row)),
                (Some(_), true) => {}
            }
        }
        gone.sort_unstable();
        let mut delete = self
            .conn
            .prepare_cached("DELETE FROM messages WHERE id = ?1")?;
        for key in gone {
            key.with_text(|id| delete.execute([id]))?;
        }
        // Rows of one queue share its name: compare the names only when they differ.
        new.sort_unstable_by(|(_, a), (_, b)| {
            let queues = if Arc::ptr_eq(&a.queue, &b.queue) {
                std::cmp::Ordering::Equal
            } else {
                a.queue.cmp(&b.queue)
            };
            queues.then(a.marker.cmp(&b.marker))
        });
        insert_rows(
            self.conn,
            "INSERT OR FAIL INTO messages (project, queue, marker, id, body, ttl, created_at, \
             expires_at, delay_until, client_id, checksum, claim_id, claim_expires, claim_count, \
             post_seq, post_index) VALUES",
            16,
            "",
            &new,
            |p, (key, m)| {
                p.push(m.queue.0.as_str())?;
                p.push(m.queue.1.as_str())?;
                p.push(m.marker)?;
                key.with_text(|id| p.push(id))?;
                p.push(m.body.as_deref())?;
                p.push(m.ttl)?;
                p.push(m.created_at)?;
                p.push(m.expires_at)?;
                p.push(m.delay_until)?;
                p.push(m.client_id.as_str())?;
                p.push(m.checksum.as_deref())?;
                p.push(m.claim_id.as_ref().map(|c| c.as_str()))?;
                p.push(m.claim_expires)?;
                p.push(m.claim_count)?;
                p.push(m.post.map(|(seq, _)| seq))?;
                p.push(m.post.map(|(_, index)| index))
            },
        )?;
        let mut update = self.conn.prepare_cached(
            "UPDATE messages SET ttl = ?2, expires_at = ?3, claim_id = ?4, claim_expires = ?5,
                    claim_count = ?6
             WHERE id = ?1",
        )?;
        for (key, m) in &changed {
            key.with_text(|id| {
                update.execute(rusqlite::params![
                    id,
                    m.ttl,
                    m.expires_at,
                    m.claim_id.as_ref().map(|c| c.as_str()),
                    m.claim_expires,
                    m.claim_count
                ])
            })?;
        }
        let count = new.len() + changed.len();
        discard((new, changed), count);
        Ok(())
    }

    fn write_claims(&mut self) -> Result<(), StoreError> {
        let mut new = Vec::new();
        let mut delete = self
            .conn
            .prepare_cached("DELETE FROM claims WHERE id = ?1")?;
        let mut update = self.conn.prepare_cached(
            "UPDATE claims SET ttl = ?2, grace = ?3, updated_at = ?4, expires_at = ?5
             WHERE id = ?1",
        )?;
        for (id, slot) in self.claims.drain() {
            match (slot.row, slot.stored) {
                (None, true) => {
                    delete.execute([id.as_str()])?;
                }
                (None, false) => {}
                (Some(c), false) => new.push((id, c)),
                (Some(c), true) if slot.dirty => {
                    update.execute(rusqlite::params![
                        id.as_str(),
                        c.ttl,
                        c.grace,
                        c.updated_at,
                        c.expires_at
                    ])?;
                }
                (Some(_), true) => {}
            }
        }
        new.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        insert_rows(
            self.conn,
            "INSERT OR FAIL INTO claims (id, project, queue, ttl, grace, updated_at, expires_at) \
             VALUES",
            7,
            "",
            &new,
            |p, (id, c)| {
                p.push(id.as_str())?;
                p.push(c.project.as_str())?;
                p.push(c.queue.as_str())?;
                p.push(c.ttl)?;
                p.push(c.grace)?;
                p.push(c.updated_at)?;
                p.push(c.expires_at)
            },
        )?;
        let count = new.len();
        discard(new, count);
        Ok(())
    }
}

/// Adds positions to messages' history rows, in the order given.
pub(super) fn insert_history(conn: &Connection, rows: &[(Key, &[i64])]) -> Result<(), StoreError> {
    let mut list = String::new();
    insert_rows(
        conn,
        &format!("{} VALUES", history::INSERT),
        3,
        history::ON_CONFLICT,
        rows,
        |p, (key, seqs)| {
            key.with_text(|id| p.push(id))?;
            list.clear();
            for seq in *seqs {
                history::push(&mut list, *seq);
            }
            p.push(list.as_str())?;
            p.push(seqs.last())
        },
    )
}

/// Frees rows that were written out on a thread of its own when there are many: freeing a
/// window's worth of rows (allocated, mostly, by the log reader's thread) takes as long as
/// writing some of them, and the other core is free by then.
fn discard<T: Send + 'static>(rows: T, count: usize) {
    if count >= DISCARD_ELSEWHERE {
        std::thread::spawn(move || drop(rows));
    }
}
