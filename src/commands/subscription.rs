//! Decisions about subscriptions: create (idempotent while unconfirmed), update, confirm,
//! delete. Delivery of notifications is not decided here.

use super::{Decision, Outcome};
use crate::error::ApiError;
use crate::events::{
    NewEvent, QueueCreated, SubscriptionConfirmationRequested, SubscriptionConfirmed,
    SubscriptionCreated, SubscriptionDeleted, SubscriptionUpdated,
};
use crate::model::{Limits, ProjectId, QueueName, SubscriptionId, SubscriptionSpec, Timestamp};
use crate::projections::SubscriptionView;

/// Registering a subscriber on a queue.
#[derive(Debug, Clone)]
pub struct CreateSubscription {
    pub queue: QueueName,
    /// The id a new subscription gets, generated at construction.
    pub id: SubscriptionId,
    pub spec: SubscriptionSpec,
}

impl CreateSubscription {
    pub fn new(queue: QueueName, spec: SubscriptionSpec) -> Self {
        CreateSubscription {
            queue,
            id: SubscriptionId::generate(),
            spec,
        }
    }
}

/// Changing a subscription's subscriber, TTL or options.
#[derive(Debug, Clone)]
pub struct UpdateSubscription {
    pub queue: QueueName,
    pub id: String,
    pub spec: SubscriptionSpec,
}

/// What a create needs to know.
#[derive(Debug, Clone)]
pub struct CreateInput {
    pub queue_exists: bool,
    /// A live subscription of the queue with the same subscriber.
    pub same_subscriber: Option<SubscriptionView>,
}

/// Create: a duplicate subscriber returns the existing id while unconfirmed, and conflicts
/// once confirmed (as Zaqar does). The queue is created if needed.
pub fn create(
    input: CreateInput,
    project: &ProjectId,
    cmd: &CreateSubscription,
    now: Timestamp,
    limits: &Limits,
) -> Result<Decision, ApiError> {
    if let Some(existing) = input.same_subscriber {
        if existing.confirmed {
            return Err(ApiError::Conflict(
                "Such subscription already exists. Subscriptions are unique by project + queue \
                 + subscriber URI."
                    .into(),
            ));
        }
        // Asked again while unconfirmed: the confirmation request goes out again.
        let events = match limits.require_confirmation {
            true => vec![NewEvent::new(
                project,
                &cmd.queue,
                SubscriptionConfirmationRequested {
                    id: existing.id.clone(),
                },
            )],
            false => Vec::new(),
        };
        return Ok(Decision::new(
            events,
            Outcome::SubscriptionCreated(existing.id),
        ));
    }
    let mut events = Vec::with_capacity(2);
    if !input.queue_exists {
        let created = QueueCreated {
            metadata: Default::default(),
        };
        events.push(NewEvent::new(project, &cmd.queue, created));
    }
    let ttl = cmd.spec.ttl.unwrap_or(limits.default_subscription_ttl);
    let event = SubscriptionCreated {
        id: cmd.id.clone(),
        subscriber: cmd.spec.subscriber.clone().unwrap_or_default(),
        ttl,
        options: cmd.spec.options.clone().unwrap_or_default(),
        expires_at: now.plus_secs(ttl),
    };
    events.push(NewEvent::new(project, &cmd.queue, event));
    Ok(Decision::new(
        events,
        Outcome::SubscriptionCreated(cmd.id.clone()),
    ))
}

fn not_found(id: &str, queue: &QueueName, project: &ProjectId) -> ApiError {
    ApiError::NotFound(format!(
        "Subscription {id} does not exist in queue {queue} for project {}",
        project.as_str()
    ))
}

/// Update: replaces the given fields; a new TTL restarts the subscription's lifetime.
pub fn update(
    current: Option<&SubscriptionView>,
    duplicate: bool,
    project: &ProjectId,
    cmd: &UpdateSubscription,
    now: Timestamp,
) -> Result<Decision, ApiError> {
    let current = current.ok_or_else(|| not_found(&cmd.id, &cmd.queue, project))?;
    if duplicate {
        return Err(ApiError::Conflict(
            "A subscription with this subscriber already exists on the queue.".into(),
        ));
    }
    let ttl = cmd.spec.ttl.unwrap_or(current.ttl);
    let expires_at = match cmd.spec.ttl {
        Some(ttl) => now.plus_secs(ttl),
        None => current.expires_at,
    };
    let event = SubscriptionUpdated {
        id: current.id.clone(),
        subscriber: cmd
            .spec
            .subscriber
            .clone()
            .unwrap_or_else(|| current.subscriber.clone()),
        ttl,
        options: cmd
            .spec
            .options
            .clone()
            .unwrap_or_else(|| current.options.clone()),
        expires_at,
    };
    Ok(Decision::new(
        vec![NewEvent::new(project, &cmd.queue, event)],
        Outcome::Done,
    ))
}

/// Confirm (or unconfirm) a subscription.
pub fn confirm(
    current: Option<&SubscriptionView>,
    project: &ProjectId,
    queue: &QueueName,
    raw_id: &str,
    confirmed: bool,
) -> Result<Decision, ApiError> {
    let current = current.ok_or_else(|| not_found(raw_id, queue, project))?;
    let event = SubscriptionConfirmed {
        id: current.id.clone(),
        confirmed,
    };
    Ok(Decision::new(
        vec![NewEvent::new(project, queue, event)],
        Outcome::Done,
    ))
}

/// Delete: removing an unknown subscription is not an error.
pub fn delete(
    exists: bool,
    project: &ProjectId,
    queue: &QueueName,
    id: &SubscriptionId,
) -> Decision {
    if !exists {
        return Decision::nothing();
    }
    let event = SubscriptionDeleted { id: id.clone() };
    Decision::new(vec![NewEvent::new(project, queue, event)], Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;
    use serde_json::Map;

    fn view(confirmed: bool) -> SubscriptionView {
        SubscriptionView {
            id: SubscriptionId::generate(),
            source: QueueName::from_stored("q".into()),
            subscriber: "http://a".into(),
            ttl: 100,
            options: Map::new(),
            created_at: Timestamp(0),
            expires_at: Timestamp(100_000),
            confirmed,
        }
    }

    fn cmd() -> (ProjectId, CreateSubscription) {
        let p = ProjectId::new(Some("p")).unwrap();
        let q = QueueName::new("q", &p).unwrap();
        let spec = SubscriptionSpec {
            subscriber: Some("http://a".into()),
            ttl: None,
            options: None,
        };
        (p, CreateSubscription::new(q, spec))
    }

    #[test]
    fn given_unconfirmed_duplicate_when_created_then_existing_id_is_returned() {
        let (p, c) = cmd();
        let existing = view(false);
        let input = CreateInput {
            queue_exists: true,
            same_subscriber: Some(existing.clone()),
        };
        let d = create(input, &p, &c, Timestamp(0), &Limits::default()).unwrap();
        assert!(d.events.is_empty());
        assert!(matches!(d.outcome, Outcome::SubscriptionCreated(id) if id == existing.id));
    }

    #[test]
    fn given_confirmed_duplicate_when_created_then_conflict() {
        let (p, c) = cmd();
        let input = CreateInput {
            queue_exists: true,
            same_subscriber: Some(view(true)),
        };
        assert!(matches!(
            create(input, &p, &c, Timestamp(0), &Limits::default()),
            Err(ApiError::Conflict(_))
        ));
    }

    #[test]
    fn given_no_queue_when_created_then_queue_and_subscription_are_created() {
        let (p, c) = cmd();
        let input = CreateInput {
            queue_exists: false,
            same_subscriber: None,
        };
        let d = create(input, &p, &c, Timestamp(0), &Limits::default()).unwrap();
        assert!(matches!(d.events[0].event, Event::QueueCreated(_)));
        let Event::SubscriptionCreated(s) = &d.events[1].event else {
            panic!("expected SubscriptionCreated");
        };
        assert_eq!(s.ttl, 3600);
        assert_eq!(s.expires_at, Timestamp(3_600_000));
    }
}
