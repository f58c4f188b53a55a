//! The `catalogue` table in PostgreSQL: fold steps and queries.

use sqlx::{PgConnection, Row as _};

use super::{Entry, Kind, Listing, Row};
use crate::error::StoreError;
use crate::events::Envelope;
use crate::model::ProjectId;

/// Records the row of the event's project and name (replacing any).
pub async fn put(conn: &mut PgConnection, env: &Envelope, row: &Row<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO catalogue (kind, project, name, reference, document)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, project, name)
         DO UPDATE SET reference = excluded.reference, document = excluded.document",
    )
    .bind(row.kind.as_str())
    .bind(env.project.as_str())
    .bind(env.queue.as_str())
    .bind(row.reference)
    .bind(row.document.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops the row of the event's project and name.
pub async fn delete(conn: &mut PgConnection, kind: Kind, env: &Envelope) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM catalogue WHERE kind = $1 AND project = $2 AND name = $3")
        .bind(kind.as_str())
        .bind(env.project.as_str())
        .bind(env.queue.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(
    conn: &mut PgConnection,
    kind: Kind,
    project: &ProjectId,
    name: &str,
) -> Result<Option<Entry>, StoreError> {
    let row = sqlx::query(
        "SELECT name, reference, document FROM catalogue
         WHERE kind = $1 AND project = $2 AND name = $3",
    )
    .bind(kind.as_str())
    .bind(project.as_str())
    .bind(name)
    .fetch_optional(conn)
    .await?;
    row.map(|r| decoded(&r)).transpose()
}

/// A page of the project's rows of one kind, by name.
pub async fn list(
    conn: &mut PgConnection,
    project: &ProjectId,
    listing: &Listing,
) -> Result<Vec<Entry>, StoreError> {
    let rows = sqlx::query(
        "SELECT name, reference, document FROM catalogue
         WHERE kind = $1 AND project = $2 AND name > $3 ORDER BY name LIMIT $4",
    )
    .bind(listing.kind.as_str())
    .bind(project.as_str())
    .bind(&listing.marker)
    .bind(listing.limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(decoded).collect()
}

fn decoded(r: &sqlx::postgres::PgRow) -> Result<Entry, StoreError> {
    Ok(Entry {
        name: r.try_get("name")?,
        reference: r.try_get("reference")?,
        document: serde_json::from_str(&r.try_get::<String, _>("document")?)?,
    })
}

/// How many rows of one kind, in any project, refer to `reference` (a pool's queues).
pub async fn count_referring(
    conn: &mut PgConnection,
    kind: Kind,
    reference: &str,
) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM catalogue WHERE kind = $1 AND reference = $2")
            .bind(kind.as_str())
            .bind(reference)
            .fetch_one(conn)
            .await?,
    )
}
