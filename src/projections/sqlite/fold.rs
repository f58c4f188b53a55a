//! The fold: applies each appended event to the SQLite read-model tables, on the writer's
//! own synchronous connection (inside the append transaction, so a read right after a `201`
//! sees the change) and on the rebuild's. Synchronous on purpose: the writer runs on a
//! thread of its own and executes many small statements per batch, each of which would
//! otherwise be a hand-off to an async driver's worker thread.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};

use crate::error::StoreError;
use crate::events::{
    ClaimRenewed, Envelope, Event, MessageDeadLettered, MessagesClaimed, PostedMessage,
    SubscriptionCreated, SubscriptionUpdated, SCHEMA_VERSION,
};
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, SubscriptionId, Timestamp};

use super::{history, CHECKPOINT};

/// Rows per multi-row statement (at most 12 parameters a row, under SQLite's limit).
const ROWS_PER_STATEMENT: usize = 500;

/// Folds one event into the read models.
pub fn apply(conn: &Connection, env: &Envelope) -> Result<(), StoreError> {
    record_history(conn, env)?;
    let (p, q) = (&env.project, &env.queue);
    match &env.event {
        Event::QueueCreated(e) => {
            conn.prepare_cached(
                "INSERT INTO queues (project, name, metadata, created_at, next_marker)
                 VALUES (?1, ?2, ?3, ?4, 1)",
            )?
            .execute(params![
                p.as_str(),
                q.as_str(),
                serde_json::to_string(&e.metadata)?,
                env.at.0
            ])?;
        }
        Event::QueueMetadataUpdated(e) => {
            conn.prepare_cached(
                "UPDATE queues SET metadata = ?3 WHERE project = ?1 AND name = ?2",
            )?
            .execute(params![
                p.as_str(),
                q.as_str(),
                serde_json::to_string(&e.metadata)?
            ])?;
        }
        Event::QueueDeleted(_) => {
            for table in ["messages", "claims", "subscriptions"] {
                delete_queue_rows(conn, table, p, q)?;
            }
            conn.prepare_cached("DELETE FROM queues WHERE project = ?1 AND name = ?2")?
                .execute(params![p.as_str(), q.as_str()])?;
        }
        Event::QueuePurged(_) => {
            delete_queue_rows(conn, "messages", p, q)?;
            delete_queue_rows(conn, "claims", p, q)?;
        }
        Event::MessagesPosted(e) => {
            let client = env.client_id.as_ref().map_or("", |c| c.as_str());
            insert_messages(conn, env, client, &e.messages)?;
            if let Some(last) = e.messages.last() {
                advance_marker(conn, p, q, last.marker + 1)?;
            }
        }
        Event::MessagesDeleted(e) => delete_messages(conn, &e.ids)?,
        Event::MessagesPopped(e) => delete_messages(conn, &e.ids)?,
        Event::MessagesExpired(e) => delete_messages(conn, &e.ids)?,
        Event::MessageDeadLettered(e) => {
            move_message(conn, e)?;
            advance_marker(conn, p, &e.to_queue, e.marker + 1)?;
        }
        Event::MessagesClaimed(e) => {
            conn.prepare_cached(
                "INSERT INTO claims (id, project, queue, ttl, grace, updated_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                e.claim_id.as_str(),
                p.as_str(),
                q.as_str(),
                e.ttl,
                e.grace,
                env.at.0,
                e.expires_at.0
            ])?;
            claim_messages(conn, e)?;
        }
        Event::ClaimRenewed(e) => renew_claim(conn, e, env.at)?,
        Event::ClaimReleased(e) => end_claim(conn, &e.claim_id)?,
        Event::ClaimExpired(e) => end_claim(conn, &e.claim_id)?,
        Event::SubscriptionCreated(e) => insert_subscription(conn, p, q, e, env.at)?,
        Event::SubscriptionUpdated(e) => update_subscription(conn, e)?,
        Event::SubscriptionConfirmed(e) => {
            conn.prepare_cached("UPDATE subscriptions SET confirmed = ?2 WHERE id = ?1")?
                .execute(params![e.id.as_str(), e.confirmed])?;
        }
        Event::SubscriptionDeleted(e) => delete_subscriptions(conn, std::slice::from_ref(&e.id))?,
        Event::SubscriptionsPurged(_) => delete_queue_rows(conn, "subscriptions", p, q)?,
        Event::SubscriptionsExpired(e) => delete_subscriptions(conn, &e.ids)?,
        // Only the history index records these.
        Event::SubscriptionConfirmationRequested(_)
        | Event::NotificationDelivered(_)
        | Event::NotificationFailed(_)
        | Event::NotificationAbandoned(_) => {}
    }
    Ok(())
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

/// Runs `sql` once per chunk of `items`, with `prefix` followed by one `(?, …)` group of
/// `width` parameters per item and then `suffix`.
fn multi_row<T>(
    conn: &Connection,
    prefix: &str,
    width: usize,
    suffix: &str,
    items: &[T],
    bind: impl Fn(&T, &mut Vec<Value>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let group = format!("({})", vec!["?"; width].join(", "));
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "{prefix} {}{suffix}",
            vec![group.as_str(); chunk.len()].join(", ")
        );
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * width);
        for item in chunk {
            bind(item, &mut values)?;
        }
        conn.prepare_cached(&sql)?
            .execute(params_from_iter(values.iter()))?;
    }
    Ok(())
}

/// Indexes the event against the messages it concerns; runs before the other tables fold.
fn record_history(conn: &Connection, env: &Envelope) -> Result<(), StoreError> {
    let mut ids: Vec<&MessageId> = match &env.event {
        Event::MessagesPosted(e) => e.messages.iter().map(|m| &m.id).collect(),
        Event::MessagesClaimed(e) => e.messages.iter().map(|m| &m.id).collect(),
        Event::MessagesDeleted(e) => e.ids.iter().collect(),
        Event::MessagesPopped(e) => e.ids.iter().collect(),
        Event::MessagesExpired(e) => e.ids.iter().collect(),
        Event::MessageDeadLettered(e) => vec![&e.id],
        Event::NotificationDelivered(e) => e.message_ids().collect(),
        Event::NotificationFailed(e) => e.message_id.iter().collect(),
        Event::NotificationAbandoned(e) => e.message_id.iter().collect(),
        Event::ClaimRenewed(e) => return history_of_claim(conn, &e.claim_id, env.seq),
        Event::ClaimReleased(e) => return history_of_claim(conn, &e.claim_id, env.seq),
        Event::ClaimExpired(e) => return history_of_claim(conn, &e.claim_id, env.seq),
        Event::QueuePurged(_) | Event::QueueDeleted(_) => {
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
        Event::QueueCreated(_)
        | Event::QueueMetadataUpdated(_)
        | Event::SubscriptionCreated(_)
        | Event::SubscriptionUpdated(_)
        | Event::SubscriptionConfirmed(_)
        | Event::SubscriptionDeleted(_)
        | Event::SubscriptionsPurged(_)
        | Event::SubscriptionsExpired(_)
        | Event::SubscriptionConfirmationRequested(_) => return Ok(()),
    };
    // One row per message: an id named twice would append the position twice.
    ids.sort_unstable();
    ids.dedup();
    let seq = env.seq.to_string();
    multi_row(
        conn,
        &format!("{} VALUES", history::INSERT),
        3,
        history::ON_CONFLICT,
        &ids,
        |id, row| {
            row.push(Value::from(id.as_str().to_owned()));
            row.push(Value::from(seq.clone()));
            row.push(Value::from(env.seq));
            Ok(())
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

/// Deletes every row of the queue from `table` (a read-model table name, never input).
fn delete_queue_rows(
    conn: &Connection,
    table: &str,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<(), StoreError> {
    let sql = format!("DELETE FROM {table} WHERE project = ?1 AND queue = ?2");
    conn.prepare_cached(&sql)?
        .execute(params![project.as_str(), queue.as_str()])?;
    Ok(())
}

/// Makes sure the next posted message gets at least `next` as its marker.
fn advance_marker(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    next: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE queues SET next_marker = MAX(next_marker, ?3) WHERE project = ?1 AND name = ?2",
    )?
    .execute(params![project.as_str(), queue.as_str(), next])?;
    Ok(())
}

/// Inserts posted messages, their bodies left in the posting event (see [`super::bodies`]).
fn insert_messages(
    conn: &Connection,
    env: &Envelope,
    client_id: &str,
    messages: &[PostedMessage],
) -> Result<(), StoreError> {
    let indexed: Vec<(i64, &PostedMessage)> = (0..).zip(messages).collect();
    multi_row(
        conn,
        "INSERT OR FAIL INTO messages (project, queue, marker, id, ttl, created_at, expires_at, \
         delay_until, client_id, checksum, post_seq, post_index) VALUES",
        12,
        "",
        &indexed,
        |(index, m), row| {
            row.extend([
                Value::from(env.project.as_str().to_owned()),
                Value::from(env.queue.as_str().to_owned()),
                Value::from(m.marker),
                Value::from(m.id.as_str().to_owned()),
                Value::from(m.ttl),
                Value::from(env.at.0),
                Value::from(m.expires_at.0),
                Value::from(m.delay_until.0),
                Value::from(client_id.to_owned()),
                Value::from(m.checksum.clone()),
                Value::from(env.seq),
                Value::from(*index),
            ]);
            Ok(())
        },
    )
}

fn delete_messages(conn: &Connection, ids: &[MessageId]) -> Result<(), StoreError> {
    let mut delete = conn.prepare_cached("DELETE FROM messages WHERE id = ?1")?;
    for id in ids {
        delete.execute([id.as_str()])?;
    }
    Ok(())
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

fn delete_subscriptions(conn: &Connection, ids: &[SubscriptionId]) -> Result<(), StoreError> {
    let mut delete = conn.prepare_cached("DELETE FROM subscriptions WHERE id = ?1")?;
    for id in ids {
        delete.execute([id.as_str()])?;
    }
    Ok(())
}
