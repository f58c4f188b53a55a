//! Subscription actions: create, list, get, update, confirm and delete.

use super::{Action, Guard, On};
use crate::commands::{Command, CreateSubscription, UpdateSubscription};
use crate::error::ApiError;
use crate::model::subscriber::{needs_trust, TRUST_ID};
use crate::model::{QueueName, SubscriptionId};
use crate::projections::{Page, SubscriptionView};

/// `subscription_create`: the id of the new subscription, or of the existing unconfirmed
/// one with the same subscriber (compare with the command's own id to tell them apart).
#[derive(Debug, Clone)]
pub struct SubscriptionCreate(pub CreateSubscription);

impl Action for SubscriptionCreate {
    type Reply = SubscriptionId;

    fn guard(&self, topics: bool) -> Guard {
        Guard::queue(
            "subscription:create",
            "POST",
            topics,
            &self.0.queue,
            "/subscriptions",
        )
    }

    /// A `trust+` subscriber without a `trust_id` gets one first, under Keystone: a trust
    /// from the caller, with the caller's roles, for the subscription's lifetime.
    async fn run(mut self, on: &On<'_>) -> Result<SubscriptionId, ApiError> {
        let spec = &mut self.0.spec;
        let wants_trust = spec.subscriber.as_deref().is_some_and(needs_trust)
            && !spec
                .options
                .as_ref()
                .is_some_and(|o| o.contains_key(TRUST_ID));
        if wants_trust {
            let ttl = spec.ttl.unwrap_or(on.core.limits.default_subscription_ttl);
            let principal = &on.ctx.principal;
            if let Some(trust) = on.core.auth.create_trust(principal, ttl, on.now).await? {
                let options = spec.options.get_or_insert_with(Default::default);
                options.insert(TRUST_ID.into(), trust.into());
            }
        }
        on.submit(Command::CreateSubscription(self.0)).await
    }
}

/// `subscription_list`: a page of a queue's live subscriptions.
#[derive(Debug, Clone)]
pub struct SubscriptionList {
    pub queue: QueueName,
    pub page: Page,
}

impl Action for SubscriptionList {
    type Reply = Vec<SubscriptionView>;

    fn guard(&self, topics: bool) -> Guard {
        Guard::queue(
            "subscription:get_all",
            "GET",
            topics,
            &self.queue,
            "/subscriptions",
        )
    }

    async fn run(self, on: &On<'_>) -> Result<Vec<SubscriptionView>, ApiError> {
        let store = &on.store_of(&self.queue).await?;
        Ok(store
            .list_subscriptions(on.project(), &self.queue, &self.page, on.now)
            .await?)
    }
}

/// `subscription_get`: one live subscription.
#[derive(Debug, Clone)]
pub struct SubscriptionGet {
    pub queue: QueueName,
    pub id: String,
}

impl Action for SubscriptionGet {
    type Reply = SubscriptionView;

    fn guard(&self, topics: bool) -> Guard {
        let rest = format!("/subscriptions/{}", self.id);
        Guard::queue("subscription:get", "GET", topics, &self.queue, &rest)
    }

    async fn run(self, on: &On<'_>) -> Result<SubscriptionView, ApiError> {
        let store = &on.store_of(&self.queue).await?;
        let found = store
            .get_subscription(on.project(), &self.queue, &self.id, on.now)
            .await?;
        found.ok_or_else(|| {
            ApiError::NotFound(format!(
                "Subscription {} does not exist in queue {} for project {}",
                self.id,
                self.queue,
                on.project().as_str()
            ))
        })
    }
}

/// `PATCH` of a subscription.
#[derive(Debug, Clone)]
pub struct SubscriptionUpdate(pub UpdateSubscription);

impl Action for SubscriptionUpdate {
    type Reply = ();

    fn guard(&self, topics: bool) -> Guard {
        let rest = format!("/subscriptions/{}", self.0.id);
        Guard::queue("subscription:update", "PATCH", topics, &self.0.queue, &rest)
    }

    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        on.submit_done(Command::UpdateSubscription(self.0)).await
    }
}

/// `PUT …/confirm`: confirms (or revokes) a subscription.
#[derive(Debug, Clone)]
pub struct SubscriptionConfirm {
    pub queue: QueueName,
    pub id: String,
    pub confirmed: bool,
}

impl Action for SubscriptionConfirm {
    type Reply = ();

    fn guard(&self, topics: bool) -> Guard {
        let rest = format!("/subscriptions/{}/confirm", self.id);
        Guard::queue("subscription:confirm", "PUT", topics, &self.queue, &rest)
    }

    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        on.submit_done(Command::ConfirmSubscription {
            queue: self.queue,
            id: self.id,
            confirmed: self.confirmed,
        })
        .await
    }
}

/// `subscription_delete`; an id that names no subscription deletes nothing.
#[derive(Debug, Clone)]
pub struct SubscriptionDelete {
    pub queue: QueueName,
    pub id: String,
}

impl Action for SubscriptionDelete {
    type Reply = ();

    fn guard(&self, topics: bool) -> Guard {
        let rest = format!("/subscriptions/{}", self.id);
        Guard::queue("subscription:delete", "DELETE", topics, &self.queue, &rest)
    }

    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        match SubscriptionId::parse(&self.id) {
            Some(id) => {
                let queue = self.queue;
                on.submit_done(Command::DeleteSubscription { queue, id })
                    .await
            }
            None => on.nothing_written().await,
        }
    }
}
