//! Recording what the notification engine did: the outcome of each delivery attempt, the
//! dead-lettering of notifications it gave up on, and how far through the log it has got.
//! The engine decides when to attempt and retry (`notify`); this decides only what is
//! appended, so the outcomes and the checkpoint become durable together.

use super::message::{self, PostMessages};
use super::{Decision, Outcome};
use crate::events::{Event, NewEvent, NotificationAbandoned, NotificationKind};
use crate::model::{Limits, NewMessage, ProjectId, QueueName, SubscriptionId, Timestamp};
use crate::projections::QueueState;

/// Outcomes of delivery attempts, and the engine's new checkpoint.
#[derive(Debug, Clone)]
pub struct RecordNotifications {
    /// In the order they happened.
    pub outcomes: Vec<NotificationOutcome>,
    /// Every delivery due for events up to here is resolved (delivered or abandoned).
    pub checkpoint: i64,
}

/// One attempt's outcome, on the subscription's queue.
#[derive(Debug, Clone)]
pub struct NotificationOutcome {
    pub project: ProjectId,
    pub queue: QueueName,
    /// `NotificationDelivered`, `NotificationFailed` or `NotificationAbandoned`.
    pub event: Event,
    /// For an abandoned notification: the queue of the project to post it to, and the
    /// message to post.
    pub dead_letter: Option<(QueueName, NewMessage)>,
}

/// The dead-letter queues the outcomes post to (each once, in first-seen order), so that
/// their state can be loaded before deciding.
pub fn dead_letter_queues(cmd: &RecordNotifications) -> Vec<(ProjectId, QueueName)> {
    let mut queues: Vec<(ProjectId, QueueName)> = Vec::new();
    for o in &cmd.outcomes {
        if let Some((q, _)) = &o.dead_letter {
            if !queues.iter().any(|(p, n)| p == &o.project && n == q) {
                queues.push((o.project.clone(), q.clone()));
            }
        }
    }
    queues
}

/// Appends every outcome, the deliveries to one subscription gathered in one event (at the
/// place of the first); abandoned notifications with a dead-letter queue are posted there
/// as one batch per queue, after the outcomes. A dead letter that cannot be posted (its
/// queue's size cap) is left out, and its `NotificationAbandoned` says no queue.
pub fn record(
    cmd: &RecordNotifications,
    dead_letter_states: &[Option<QueueState>],
    now: Timestamp,
    limits: &Limits,
) -> Decision {
    let targets = dead_letter_queues(cmd);
    let mut posts: Vec<Vec<NewMessage>> = vec![Vec::new(); targets.len()];
    let mut abandoned_at: Vec<Vec<usize>> = vec![Vec::new(); targets.len()];
    let mut events: Vec<NewEvent> = Vec::with_capacity(cmd.outcomes.len());
    // Where the deliveries to each subscription (and kind) of this command are gathered.
    let mut delivered_at: Vec<(SubscriptionId, NotificationKind, usize)> = Vec::new();
    for o in &cmd.outcomes {
        if let Event::NotificationDelivered(d) = &o.event {
            let same = |(s, k, _): &&(SubscriptionId, NotificationKind, usize)| {
                *s == d.subscription_id && *k == d.kind
            };
            if let Some(&(_, _, at)) = delivered_at.iter().find(same) {
                if let Event::NotificationDelivered(gathered) = &mut events[at].event {
                    gathered.deliveries.extend(d.deliveries.iter().cloned());
                    continue;
                }
            }
            delivered_at.push((d.subscription_id.clone(), d.kind, events.len()));
        }
        if let Some((q, m)) = &o.dead_letter {
            let i = targets
                .iter()
                .position(|(p, n)| p == &o.project && n == q)
                .expect("listed by dead_letter_queues");
            posts[i].push(m.clone());
            abandoned_at[i].push(events.len());
        }
        events.push(NewEvent::new(&o.project, &o.queue, o.event.clone()));
    }
    for (i, (project, queue)) in targets.iter().enumerate() {
        let messages = std::mem::take(&mut posts[i]);
        let body_len = messages.iter().map(|m| m.body.as_json().len() + 32).sum();
        let posted = PostMessages::new(queue.clone(), messages, body_len, limits).and_then(|c| {
            message::post(
                dead_letter_states.get(i).and_then(Option::as_ref),
                project,
                &c,
                now,
                limits,
            )
        });
        match posted {
            Ok(d) => events.extend(d.events),
            Err(e) => {
                tracing::warn!(queue = %queue, error = %e, "a notification dead-letter post failed");
                for &at in &abandoned_at[i] {
                    if let Event::NotificationAbandoned(NotificationAbandoned {
                        dead_letter_queue,
                        ..
                    }) = &mut events[at].event
                    {
                        *dead_letter_queue = None;
                    }
                }
            }
        }
    }
    Decision::new(events, Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Delivery, NotificationDelivered};
    use crate::model::{MessageBody, MessageId};
    use serde_json::json;

    fn outcome(p: &ProjectId, q: &QueueName, dead_letter: Option<&str>) -> NotificationOutcome {
        let event = match dead_letter {
            None => Event::NotificationDelivered(NotificationDelivered {
                subscription_id: SubscriptionId::from_stored("s".into()),
                subscriber: "http://a".into(),
                kind: NotificationKind::Notification,
                deliveries: vec![Delivery {
                    message_id: Some(MessageId::generate()),
                    attempt: 1,
                    status: 200,
                }],
            }),
            Some(dlq) => Event::NotificationAbandoned(NotificationAbandoned {
                subscription_id: SubscriptionId::generate(),
                subscriber: "http://a".into(),
                message_id: Some(MessageId::generate()),
                kind: NotificationKind::Notification,
                attempts: 3,
                reason: "HTTP 500".into(),
                dead_letter_queue: Some(QueueName::new(dlq, p).unwrap()),
            }),
        };
        NotificationOutcome {
            project: p.clone(),
            queue: q.clone(),
            event,
            dead_letter: dead_letter.map(|d| {
                let body = MessageBody::from_value(&json!({"reason": "HTTP 500"}));
                let message = NewMessage {
                    body,
                    ttl: None,
                    delay: None,
                    checksum: None,
                };
                (QueueName::new(d, p).unwrap(), message)
            }),
        }
    }

    #[test]
    fn given_outcomes_when_recorded_then_deliveries_are_gathered_and_dead_letters_posted_once_per_queue(
    ) {
        let p = ProjectId::new(Some("p")).unwrap();
        let q = QueueName::new("q", &p).unwrap();
        let cmd = RecordNotifications {
            outcomes: vec![
                outcome(&p, &q, None),
                outcome(&p, &q, Some("dead")),
                outcome(&p, &q, None),
                outcome(&p, &q, Some("dead")),
            ],
            checkpoint: 7,
        };
        assert_eq!(dead_letter_queues(&cmd).len(), 1);
        let d = record(&cmd, &[None], Timestamp(0), &Limits::default());
        let kinds: Vec<&str> = d.events.iter().map(|e| e.event.kind()).collect();
        assert_eq!(
            kinds,
            [
                "NotificationDelivered",
                "NotificationAbandoned",
                "NotificationAbandoned",
                "QueueCreated",
                "MessagesPosted"
            ]
        );
        let Event::NotificationDelivered(delivered) = &d.events[0].event else {
            panic!("expected the deliveries first");
        };
        assert_eq!(
            delivered.deliveries.len(),
            2,
            "both deliveries in one event"
        );
        let Event::MessagesPosted(posted) = &d.events[4].event else {
            panic!("expected a post");
        };
        assert_eq!(posted.messages.len(), 2);
        assert_eq!(d.events[4].queue.as_str(), "dead");
    }
}
