//! The `message_events` table: for every message, the log positions of the events that
//! concern it (posting, claims and their renewal, release and expiry, dead-lettering,
//! deletion, expiry, purge). Events about a claim or a whole queue are indexed against the
//! messages they touched at the time, so a message's history survives its deletion. The
//! index is written by the fold; this file reads it.

use sqlx::SqliteConnection;

use crate::error::StoreError;
use crate::model::MessageId;

/// The log positions of a message's events, in order.
pub async fn positions(
    conn: &mut SqliteConnection,
    id: &MessageId,
) -> Result<Vec<i64>, StoreError> {
    let seqs =
        sqlx::query_scalar("SELECT seq FROM message_events WHERE message_id = ?1 ORDER BY seq")
            .bind(id.as_str())
            .fetch_all(conn)
            .await?;
    Ok(seqs)
}
