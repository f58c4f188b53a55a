//! The PostgreSQL read models (the same tables as `projections::sqlite`, in PostgreSQL's
//! dialect): the steps of the fold (`fold.rs`, run by the writer inside the append
//! transaction, so reads right after a `201` see the change), and the queries that serve
//! reads and decisions. One file per table.

pub mod claims;
mod fold;
pub mod history;
pub mod messages;
pub mod queues;
pub mod subscriptions;

pub use fold::apply;

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::error::StoreError;
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, SubscriptionId, Timestamp};
use crate::projections::{ClaimState, Expired, HeldBy, MessageView, SubscriptionView};

/// Name under which the inline projections record the log position they reflect.
pub const CHECKPOINT: &str = "inline";

/// Moves a catch-up consumer's checkpoint (a `log_meta` key, e.g. `notifier`) forward to
/// `seq`; never backward. Not a read model: replay leaves it alone.
pub async fn advance_checkpoint(
    conn: &mut PgConnection,
    key: &str,
    seq: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO log_meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = GREATEST(log_meta.value, excluded.value)",
    )
    .bind(key)
    .bind(seq)
    .execute(conn)
    .await?;
    Ok(())
}

/// A catch-up consumer's checkpoint (0 if it never recorded one).
pub async fn read_checkpoint(conn: &mut PgConnection, key: &str) -> Result<i64, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT value FROM log_meta WHERE key = $1")
        .bind(key)
        .fetch_optional(conn)
        .await?;
    Ok(seq.unwrap_or(0))
}

/// Records that the read models reflect the log up to `seq`.
pub async fn checkpoint(conn: &mut PgConnection, seq: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (name, seq) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
    )
    .bind(CHECKPOINT)
    .bind(seq)
    .execute(conn)
    .await?;
    Ok(())
}

/// Decodes rows of `(project, queue, id)`, as the expiry queries return them.
pub fn scoped_ids<T>(
    rows: &[PgRow],
    id: impl Fn(String) -> T,
) -> Result<Vec<(ProjectId, QueueName, T)>, StoreError> {
    rows.iter()
        .map(|r| {
            let project: String = r.try_get(0)?;
            let project =
                ProjectId::new(Some(&project)).map_err(|_| StoreError::Corrupt(project.clone()))?;
            Ok((
                project,
                QueueName::from_stored(r.try_get(1)?),
                id(r.try_get(2)?),
            ))
        })
        .collect()
}

/// Whether `table` (a read-model table name, never input) holds any row of the queue.
pub async fn queue_has_rows(
    conn: &mut PgConnection,
    table: &str,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<bool, StoreError> {
    let sql = format!("SELECT 1::BIGINT FROM {table} WHERE project = $1 AND queue = $2 LIMIT 1");
    let found: Option<i64> = sqlx::query_scalar(&sql)
        .bind(project.as_str())
        .bind(queue.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// Rows of `table` (a read-model table name, never input) whose `expires_at` has passed,
/// oldest expiry first, as `(project, queue, id)`.
pub async fn expired_ids<T>(
    conn: &mut PgConnection,
    table: &str,
    now: crate::model::Timestamp,
    limit: i64,
    id: impl Fn(String) -> T,
) -> Result<Vec<(ProjectId, QueueName, T)>, StoreError> {
    let sql = format!(
        "SELECT project, queue, id FROM {table} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(now.0)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    scoped_ids(&rows, id)
}

/// Deletes every row of the queue from `table` (a read-model table name, never input).
pub async fn delete_queue_rows(
    conn: &mut PgConnection,
    table: &str,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<(), StoreError> {
    let sql = format!("DELETE FROM {table} WHERE project = $1 AND queue = $2");
    sqlx::query(&sql)
        .bind(project.as_str())
        .bind(queue.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

impl crate::projections::ReadModel for PgConnection {
    async fn queue_state(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<Option<crate::projections::QueueState>, StoreError> {
        queues::state(self, project, queue).await
    }

    async fn has_messages(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<bool, StoreError> {
        messages::any(self, project, queue).await
    }

    async fn has_subscriptions(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<bool, StoreError> {
        subscriptions::any(self, project, queue).await
    }

    async fn held_by(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        ids: &[MessageId],
        now: Timestamp,
    ) -> Result<Vec<(MessageId, HeldBy)>, StoreError> {
        messages::held_by(self, project, queue, ids, now).await
    }

    async fn available(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        limit: i64,
        now: Timestamp,
    ) -> Result<Vec<MessageView>, StoreError> {
        messages::available(self, project, queue, limit, now).await
    }

    async fn live_claim(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &ClaimId,
        now: Timestamp,
    ) -> Result<Option<ClaimState>, StoreError> {
        claims::live_state(self, project, queue, id, now).await
    }

    async fn claim_exists(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &ClaimId,
    ) -> Result<bool, StoreError> {
        claims::exists(self, project, queue, id).await
    }

    async fn subscription(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<SubscriptionView>, StoreError> {
        subscriptions::get(self, project, queue, id, now).await
    }

    async fn subscription_of(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        subscriber: &str,
        except: Option<&SubscriptionId>,
        now: Timestamp,
    ) -> Result<Option<SubscriptionView>, StoreError> {
        subscriptions::by_subscriber(self, project, queue, subscriber, except, now).await
    }

    async fn expired(&mut self, now: Timestamp, limit: i64) -> Result<Expired, StoreError> {
        Ok(Expired {
            claims: claims::expired(self, now, limit).await?,
            messages: messages::expired(self, now, limit).await?,
            subscriptions: subscriptions::expired(self, now, limit).await?,
        })
    }
}
