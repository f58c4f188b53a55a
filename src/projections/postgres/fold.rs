//! The PostgreSQL steps of the fold (its rules: [`crate::projections::fold`]), on the
//! node's writer connection inside the append transaction; each step is a query of the
//! table file it concerns.

use sqlx::PgConnection;

use super::delete_queue_rows;
use crate::events::{
    ClaimRenewed, Envelope, MessageDeadLettered, MessagesClaimed, MessagesPosted,
    SubscriptionCreated, SubscriptionUpdated,
};
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, SubscriptionId, Timestamp};
use crate::projections::catalogue::{postgres as catalogue, Kind, Row};
use crate::projections::claims::postgres as claims;
use crate::projections::fold::{self as rules, client_of, Mentions, Metadata, Rows, Step, Tables};
use crate::projections::history::postgres as history;
use crate::projections::messages::postgres as messages;
use crate::projections::queues::postgres as queues;
use crate::projections::subscriptions::postgres as subscriptions;

/// Folds one event into the read models.
pub async fn apply(conn: &mut PgConnection, env: &Envelope) -> Step {
    rules::apply(conn, env).await
}

impl Tables for PgConnection {
    async fn index(&mut self, env: &Envelope, mentions: Mentions<'_>) -> Step {
        history::index(self, env, mentions).await
    }

    async fn insert_queue(&mut self, env: &Envelope, metadata: &Metadata) -> Step {
        queues::insert(self, &env.project, &env.queue, metadata, env.at).await
    }

    async fn set_metadata(&mut self, env: &Envelope, metadata: &Metadata) -> Step {
        queues::set_metadata(self, &env.project, &env.queue, metadata).await
    }

    async fn delete_queue(&mut self, env: &Envelope) -> Step {
        queues::delete(self, &env.project, &env.queue).await
    }

    async fn delete_rows(&mut self, rows: Rows, env: &Envelope) -> Step {
        delete_queue_rows(self, rows.table(), &env.project, &env.queue).await
    }

    async fn advance_marker(&mut self, project: &ProjectId, queue: &QueueName, next: i64) -> Step {
        queues::advance_marker(self, project, queue, next).await
    }

    async fn insert_messages(&mut self, env: &Envelope, e: &MessagesPosted) -> Step {
        let (project, queue, client) = (&env.project, &env.queue, client_of(env));
        messages::insert(self, project, queue, client, env.at, &e.messages).await
    }

    async fn delete_messages(&mut self, _: &Envelope, ids: &[MessageId]) -> Step {
        messages::delete_ids(self, ids).await
    }

    async fn move_message(&mut self, e: &MessageDeadLettered) -> Step {
        messages::move_to(self, e).await
    }

    async fn insert_claim(&mut self, env: &Envelope, e: &MessagesClaimed) -> Step {
        claims::insert(self, &env.project, &env.queue, e, env.at).await?;
        messages::claim(self, e).await
    }

    async fn renew_claim(&mut self, e: &ClaimRenewed, at: Timestamp) -> Step {
        claims::renew(self, e, at).await?;
        messages::renew_claim(self, e).await
    }

    async fn end_claim(&mut self, claim_id: &ClaimId) -> Step {
        messages::unclaim(self, claim_id).await?;
        claims::delete(self, claim_id).await
    }

    async fn insert_subscription(&mut self, env: &Envelope, e: &SubscriptionCreated) -> Step {
        subscriptions::insert(self, &env.project, &env.queue, e, env.at).await
    }

    async fn update_subscription(&mut self, e: &SubscriptionUpdated) -> Step {
        subscriptions::update(self, e).await
    }

    async fn confirm_subscription(&mut self, id: &SubscriptionId, confirmed: bool) -> Step {
        subscriptions::confirm(self, id, confirmed).await
    }

    async fn delete_subscriptions(&mut self, ids: &[SubscriptionId]) -> Step {
        subscriptions::delete_ids(self, ids).await
    }

    async fn put_entry(&mut self, env: &Envelope, row: &Row<'_>) -> Step {
        catalogue::put(self, env, row).await
    }

    async fn delete_entry(&mut self, kind: Kind, env: &Envelope) -> Step {
        catalogue::delete(self, kind, env).await
    }
}
