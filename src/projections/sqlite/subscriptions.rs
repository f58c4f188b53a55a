//! The `subscriptions` table: the queries that serve reads. A subscription is live until `expires_at`.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::error::StoreError;
use crate::model::{ProjectId, QueueName, SubscriptionId, Timestamp};
use crate::projections::SubscriptionView;

const COLUMNS: &str = "id, queue, subscriber, ttl, options, created_at, expires_at, confirmed";

fn from_row(row: &SqliteRow) -> Result<SubscriptionView, StoreError> {
    let options: String = row.try_get(4)?;
    Ok(SubscriptionView {
        id: SubscriptionId::from_stored(row.try_get(0)?),
        source: QueueName::from_stored(row.try_get(1)?),
        subscriber: row.try_get(2)?,
        ttl: row.try_get(3)?,
        options: serde_json::from_str(&options)?,
        created_at: Timestamp(row.try_get(5)?),
        expires_at: Timestamp(row.try_get(6)?),
        confirmed: row.try_get(7)?,
    })
}

/// A page of live subscriptions in creation order (ids are time-ordered).
pub async fn list(
    conn: &mut SqliteConnection,
    project: &ProjectId,
    queue: &QueueName,
    marker: Option<&str>,
    limit: i64,
    now: Timestamp,
) -> Result<Vec<SubscriptionView>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions
         WHERE project = ?1 AND queue = ?2 AND id > ?3 AND expires_at > ?4
         ORDER BY id LIMIT ?5"
    );
    let rows = sqlx::query(&sql)
        .bind(project.as_str())
        .bind(queue.as_str())
        .bind(marker.unwrap_or(""))
        .bind(now.0)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// A live subscription by id.
pub async fn get(
    conn: &mut SqliteConnection,
    project: &ProjectId,
    queue: &QueueName,
    id: &str,
    now: Timestamp,
) -> Result<Option<SubscriptionView>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions
         WHERE id = ?1 AND project = ?2 AND queue = ?3 AND expires_at > ?4"
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(project.as_str())
        .bind(queue.as_str())
        .bind(now.0)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}
