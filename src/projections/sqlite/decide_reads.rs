//! The reads a decision needs ([`ReadModel`]), on the writer's synchronous connection,
//! inside its append transaction: the same queries (`queues`, `messages`, `claims`,
//! `subscriptions`) that serve clients through the reader pool, and the sweep's.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::StoreError;
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, SubscriptionId, Timestamp};
use crate::projections::{
    ClaimState, Expired, HeldBy, MessageView, QueueState, ReadModel, SubscriptionView,
};

use super::{claims, messages, queues, subscriptions};

/// Rows of `table` (a read-model table name, never input) whose expiry has passed, oldest
/// expiry first, as `(project, queue, id)`.
fn expired_ids<T>(
    conn: &Connection,
    table: &str,
    now: Timestamp,
    limit: i64,
    id: impl Fn(String) -> T,
) -> Result<Vec<(ProjectId, QueueName, T)>, StoreError> {
    let sql = format!(
        "SELECT project, queue, id FROM {table} WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2"
    );
    let mut select = conn.prepare_cached(&sql)?;
    let rows = select.query_map(params![now.0, limit], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (project, queue, raw) = row?;
        let project =
            ProjectId::new(Some(&project)).map_err(|_| StoreError::Corrupt(project.clone()))?;
        out.push((project, QueueName::from_stored(queue), id(raw)));
    }
    Ok(out)
}

fn has_rows(
    conn: &Connection,
    table: &str,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<bool, StoreError> {
    let sql = format!("SELECT 1 FROM {table} WHERE project = ?1 AND queue = ?2 LIMIT 1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![project.as_str(), queue.as_str()], |_| Ok(()))
        .optional()?
        .is_some())
}

impl ReadModel for Connection {
    async fn queue_state(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<Option<QueueState>, StoreError> {
        queues::state(self, project, queue)
    }

    async fn has_messages(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<bool, StoreError> {
        has_rows(self, "messages", project, queue)
    }

    async fn has_subscriptions(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<bool, StoreError> {
        has_rows(self, "subscriptions", project, queue)
    }

    async fn held_by(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        ids: &[MessageId],
        now: Timestamp,
    ) -> Result<Vec<(MessageId, HeldBy)>, StoreError> {
        messages::held_by(self, project, queue, ids, now)
    }

    async fn available(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        limit: i64,
        now: Timestamp,
    ) -> Result<Vec<MessageView>, StoreError> {
        messages::available(self, project, queue, limit, now)
    }

    async fn live_claim(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &ClaimId,
        now: Timestamp,
    ) -> Result<Option<ClaimState>, StoreError> {
        claims::state(self, project, queue, id, now)
    }

    async fn claim_exists(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &ClaimId,
    ) -> Result<bool, StoreError> {
        claims::exists(self, project, queue, id)
    }

    async fn subscription(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<SubscriptionView>, StoreError> {
        subscriptions::get(self, project, queue, id, now)
    }

    async fn subscription_of(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        subscriber: &str,
        except: Option<&SubscriptionId>,
        now: Timestamp,
    ) -> Result<Option<SubscriptionView>, StoreError> {
        subscriptions::of_subscriber(self, project, queue, subscriber, except, now)
    }

    async fn expired(&mut self, now: Timestamp, limit: i64) -> Result<Expired, StoreError> {
        Ok(Expired {
            claims: expired_ids(self, "claims", now, limit, ClaimId::from_stored)?,
            messages: expired_ids(self, "messages", now, limit, MessageId::from_stored)?,
            subscriptions: expired_ids(
                self,
                "subscriptions",
                now,
                limit,
                SubscriptionId::from_stored,
            )?,
        })
    }
}
