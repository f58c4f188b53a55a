//! The `message_events` table: for every message, the log positions of the events that
//! concern it (posting, claims and their renewal, release and expiry, dead-lettering,
//! deletion, expiry, purge). Events about a claim or a whole queue are indexed against the
//! messages they touched at the time, so a message's history survives its deletion.

use sqlx::{PgConnection, QueryBuilder};

use crate::error::StoreError;
use crate::events::Envelope;
use crate::model::{ClaimId, MessageId};
use crate::projections::fold::Mentions;

/// Indexes one event against the messages it mentions; runs before the event is folded into
/// the other tables.
pub async fn index(
    conn: &mut PgConnection,
    env: &Envelope,
    mentions: Mentions<'_>,
) -> Result<(), StoreError> {
    match mentions {
        Mentions::Messages(ids) => insert(conn, &ids, env.seq).await,
        Mentions::Claim(claim) => held_by(conn, claim, env.seq).await,
        Mentions::Queue => {
            sqlx::query(
                "INSERT INTO message_events (message_id, seq)
                 SELECT id, $3 FROM messages WHERE project = $1 AND queue = $2
                 ON CONFLICT DO NOTHING",
            )
            .bind(env.project.as_str())
            .bind(env.queue.as_str())
            .bind(env.seq)
            .execute(conn)
            .await?;
            Ok(())
        }
        Mentions::Nothing => Ok(()),
    }
}

async fn insert(conn: &mut PgConnection, ids: &[&MessageId], seq: i64) -> Result<(), StoreError> {
    for chunk in ids.chunks(crate::projections::messages::postgres::ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::new("INSERT INTO message_events (message_id, seq) ");
        insert.push_values(chunk, |mut row, id| {
            row.push_bind(id.as_str()).push_bind(seq);
        });
        insert.push(" ON CONFLICT DO NOTHING");
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn held_by(conn: &mut PgConnection, claim: &ClaimId, seq: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO message_events (message_id, seq)
         SELECT id, $2 FROM messages WHERE claim_id = $1
         ON CONFLICT DO NOTHING",
    )
    .bind(claim.as_str())
    .bind(seq)
    .execute(conn)
    .await?;
    Ok(())
}

/// The log positions of a message's events, in order.
pub async fn positions(conn: &mut PgConnection, id: &MessageId) -> Result<Vec<i64>, StoreError> {
    let seqs =
        sqlx::query_scalar("SELECT seq FROM message_events WHERE message_id = $1 ORDER BY seq")
            .bind(id.as_str())
            .fetch_all(conn)
            .await?;
    Ok(seqs)
}
