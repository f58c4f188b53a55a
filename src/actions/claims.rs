//! Claim actions: create, get, renew and release.

use super::{Action, Guard, On};
use crate::commands::{ClaimMessages, Command, RenewClaim};
use crate::error::ApiError;
use crate::model::{ClaimId, QueueName};
use crate::projections::{ClaimView, MessageView};

/// `claim_create`: the claim and its messages, or `None` when nothing could be claimed
/// (after waiting up to `.1` for messages, with long polling: see [`super::wait`]).
#[derive(Debug, Clone)]
pub struct ClaimCreate(pub ClaimMessages, pub Option<std::time::Duration>);

impl Action for ClaimCreate {
    type Reply = Option<(ClaimId, Vec<MessageView>)>;

    fn guard(&self, topics: bool) -> Guard {
        Guard::queue("claims:create", "POST", topics, &self.0.queue, "/claims")
    }

    async fn run(self, on: &On<'_>) -> Result<Self::Reply, ApiError> {
        let ClaimCreate(cmd, wait) = self;
        let Some(wait) = wait else {
            return on.submit(Command::ClaimMessages(cmd)).await;
        };
        let store = on.store_of(&cmd.queue).await?;
        let queue = (on.project(), &cmd.queue);
        let mut waiter = super::wait::Waiter::new(on.core, &store, queue, wait);
        loop {
            let claimed: Self::Reply = on.submit(Command::ClaimMessages(cmd.clone())).await?;
            if claimed.is_some() || !waiter.changed().await {
                return Ok(claimed);
            }
        }
    }
}

/// `claim_get`: a live claim with its messages.
#[derive(Debug, Clone)]
pub struct ClaimGet {
    pub queue: QueueName,
    pub id: String,
}

impl Action for ClaimGet {
    type Reply = ClaimView;

    fn guard(&self, topics: bool) -> Guard {
        let rest = format!("/claims/{}", self.id);
        Guard::queue("claims:get", "GET", topics, &self.queue, &rest)
    }

    async fn run(self, on: &On<'_>) -> Result<ClaimView, ApiError> {
        let claim = match ClaimId::parse(&self.id) {
            Some(claim_id) => {
                let store = &on.store_of(&self.queue).await?;
                store
                    .get_claim(on.project(), &self.queue, &claim_id, on.now)
                    .await?
            }
            None => None,
        };
        claim.ok_or_else(|| {
            ApiError::NotFound(format!(
                "Claim {} does not exist in queue {} for project {}",
                self.id,
                self.queue,
                on.project().as_str()
            ))
        })
    }
}

/// `claim_update`: a renewal.
#[derive(Debug, Clone)]
pub struct ClaimUpdate(pub RenewClaim);

impl Action for ClaimUpdate {
    type Reply = ();

    fn guard(&self, topics: bool) -> Guard {
        let rest = format!("/claims/{}", self.0.raw_id);
        Guard::queue("claims:update", "PATCH", topics, &self.0.queue, &rest)
    }

    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        on.submit_done(Command::RenewClaim(self.0)).await
    }
}

/// `claim_delete`: a release; an id that names no claim releases nothing.
#[derive(Debug, Clone)]
pub struct ClaimDelete {
    pub queue: QueueName,
    pub id: String,
}

impl Action for ClaimDelete {
    type Reply = ();

    fn guard(&self, topics: bool) -> Guard {
        let rest = format!("/claims/{}", self.id);
        Guard::queue("claims:delete", "DELETE", topics, &self.queue, &rest)
    }

    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        match ClaimId::parse(&self.id) {
            Some(claim_id) => {
                let queue = self.queue;
                on.submit_done(Command::ReleaseClaim { queue, claim_id })
                    .await
            }
            None => on.nothing_written().await,
        }
    }
}
