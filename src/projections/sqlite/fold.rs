//! The SQLite steps of the fold (its rules: [`crate::projections::fold`]), each a statement
//! of the read model it concerns (`projections::queues::sqlite`, …): each appended event
//! changes the tables on the writer's own synchronous connection (inside the append
//! transaction, so a read right after a `201` sees the change); the rebuild's window
//! (`window`) takes the rare steps here too. Synchronous on purpose: the writer runs on a
//! thread of its own and executes many small statements per batch, each of which would
//! otherwise be a hand-off to an async driver's worker thread.

use futures_util::FutureExt;
use rusqlite::{params, Connection};

use crate::error::StoreError;
use crate::events::{
    ClaimRenewed, Envelope, MessageDeadLettered, MessagesClaimed, MessagesPosted,
    SubscriptionCreated, SubscriptionUpdated, SCHEMA_VERSION,
};
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, SubscriptionId, Timestamp};
use crate::projections::fold::{self as rules, Mentions, Metadata, Rows, Step, Tables};

use super::CHECKPOINT;
use crate::projections::catalogue::{sqlite as catalogue, Kind, Row};
use crate::projections::claims::sqlite as claims;
use crate::projections::history::sqlite as history;
use crate::projections::messages::sqlite as messages;
use crate::projections::queues::sqlite as queues;
use crate::projections::subscriptions::sqlite as subscriptions;

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
        history::index(self.0, env, mentions)
    }

    async fn insert_queue(&mut self, env: &Envelope, metadata: &Metadata) -> Step {
        queues::insert(self.0, env, metadata)
    }

    async fn set_metadata(&mut self, env: &Envelope, metadata: &Metadata) -> Step {
        queues::set_metadata(self.0, env, metadata)
    }

    async fn delete_queue(&mut self, env: &Envelope) -> Step {
        queues::delete(self.0, env)
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
        queues::advance_marker(self.0, project, queue, next)
    }

    async fn insert_messages(&mut self, env: &Envelope, e: &MessagesPosted) -> Step {
        messages::insert(self.0, env, &e.messages)
    }

    async fn delete_messages(&mut self, _: &Envelope, ids: &[MessageId]) -> Step {
        messages::delete_ids(self.0, ids)
    }

    async fn move_message(&mut self, e: &MessageDeadLettered) -> Step {
        messages::move_to(self.0, e)
    }

    async fn insert_claim(&mut self, env: &Envelope, e: &MessagesClaimed) -> Step {
        claims::insert(self.0, env, e)?;
        messages::claim(self.0, e)
    }

    async fn renew_claim(&mut self, e: &ClaimRenewed, at: Timestamp) -> Step {
        claims::renew(self.0, e, at)?;
        messages::renew_claim(self.0, e)
    }

    async fn end_claim(&mut self, claim_id: &ClaimId) -> Step {
        messages::unclaim(self.0, claim_id)?;
        claims::delete(self.0, claim_id)
    }

    async fn insert_subscription(&mut self, env: &Envelope, e: &SubscriptionCreated) -> Step {
        subscriptions::insert(self.0, &env.project, &env.queue, e, env.at)
    }

    async fn update_subscription(&mut self, e: &SubscriptionUpdated) -> Step {
        subscriptions::update(self.0, e)
    }

    async fn confirm_subscription(&mut self, id: &SubscriptionId, confirmed: bool) -> Step {
        subscriptions::confirm(self.0, id, confirmed)
    }

    async fn delete_subscriptions(&mut self, ids: &[SubscriptionId]) -> Step {
        subscriptions::delete_ids(self.0, ids)
    }
    async fn put_entry(&mut self, env: &Envelope, row: &Row<'_>) -> Step {
        catalogue::put(self.0, env, row)
    }

    async fn delete_entry(&mut self, kind: Kind, env: &Envelope) -> Step {
        catalogue::delete(self.0, kind, env)
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
