//! The `message_events` table: for every message, the log positions of the events that
//! concern it (posting, claims and their renewal, release and expiry, dead-lettering,
//! deletion, expiry, purge). Events about a claim or a whole queue are indexed against the
//! messages they touched at the time, so a message's history survives its deletion.

use sqlx::{PgConnection, QueryBuilder};

use crate::error::StoreError;
use crate::events::{Envelope, Event};
use crate::model::{ClaimId, MessageId};

/// Indexes one event; must run before the event is folded into the other tables.
pub async fn record(conn: &mut PgConnection, env: &Envelope) -> Result<(), StoreError> {
    match &env.event {
        Event::MessagesPosted(e) => {
            let ids: Vec<&MessageId> = e.messages.iter().map(|m| &m.id).collect();
            insert(conn, &ids, env.seq).await
        }
        Event::MessagesClaimed(e) => {
            let ids: Vec<&MessageId> = e.messages.iter().map(|m| &m.id).collect();
            insert(conn, &ids, env.seq).await
        }
        Event::MessagesDeleted(e) => insert(conn, &e.ids.iter().collect::<Vec<_>>(), env.seq).await,
        Event::MessagesPopped(e) => insert(conn, &e.ids.iter().collect::<Vec<_>>(), env.seq).await,
        Event::MessagesExpired(e) => insert(conn, &e.ids.iter().collect::<Vec<_>>(), env.seq).await,
        Event::MessageDeadLettered(e) => insert(conn, &[&e.id], env.seq).await,
        Event::NotificationDelivered(e) => {
            insert(conn, &e.message_ids().collect::<Vec<_>>(), env.seq).await
        }
        Event::NotificationFailed(e) => {
            insert(conn, &e.message_id.iter().collect::<Vec<_>>(), env.seq).await
        }
        Event::NotificationAbandoned(e) => {
            insert(conn, &e.message_id.iter().collect::<Vec<_>>(), env.seq).await
        }
        Event::ClaimRenewed(e) => held_by(conn, &e.claim_id, env.seq).await,
        Event::ClaimReleased(e) => held_by(conn, &e.claim_id, env.seq).await,
        Event::ClaimExpired(e) => held_by(conn, &e.claim_id, env.seq).await,
        Event::QueuePurged(_) | Event::QueueDeleted(_) => {
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
        Event::QueueCreated(_)
        | Event::QueueMetadataUpdated(_)
        | Event::SubscriptionCreated(_)
        | Event::SubscriptionUpdated(_)
        | Event::SubscriptionConfirmed(_)
        | Event::SubscriptionDeleted(_)
        | Event::SubscriptionsPurged(_)
        | Event::SubscriptionsExpired(_)
        | Event::SubscriptionConfirmationRequested(_) => Ok(()),
    }
}

async fn insert(conn: &mut PgConnection, ids: &[&MessageId], seq: i64) -> Result<(), StoreError> {
    for chunk in ids.chunks(super::messages::ROWS_PER_STATEMENT) {
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
