//! The `subscriptions` table: fold and queries. A subscription is live until `expires_at`.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres, Row};

use crate::error::StoreError;
use crate::events::{SubscriptionCreated, SubscriptionUpdated};
use crate::model::{ProjectId, QueueName, SubscriptionId, Timestamp};
use crate::projections::{Page, SubscriptionView};

const COLUMNS: &str = "id, queue, subscriber, ttl, options, created_at, expires_at, confirmed";

fn from_row(row: &PgRow) -> Result<SubscriptionView, StoreError> {
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

pub async fn insert(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    e: &SubscriptionCreated,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO subscriptions (id, project, queue, subscriber, ttl, options, created_at,
                                    expires_at, confirmed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE)",
    )
    .bind(e.id.as_str())
    .bind(project.as_str())
    .bind(queue.as_str())
    .bind(&e.subscriber)
    .bind(e.ttl)
    .bind(serde_json::to_string(&e.options)?)
    .bind(at.0)
    .bind(e.expires_at.0)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update(conn: &mut PgConnection, e: &SubscriptionUpdated) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE subscriptions SET subscriber = $2, ttl = $3, options = $4, expires_at = $5
         WHERE id = $1",
    )
    .bind(e.id.as_str())
    .bind(&e.subscriber)
    .bind(e.ttl)
    .bind(serde_json::to_string(&e.options)?)
    .bind(e.expires_at.0)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn confirm(
    conn: &mut PgConnection,
    id: &SubscriptionId,
    confirmed: bool,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE subscriptions SET confirmed = $2 WHERE id = $1")
        .bind(id.as_str())
        .bind(confirmed)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_ids(conn: &mut PgConnection, ids: &[SubscriptionId]) -> Result<(), StoreError> {
    for id in ids {
        sqlx::query("DELETE FROM subscriptions WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The subscriptions a query of [`COLUMNS`] returns, in its order.
async fn select(
    conn: &mut PgConnection,
    query: Query<'_, Postgres, PgArguments>,
) -> Result<Vec<SubscriptionView>, StoreError> {
    query.fetch_all(conn).await?.iter().map(from_row).collect()
}

/// A page of live subscriptions in creation order (ids are time-ordered).
pub async fn list(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    page: &Page,
    now: Timestamp,
) -> Result<Vec<SubscriptionView>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions
         WHERE project = $1 AND queue = $2 AND id > $3 AND expires_at > $4
         ORDER BY id LIMIT $5"
    );
    // Ids never contain NUL, so cutting the marker there keeps `id > marker` exact.
    let marker = page.marker.as_deref().unwrap_or("").split('\0').next();
    let query = sqlx::query(&sql)
        .bind(project.as_str())
        .bind(queue.as_str())
        .bind(marker.unwrap_or(""))
        .bind(now.0)
        .bind(page.limit);
    select(conn, query).await
}

/// A live subscription by id.
pub async fn get(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    id: &str,
    now: Timestamp,
) -> Result<Option<SubscriptionView>, StoreError> {
    if id.contains('\0') {
        return Ok(None); // ids never contain NUL (PostgreSQL text cannot even hold it)
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions
         WHERE id = $1 AND project = $2 AND queue = $3 AND expires_at > $4"
    );
    let query = sqlx::query(&sql)
        .bind(id)
        .bind(project.as_str())
        .bind(queue.as_str())
        .bind(now.0);
    Ok(select(conn, query).await?.into_iter().next())
}

/// A live subscription of the queue with this subscriber, other than `except`.
pub async fn by_subscriber(
    conn: &mut PgConnection,
    project: &ProjectId,
    queue: &QueueName,
    subscriber: &str,
    except: Option<&SubscriptionId>,
    now: Timestamp,
) -> Result<Option<SubscriptionView>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions
         WHERE project = $1 AND queue = $2 AND subscriber = $3 AND expires_at > $4 AND id <> $5
         LIMIT 1"
    );
    let query = sqlx::query(&sql)
        .bind(project.as_str())
        .bind(queue.as_str())
        .bind(subscriber)
        .bind(now.0)
        .bind(except.map_or("", |e| e.as_str()));
    Ok(select(conn, query).await?.into_iter().next())
}
