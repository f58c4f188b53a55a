//! The PostgreSQL steps of the fold (its rules: [`crate::projections::fold`]), on the
//! node's writer connection inside the append transaction; each step is a query of the
//! table file it concerns.

use sqlx::PgConnection;

use super::{claims, delete_queue_rows, history, messages, queues, subscriptions};
use crate::error::StoreError;
use crate::events::{
    ClaimRenewed, Envelope, MessageDeadLettered, MessagesClaimed, PostedMessage,
    SubscriptionCreated, SubscriptionUpdated,
};
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, SubscriptionId, Timestamp};
use crate::projections::fold::{self as rules, Mentions, Metadata, Rows, Tables};

/// Folds one event into the read models.
pub async fn apply(conn: &mut PgConnection, env: &Envelope) -> Result<(), StoreError> {
    rules::apply(conn, env).await
}

impl Tables for PgConnection {
    async fn index(&mut self, env: &Envelope, mentions: Mentions<'_>) -> Result<(), StoreError> {
        history::index(self, env, mentions).await
    }

    async fn insert_queue(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        metadata: &Metadata,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        queues::insert(self, project, queue, metadata, at).await
    }

    async fn set_metadata(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        metadata: &Metadata,
    ) -> Result<(), StoreError> {
        queues::set_metadata(self, project, queue, metadata).await
    }

    async fn delete_queue(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<(), StoreError> {
        queues::delete(self, project, queue).await
    }

    async fn delete_rows(
        &mut self,
        rows: Rows,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<(), StoreError> {
        delete_queue_rows(self, rows.table(), project, queue).await
    }

    async fn advance_marker(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        next: i64,
    ) -> Result<(), StoreError> {
        queues::advance_marker(self, project, queue, next).await
    }

    async fn insert_messages(
        &mut self,
        env: &Envelope,
        client_id: &str,
        posted: &[PostedMessage],
    ) -> Result<(), StoreError> {
        messages::insert(self, &env.project, &env.queue, client_id, env.at, posted).await
    }

    async fn delete_messages(&mut self, ids: &[MessageId]) -> Result<(), StoreError> {
        messages::delete_ids(self, ids).await
    }

    async fn move_message(&mut self, e: &MessageDeadLettered) -> Result<(), StoreError> {
        messages::move_to(self, e).await
    }

    async fn insert_claim(
        &mut self,
        env: &Envelope,
        e: &MessagesClaimed,
    ) -> Result<(), StoreError> {
        claims::insert(self, &env.project, &env.queue, e, env.at).await?;
        messages::claim(self, e).await
    }

    async fn renew_claim(&mut self, e: &ClaimRenewed, at: Timestamp) -> Result<(), StoreError> {
        claims::renew(self, e, at).await?;
        messages::renew_claim(self, e).await
    }

    async fn end_claim(&mut self, claim_id: &ClaimId) -> Result<(), StoreError> {
        messages::unclaim(self, claim_id).await?;
        claims::delete(self, claim_id).await
    }

    async fn insert_subscription(
        &mut self,
        env: &Envelope,
        e: &SubscriptionCreated,
    ) -> Result<(), StoreError> {
        subscriptions::insert(self, &env.project, &env.queue, e, env.at).await
    }

    async fn update_subscription(&mut self, e: &SubscriptionUpdated) -> Result<(), StoreError> {
        subscriptions::update(self, e).await
    }

    async fn confirm_subscription(
        &mut self,
        id: &SubscriptionId,
        confirmed: bool,
    ) -> Result<(), StoreError> {
        subscriptions::confirm(self, id, confirmed).await
    }

    async fn delete_subscriptions(&mut self, ids: &[SubscriptionId]) -> Result<(), StoreError> {
        subscriptions::delete_ids(self, ids).await
    }
}
