//! The expiry decision: messages and claims whose time has passed are recorded as expired,
//! so the log tells the whole story and the read models shed them.

use std::collections::BTreeMap;

use super::Decision;
use crate::events::{ClaimExpired, MessagesExpired, NewEvent, SubscriptionsExpired};
use crate::model::{ProjectId, QueueName};
use crate::projections::Expired;

fn group<T>(items: Vec<(ProjectId, QueueName, T)>) -> BTreeMap<(ProjectId, QueueName), Vec<T>> {
    let mut by_queue: BTreeMap<(ProjectId, QueueName), Vec<T>> = BTreeMap::new();
    for (p, q, item) in items {
        by_queue.entry((p, q)).or_default().push(item);
    }
    by_queue
}

/// One `ClaimExpired` per claim, then one `MessagesExpired` and one `SubscriptionsExpired`
/// per queue. `limit` is how many of each kind were asked for: a kind that reached it may
/// have more due, which the outcome reports.
pub fn sweep(expired: Expired, limit: i64) -> Decision {
    let lengths = [
        expired.claims.len(),
        expired.messages.len(),
        expired.subscriptions.len(),
    ];
    let more = lengths
        .iter()
        .any(|&n| i64::try_from(n).unwrap_or(i64::MAX) >= limit);
    let mut events: Vec<NewEvent> = expired
        .claims
        .into_iter()
        .map(|(p, q, claim_id)| NewEvent::new(&p, &q, ClaimExpired { claim_id }))
        .collect();
    events.extend(
        group(expired.messages)
            .into_iter()
            .map(|((p, q), ids)| NewEvent::new(&p, &q, MessagesExpired { ids })),
    );
    events.extend(
        group(expired.subscriptions)
            .into_iter()
            .map(|((p, q), ids)| NewEvent::new(&p, &q, SubscriptionsExpired { ids })),
    );
    Decision::new(events, super::Outcome::Swept(more))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::names;
    use crate::commands::Outcome;
    use crate::events::Event;
    use crate::model::{ClaimId, MessageId};

    #[test]
    fn expired_messages_are_grouped_per_queue() {
        let (p, a) = names();
        let b = QueueName::new("r", &p).unwrap();
        let expired = Expired {
            claims: vec![(p.clone(), a.clone(), ClaimId::generate())],
            messages: vec![
                (p.clone(), a.clone(), MessageId::generate()),
                (p.clone(), b.clone(), MessageId::generate()),
                (p.clone(), a.clone(), MessageId::generate()),
            ],
            subscriptions: Vec::new(),
        };
        let d = sweep(expired, 3);
        assert!(
            matches!(d.outcome, Outcome::Swept(true)),
            "three messages reached 3"
        );
        assert_eq!(d.events.len(), 3);
        assert!(matches!(d.events[0].event, Event::ClaimExpired(_)));
        let Event::MessagesExpired(e) = &d.events[1].event else {
            panic!("expected MessagesExpired");
        };
        assert_eq!(d.events[1].queue, a);
        assert_eq!(e.ids.len(), 2);
    }

    #[test]
    fn a_sweep_under_its_limit_has_nothing_more_due() {
        let (p, a) = names();
        let expired = Expired {
            claims: vec![(p.clone(), a.clone(), ClaimId::generate())],
            messages: vec![(p.clone(), a.clone(), MessageId::generate())],
            subscriptions: Vec::new(),
        };
        assert!(matches!(sweep(expired, 2).outcome, Outcome::Swept(false)));
    }
}
