//! The SQLite steps of the fold (its rules: [`crate::projections::fold`]): each appended
//! event changes the read-model tables on the writer's own synchronous connection (inside
//! the append transaction, so a read right after a `201` sees the change); the rebuild's
//! window (`window`) takes the rare steps here too. Synchronous on purpose: the writer runs on a
//! thread of its own and executes many small statements per batch, each of which would
//! otherwise be a hand-off to an async driver's worker thread.

use futures_util::FutureExt;
use rusqlite::{params, Connection};

use crate::error::StoreError;
use crate::events::{
    ClaimRenewed, Envelope, MessageDeadLettered, MessagesClaimed, MessagesPosted, PostedMessage,
    SubscriptionCreated, SubscriptionUpdated, SCHEMA_VERSION,
};
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, SubscriptionId, Timestamp};
use crate::projections::fold::{self as rules, client_of, Mentions, Metadata, Rows, Step, Tables};
use crate::projections::sqlite::rows::insert_rows;

use super::{history, CHECKPOINT};

/// Folds one event into the read models (the rules: [`crate::projections::fold`]).
pub fn apply(conn: &Connection, env: &Envelope) -> Result<(), StoreError> {
    apply_now(&mut Sql(conn), env)
}

/// Folds one event with steps that are all synchronous, so the fold is done at once.
pub(super) fn apply_now(tables: &mut impl Tables, env: &Envelope) -> Result<(), StoreError> {
    rules::apply(tables, env)
        .now_or_never()
        .unwrap_or_else(|| Err(StoreError::Corrupt("a fold did not complete".into())))
}

/// The SQLite steps of the fold, on one connection.
pub(super) struct Sql<'c>(pub &'c Connection);

impl Tables for Sql<'_> {
    async fn index(&mut self, env: &Envelope, mentions: Mentions<'_>) -> Step {
        index_history(self.0, env, mentions)
    }

    async fn insert_queue(&mut self, env: &Envelope, metadata: &Metadata) -> Step {
        self.0
            .prepare_cached(
                "INSERT INTO queues (project, name, metadata, created_at, next_marker)
                 VALUES (?1, ?2, ?3, ?4, 1)",
            )?
            .execute(params![
                env.project.as_str(),
                env.queue.as_str(),
                serde_json::to_string(metadata)?,
                env.at.0
            ])?;
        Ok(())
    }

    async fn set_metadata(&mut self, env: &Envelope, metadata: &Metadata) -> Step {
        self.0
            .prepare_cached("UPDATE queues SET metadata = ?3 WHERE project = ?1 AND name = ?2")?
            .execute(params![
                env.project.as_str(),
                env.queue.as_str(),
                serde_json::to_string(metadata)?
            ])?;
        Ok(())
    }

    async fn delete_queue(&mut self, env: &Envelope) -> Step {
        self.0
            .prepare_cached("DELETE FROM queues WHERE project = ?1 AND name = ?2")?
            .execute(params![env.project.as_str(), env.queue.as_str()])?;
        Ok(())
    }

    async fn delete_rows(&mut self, rows: Rows, env: &Envelope) -> Step {
        let sql = format!(
            "DELETE FROM {} WHERE project = ?1 AND queue = ?2",
            rows.table()
        );
        self.0
            .prepare_cached(&sql)?
            .execute(params![env.project.as_str(), env.queue.as_str()])?;
        Ok(())
    }

    async fn advance_marker(&mut self, project: &ProjectId, queue: &QueueName, next: i64) -> Step {
        self.0
            .prepare_cached(
                "UPDATE queues SET next_marker = MAX(next_marker, ?3)
                 WHERE project = ?1 AND name = ?2",
            )?
            .execute(params![project.as_str(), queue.as_str(), next])?;
        Ok(())
    }

    async fn insert_messages(&mut self, env: &Envelope, e: &MessagesPosted) -> Step {
        insert_messages(self.0, env, &e.messages)
    }

    async fn delete_messages(&mut self, _: &Envelope, ids: &[MessageId]) -> Step {
        let mut delete = self
            .0
            .prepare_cached("DELETE FROM messages WHERE id = ?1")?;
        for id in ids {
            delete.execute([id.as_str()])?;
        }
        Ok(())
    }

    async fn move_message(&mut self, e: &MessageDeadLettered) -> Step {
        move_message(self.0, e)
    }

    async fn insert_claim(&mut self, env: &Envelope, e: &MessagesClaimed) -> Step {
        self.0
            .prepare_cached(
                "INSERT INTO claims (id, project, queue, ttl, grace, updated_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                e.claim_id.as_str(),
                env.project.as_str(),
                env.queue.as_str(),
                e.ttl,
                e.grace,
                env.at.0,
                e.expires_at.0
            ])?;
        claim_messages(self.0, e)
    }

    async fn renew_claim(&mut self, e: &ClaimRenewed, at: Timestamp) -> Step {
        renew_claim(self.0, e, at)
    }

    async fn end_claim(&mut self, claim_id: &ClaimId) -> Step {
        end_claim(self.0, claim_id)
    }

    async fn insert_subscription(&mut self, env: &Envelope, e: &SubscriptionCreated) -> Step {
        insert_subscription(self.0, &env.project, &env.queue, e, env.at)
    }

    async fn update_subscription(&mut self, e: &SubscriptionUpdated) -> Step {
        update_subscription(self.0, e)
    }

    async fn confirm_subscription(&mut self, id: &SubscriptionId, confirmed: bool) -> Step {
        self.0
            .prepare_cached("UPDATE subscriptions SET confirmed = ?2 WHERE id = ?1")?
            .execute(params![id.as_str(), confirmed])?;
        Ok(())
    }

    async fn delete_subscriptions(&mut self, ids: &[SubscriptionId]) -> Step {
        let mut delete = self
            .0
            .prepare_cached("DELETE FROM subscriptions WHERE id = ?1")?;
        for id in ids {
            delete.execute([id.as_str()])?;
        }
        Ok(())
    }
}

/// Records that the read models reflect the log up to `seq`.
pub fn checkpoint(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO projection_checkpoints (name, seq) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
    )?
    .execute(params![CHECKPOINT, seq])?;
    Ok(())
}

/// Moves a catch-up consumer's checkpoint (a `log_meta` key, e.g. `notifier`) forward to
/// `seq`; never backward. Not a read model: replay leaves it alone.
pub fn advance_checkpoint(conn: &Connection, key: &str, seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO log_meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
    )?
    .execute(params![key, seq])?;
    Ok(())
}

/// The columns and values of a row of the log.
macro_rules! event_row {
    () => {
        " INTO events (seq, recorded_at, project, queue, kind, version, client_id, request_id,
                       payload)
          VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    };
}

/// Appends an event to the log at its (pre-assigned) position.
pub fn append(conn: &Connection, env: &Envelope) -> Result<(), StoreError> {
    insert(conn, concat!("INSERT", event_row!()), env).map(|_| ())
}

/// Appends an event to the log unless its position is taken; whether it was appended.
pub fn append_once(conn: &Connection, env: &Envelope) -> Result<bool, StoreError> {
    insert(conn, concat!("INSERT OR IGNORE", event_row!()), env).map(|n| n == 1)
}

fn insert(conn: &Connection, sql: &str, env: &Envelope) -> Result<usize, StoreError> {
    Ok(conn.prepare_cached(sql)?.execute(params![
        env.seq,
        env.at.0,
        env.project.as_str(),
        env.queue.as_str(),
        env.event.kind(),
        SCHEMA_VERSION,
        env.client_id.as_ref().map(|c| c.as_str()),
        env.request_id.as_deref(),
        serde_json::to_string(&env.event)?
    ])?)
}

/// Indexes the event against the messages it mentions.
fn index_history(
    conn: &Connection,
    env: &Envelope,
    mentions: Mentions<'_>,
) -> Result<(), StoreError> {
    let ids = match mentions {
        Mentions::Messages(ids) => ids,
        Mentions::Claim(claim) => return history_of_claim(conn, claim, env.seq),
        Mentions::Queue => {
            let sql = format!(
                "{} SELECT id, CAST(?3 AS TEXT), ?3 FROM messages
                 WHERE project = ?1 AND queue = ?2{}",
                history::INSERT,
                history::ON_CONFLICT
            );
            conn.prepare_cached(&sql)?.execute(params![
                env.project.as_str(),
                env.queue.as_str(),
                env.seq
            ])?;
            return Ok(());
        }
        Mentions::Nothing => return Ok(()),
    };
    let seq = env.seq.to_string();
    insert_rows(
        conn,
        &format!("{} VALUES", history::INSERT),
        3,
        history::ON_CONFLICT,
        &ids,
        |p, id| {
            p.push(id.as_str())?;
            p.push(seq.as_str())?;
            p.push(env.seq)
        },
    )
}

fn history_of_claim(conn: &Connection, claim: &ClaimId, seq: i64) -> Result<(), StoreError> {
    let sql = format!(
        "{} SELECT id, CAST(?2 AS TEXT), ?2 FROM messages WHERE claim_id = ?1{}",
        history::INSERT,
        history::ON_CONFLICT
    );
    conn.prepare_cached(&sql)?
        .execute(params![claim.as_str(), seq])?;
    Ok(())
}

/// Inserts posted messages, their bodies left in the posting event (see [`super::bodies`]).
fn insert_messages(conn: &Connection, env: &Envelope, messages: &[PostedMessage]) -> Step {
    let client_id = client_of(env);
    let indexed: Vec<(i64, &PostedMessage)> = (0..).zip(messages).collect();
    insert_rows(
        conn,
        "INSERT OR FAIL INTO messages (project, queue, marker, id, ttl, created_at, expires_at, \
         delay_until, client_id, checksum, post_seq, post_index) VALUES",
        12,
        "",
        &indexed,
        |p, (index, m)| {
            p.push(env.project.as_str())?;
            p.push(env.queue.as_str())?;
            p.push(m.marker)?;
            p.push(m.id.as_str())?;
            p.push(m.ttl)?;
            p.push(env.at.0)?;
            p.push(m.expires_at.0)?;
            p.push(m.delay_until.0)?;
            p.push(client_id)?;
            p.push(m.checksum.as_deref())?;
            p.push(env.seq)?;
            p.push(*index)
        },
    )
}

fn move_message(conn: &Connection, e: &MessageDeadLettered) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE messages SET queue = ?2, marker = ?3, ttl = ?4, expires_at = ?5,
                claim_id = NULL, claim_expires = NULL, claim_count = 0
         WHERE id = ?1",
    )?
    .execute(params![
        e.id.as_str(),
        e.to_queue.as_str(),
        e.marker,
        e.ttl,
        e.expires_at.0
    ])?;
    Ok(())
}

fn claim_messages(conn: &Connection, e: &MessagesClaimed) -> Result<(), StoreError> {
    let mut update = conn.prepare_cached(
        "UPDATE messages SET claim_id = ?2, claim_expires = ?3, claim_count = ?4,
                ttl = ?5, expires_at = ?6
         WHERE id = ?1",
    )?;
    for m in &e.messages {
        update.execute(params![
            m.id.as_str(),
            e.claim_id.as_str(),
            e.expires_at.0,
            m.claim_count,
            m.ttl,
            m.expires_at.0
        ])?;
    }
    Ok(())
}

fn renew_claim(conn: &Connection, e: &ClaimRenewed, at: Timestamp) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE claims SET ttl = ?2, grace = ?3, updated_at = ?4, expires_at = ?5 WHERE id = ?1",
    )?
    .execute(params![
        e.claim_id.as_str(),
        e.ttl,
        e.grace,
        at.0,
        e.expires_at.0
    ])?;
    conn.prepare_cached("UPDATE OR FAIL messages SET claim_expires = ?2 WHERE claim_id = ?1")?
        .execute(params![e.claim_id.as_str(), e.expires_at.0])?;
    let mut extend =
        conn.prepare_cached("UPDATE messages SET ttl = ?2, expires_at = ?3 WHERE id = ?1")?;
    for m in &e.extended {
        extend.execute(params![m.id.as_str(), m.ttl, m.expires_at.0])?;
    }
    Ok(())
}

/// A claim released or expired: its messages are free again and the claim row goes.
fn end_claim(conn: &Connection, claim_id: &ClaimId) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE OR FAIL messages SET claim_id = NULL, claim_expires = NULL WHERE claim_id = ?1",
    )?
    .execute([claim_id.as_str()])?;
    conn.prepare_cached("DELETE FROM claims WHERE id = ?1")?
        .execute([claim_id.as_str()])?;
    Ok(())
}

fn insert_subscription(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    e: &SubscriptionCreated,
    at: Timestamp,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO subscriptions (id, project, queue, subscriber, ttl, options, created_at,
                                    expires_at, confirmed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
    )?
    .execute(params![
        e.id.as_str(),
        project.as_str(),
        queue.as_str(),
        e.subscriber,
        e.ttl,
        serde_json::to_string(&e.options)?,
        at.0,
        e.expires_at.0
    ])?;
    Ok(())
}

fn update_subscription(conn: &Connection, e: &SubscriptionUpdated) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE subscriptions SET subscriber = ?2, ttl = ?3, options = ?4, expires_at = ?5
         WHERE id = ?1",
    )?
    .execute(params![
        e.id.as_str(),
        e.subscriber,
        e.ttl,
        serde_json::to_string(&e.options)?,
        e.expires_at.0
    ])?;
    Ok(())
}
