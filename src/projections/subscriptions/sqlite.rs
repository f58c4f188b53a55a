//! The `subscriptions` table: the queries that serve reads and decisions. A subscription is
//! live until `expires_at`.

use rusqlite::{params, Connection, Row};

use crate::error::StoreError;
use crate::events::{SubscriptionCreated, SubscriptionUpdated};
use crate::model::{ProjectId, QueueName, SubscriptionId, Timestamp};
use crate::projections::fold::Step;
use crate::projections::sqlite::delete_rows;
use crate::projections::{Page, SubscriptionView};

const COLUMNS: &str = "id, queue, subscriber, ttl, options, created_at, expires_at, confirmed";

/// A row of [`COLUMNS`], with its options still as stored text.
fn from_row(row: &Row<'_>) -> rusqlite::Result<(SubscriptionView, String)> {
    Ok((
        SubscriptionView {
            id: SubscriptionId::from_stored(row.get(0)?),
            source: QueueName::from_stored(row.get(1)?),
            subscriber: row.get(2)?,
            ttl: row.get(3)?,
            options: serde_json::Map::new(),
            created_at: Timestamp(row.get(5)?),
            expires_at: Timestamp(row.get(6)?),
            confirmed: row.get(7)?,
        },
        row.get(4)?,
    ))
}

/// The subscriptions `condition` (over `args`) selects, in `tail`'s order and number.
fn select(
    conn: &Connection,
    condition: &str,
    tail: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<SubscriptionView>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE {condition} {tail}");
    let mut select = conn.prepare_cached(&sql)?;
    let rows = select
        .query_map(args, from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(mut view, options)| {
            view.options = serde_json::from_str(&options)?;
            Ok(view)
        })
        .collect()
}

/// A page of live subscriptions in creation order (ids are time-ordered).
pub fn list(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    page: &Page,
    now: Timestamp,
) -> Result<Vec<SubscriptionView>, StoreError> {
    let marker = page.marker.as_deref().unwrap_or("");
    select(
        conn,
        "project = ?1 AND queue = ?2 AND id > ?3 AND expires_at > ?4",
        "ORDER BY id LIMIT ?5",
        params![project.as_str(), queue.as_str(), marker, now.0, page.limit],
    )
}

/// A live subscription by id.
pub fn get(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    id: &str,
    now: Timestamp,
) -> Result<Option<SubscriptionView>, StoreError> {
    let found = select(
        conn,
        "id = ?1 AND project = ?2 AND queue = ?3 AND expires_at > ?4",
        "",
        params![id, project.as_str(), queue.as_str(), now.0],
    )?;
    Ok(found.into_iter().next())
}

/// A live subscription of the queue with this subscriber, other than `except`.
pub fn by_subscriber(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    subscriber: &str,
    except: Option<&SubscriptionId>,
    now: Timestamp,
) -> Result<Option<SubscriptionView>, StoreError> {
    let except = except.map_or("", |e| e.as_str());
    let found = select(
        conn,
        "project = ?1 AND queue = ?2 AND subscriber = ?3 AND expires_at > ?4 AND id <> ?5",
        "LIMIT 1",
        params![project.as_str(), queue.as_str(), subscriber, now.0, except],
    )?;
    Ok(found.into_iter().next())
}

/// Fold step: a new subscription, unconfirmed.
pub fn insert(
    conn: &Connection,
    project: &ProjectId,
    queue: &QueueName,
    e: &SubscriptionCreated,
    at: Timestamp,
) -> Step {
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

/// Fold step: a subscription's new subscriber, TTL and options.
pub fn update(conn: &Connection, e: &SubscriptionUpdated) -> Step {
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

/// Fold step: a subscription confirmed or unconfirmed.
pub fn confirm(conn: &Connection, id: &SubscriptionId, confirmed: bool) -> Step {
    conn.prepare_cached("UPDATE subscriptions SET confirmed = ?2 WHERE id = ?1")?
        .execute(params![id.as_str(), confirmed])?;
    Ok(())
}

/// Fold step: subscriptions deleted or expired go.
pub fn delete_ids(conn: &Connection, ids: &[SubscriptionId]) -> Step {
    delete_rows(
        conn,
        "subscriptions",
        ids.iter().map(SubscriptionId::as_str),
    )
}
