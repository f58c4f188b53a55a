//! Loading what a command needs and deciding it: the one place that knows which read-model
//! state each command's decide function takes. Every backend's writer calls [`decide`]
//! inside its append transaction, reading through its own [`ReadModel`].

use crate::commands::{
    self, Catalogue, CatalogueState, ClaimMessages, Command, CreateSubscription, Decision,
    DeleteMessage, Scope, UpdateSubscription,
};
use crate::error::{ApiError, StoreError};
use crate::model::{Limits, ProjectId, QueueName, Timestamp};
use crate::projections::catalogue::{self, Kind, Listing};
use crate::projections::ReadModel;

/// Most expired messages (and claims, and subscriptions) one sweep records. A sweep is one
/// command in a writer's transaction, so it holds up the requests batched with it and queued
/// behind it: a backlog is recorded a hundred at a time, one sweep per transaction
/// ([`crate::store::Store::sweep`]), rather than all at once.
pub const SWEEP_BATCH: i64 = 100;

/// Whether the project may hold one more queue (counted only when a quota is set and the
/// queue is new).
async fn quota_for_new_queue<R: ReadModel>(
    c: &mut R,
    limits: &Limits,
    project: &ProjectId,
    exists: bool,
) -> Result<Result<(), ApiError>, StoreError> {
    if exists || limits.max_queues_per_project <= 0 {
        return Ok(Ok(()));
    }
    Ok(limits.queue_quota(c.queue_count(project).await?))
}

/// Loads what the command needs from the read models and lets its subject decide. The outer
/// error is a storage failure; the inner one the command's rejection.
pub async fn decide<R: ReadModel>(
    c: &mut R,
    limits: &Limits,
    scope: &Scope,
    command: &Command,
    now: Timestamp,
) -> Result<Result<Decision, ApiError>, StoreError> {
    let p = &scope.project;
    Ok(match command {
        Command::CreateQueue { queue, metadata } => {
            let exists = c.queue_state(p, queue).await?.is_some();
            match quota_for_new_queue(c, limits, p, exists).await? {
                Err(e) => Err(e),
                Ok(()) => Ok(commands::queue::create(exists, p, queue, metadata)),
            }
        }
        Command::UpdateQueue { queue, ops } => {
            let state = c.queue_state(p, queue).await?;
            let current = state.as_ref().map(|s| &s.metadata);
            commands::queue::update(current, p, queue, ops, limits)
        }
        Command::DeleteQueue { queue } => {
            let exists = c.queue_state(p, queue).await?.is_some();
            Ok(commands::queue::delete(exists, p, queue))
        }
        Command::PurgeQueue {
            queue,
            messages,
            subscriptions,
        } => {
            let purge = commands::queue::Purge {
                has_messages: c.has_messages(p, queue).await?,
                has_subscriptions: c.has_subscriptions(p, queue).await?,
                messages: *messages,
                subscriptions: *subscriptions,
            };
            Ok(commands::queue::purge(purge, p, queue))
        }
        Command::PostMessages(cmd) => {
            let state = c.queue_state(p, &cmd.queue).await?;
            let depth = match (state.is_some(), limits.max_messages_per_queue > 0) {
                (true, true) => c.live_messages(p, &cmd.queue, now).await?,
                _ => 0,
            };
            quota_for_new_queue(c, limits, p, state.is_some())
                .await?
                .and_then(|()| limits.message_quota(depth, cmd.messages.len()))
                .and_then(|()| commands::message::post(state.as_ref(), p, cmd, now, limits))
        }
        Command::DeleteMessage(cmd) => delete_one(c, p, cmd, now).await?,
        Command::DeleteMessages(cmd) => {
            let held = c.held_by(p, &cmd.queue, &cmd.ids, now).await?;
            commands::message::delete_many(&held, p, cmd)
        }
        Command::PopMessages(cmd) => {
            let available = c.available(p, &cmd.queue, cmd.count, now).await?;
            Ok(commands::message::pop(available, p, cmd))
        }
        Command::ClaimMessages(cmd) => Ok(claim(c, p, cmd, now).await?),
        Command::RenewClaim(cmd) => {
            let state = match &cmd.claim_id {
                Some(id) => c.live_claim(p, &cmd.queue, id, now).await?,
                None => None,
            };
            commands::claim::renew(state.as_ref(), p, cmd, now)
        }
        Command::ReleaseClaim { queue, claim_id } => {
            let exists = c.claim_exists(p, queue, claim_id).await?;
            Ok(commands::claim::release(exists, p, queue, claim_id))
        }
        Command::CreateSubscription(cmd) => create_subscription(c, p, cmd, now, limits).await?,
        Command::UpdateSubscription(cmd) => update_subscription(c, p, cmd, now).await?,
        Command::ConfirmSubscription {
            queue,
            id,
            confirmed,
        } => {
            let current = c.subscription(p, queue, id, now).await?;
            commands::subscription::confirm(current.as_ref(), p, queue, id, *confirmed)
        }
        Command::DeleteSubscription { queue, id } => {
            let exists = c.subscription(p, queue, id.as_str(), now).await?.is_some();
            Ok(commands::subscription::delete(exists, p, queue, id))
        }
        Command::RecordNotifications(cmd) => {
            let mut states = Vec::new();
            for (project, queue) in commands::notification::dead_letter_queues(cmd) {
                states.push(c.queue_state(&project, &queue).await?);
            }
            Ok(commands::notification::record(cmd, &states, now, limits))
        }
        Command::Sweep => {
            let expired = c.expired(now, SWEEP_BATCH).await?;
            Ok(commands::sweep::sweep(expired, SWEEP_BATCH))
        }
        Command::Catalogue(cmd) => {
            let state = catalogue_state(c, p, cmd).await?;
            commands::catalogue::decide(&state, p, cmd)
        }
    })
}

/// A claim: the oldest free messages, and the dead-letter queue's state when messages may
/// move there.
async fn claim<R: ReadModel>(
    c: &mut R,
    p: &ProjectId,
    cmd: &ClaimMessages,
    now: Timestamp,
) -> Result<Decision, StoreError> {
    let state = c.queue_state(p, &cmd.queue).await?;
    let mut candidates = Vec::new();
    let mut dead_letter_queue = None;
    if let Some(state) = &state {
        candidates = c.available(p, &cmd.queue, cmd.limit, now).await?;
        let dl = state.metadata.dead_letter();
        if let Some(name) = dl.and_then(|d| QueueName::new(&d.queue, p).ok()) {
            let dlq_state = c.queue_state(p, &name).await?;
            dead_letter_queue = Some((name, dlq_state));
        }
    }
    let input = commands::claim::ClaimInput {
        queue: state.as_ref(),
        candidates,
        dead_letter_queue: dead_letter_queue
            .as_ref()
            .map(|(n, s)| (n.clone(), s.as_ref())),
    };
    Ok(commands::claim::claim(input, p, cmd, now))
}

/// A single delete: the message's claim, and whether the claim the caller names is live.
async fn delete_one<R: ReadModel>(
    c: &mut R,
    p: &ProjectId,
    cmd: &DeleteMessage,
    now: Timestamp,
) -> Result<Result<Decision, ApiError>, StoreError> {
    let ids: Vec<_> = cmd.id.iter().cloned().collect();
    let held = c.held_by(p, &cmd.queue, &ids, now).await?;
    let given_claim_live = match &cmd.claim_id {
        Some(claim) => c.live_claim(p, &cmd.queue, claim, now).await?.is_some(),
        None => false,
    };
    let target = held.first().map(|(_, h)| h);
    Ok(commands::message::delete_one(
        target,
        given_claim_live,
        p,
        cmd,
    ))
}

/// A subscription create: whether the queue exists, and a live subscription with the same
/// subscriber.
async fn create_subscription<R: ReadModel>(
    c: &mut R,
    p: &ProjectId,
    cmd: &CreateSubscription,
    now: Timestamp,
    limits: &Limits,
) -> Result<Result<Decision, ApiError>, StoreError> {
    let subscriber = cmd.spec.subscriber.as_deref().unwrap_or("");
    let input = commands::subscription::CreateInput {
        queue_exists: c.queue_state(p, &cmd.queue).await?.is_some(),
        same_subscriber: c
            .subscription_of(p, &cmd.queue, subscriber, None, now)
            .await?,
    };
    Ok(commands::subscription::create(input, p, cmd, now, limits))
}

/// A subscription update: the subscription, and whether another has the new subscriber.
async fn update_subscription<R: ReadModel>(
    c: &mut R,
    p: &ProjectId,
    cmd: &UpdateSubscription,
    now: Timestamp,
) -> Result<Result<Decision, ApiError>, StoreError> {
    let current = c.subscription(p, &cmd.queue, &cmd.id, now).await?;
    let duplicate = match (&current, &cmd.spec.subscriber) {
        (Some(cur), Some(subscriber)) => c
            .subscription_of(p, &cmd.queue, subscriber, Some(&cur.id), now)
            .await?
            .is_some(),
        _ => false,
    };
    Ok(commands::subscription::update(
        current.as_ref(),
        duplicate,
        p,
        cmd,
        now,
    ))
}

/// What a catalogue change reads: every pool, and what it names: a flavor of the caller's
/// project, a queue's place, a pool's queues.
async fn catalogue_state<R: ReadModel>(
    c: &mut R,
    p: &ProjectId,
    cmd: &Catalogue,
) -> Result<CatalogueState, StoreError> {
    let entries = c
        .catalogue(&ProjectId::catalogue(), &Listing::all(Kind::Pool))
        .await?;
    let pools = catalogue::pools(entries)?;
    let mut state = CatalogueState {
        pools,
        ..Default::default()
    };
    let flavor = match cmd {
        Catalogue::UpdateFlavor { name, .. } | Catalogue::DeleteFlavor { name } => {
            Some(name.as_str())
        }
        Catalogue::PlaceQueue { flavor, .. } => flavor.as_deref(),
        _ => None,
    };
    if let Some(flavor) = flavor {
        state.flavor_exists = c.catalogue_entry(Kind::Flavor, p, flavor).await?.is_some();
    }
    match cmd {
        Catalogue::PlaceQueue { queue, .. } | Catalogue::UnplaceQueue { queue } => {
            let placed = c
                .catalogue_entry(Kind::Placement, p, queue.as_str())
                .await?;
            state.placement = placed.and_then(|e| e.reference);
            state.queue_exists = c.queue_state(p, queue).await?.is_some();
        }
        Catalogue::DeletePool { name } => {
            state.held_queues = c.count_referring(Kind::Placement, name.as_str()).await?;
        }
        _ => {}
    }
    Ok(state)
}
