//! Decisions about claims: taking messages (with dead-lettering), renewing and releasing.

use super::{Decision, Outcome};
use crate::error::ApiError;
use crate::events::{
    ClaimReleased, ClaimRenewed, ClaimedMessage, ExtendedMessage, MessageDeadLettered,
    MessagesClaimed, NewEvent, QueueCreated,
};
use crate::model::{ClaimId, Limits, ProjectId, QueueName, Timestamp};
use crate::projections::{ClaimState, MessageView, QueueState};

/// Claiming up to `limit` messages for `ttl` seconds.
#[derive(Debug, Clone)]
pub struct ClaimMessages {
    pub queue: QueueName,
    /// The id the claim will get, generated at construction.
    pub claim_id: ClaimId,
    pub ttl: i64,
    pub grace: i64,
    pub limit: i64,
}

impl ClaimMessages {
    pub fn new(
        queue: QueueName,
        ttl: Option<i64>,
        grace: Option<i64>,
        limit: Option<i64>,
        limits: &Limits,
    ) -> Result<Self, ApiError> {
        Ok(ClaimMessages {
            queue,
            claim_id: ClaimId::generate(),
            ttl: limits.claim_ttl(ttl.unwrap_or(limits.default_claim_ttl))?,
            grace: limits.claim_grace(grace.unwrap_or(limits.default_claim_grace))?,
            limit: limits.claim_limit(limit)?,
        })
    }
}

/// What a claim needs to know: the queue, the oldest claimable messages (at most `limit`)
/// and, when the queue dead-letters, the dead-letter queue's name and state.
#[derive(Debug, Clone)]
pub struct ClaimInput<'a> {
    pub queue: Option<&'a QueueState>,
    pub candidates: Vec<MessageView>,
    pub dead_letter_queue: Option<(QueueName, Option<&'a QueueState>)>,
}

/// Claim: each candidate is either claimed (its count incremented, its lifetime extended to
/// outlive the claim by `grace`) or, if it has been claimed `_max_claim_count` times already
/// on a dead-lettering queue, moved unclaimed to the dead-letter queue.
pub fn claim(
    input: ClaimInput<'_>,
    project: &ProjectId,
    cmd: &ClaimMessages,
    now: Timestamp,
) -> Decision {
    let Some(queue) = input.queue else {
        return Decision::new(Vec::new(), Outcome::Claimed(None));
    };
    let dead_letter = queue.metadata.dead_letter();
    let claim_expires = now.plus_secs(cmd.ttl);
    let min_message_expiry = claim_expires.plus_secs(cmd.grace);
    let mut events = Vec::new();
    let mut claimed_events = Vec::new();
    let mut claimed = Vec::new();
    let mut dlq_marker = None;
    for mut message in input.candidates {
        let move_to = match (&dead_letter, &input.dead_letter_queue) {
            (Some(dl), Some((dlq, dlq_state))) if message.claim_count >= dl.max_claims => {
                Some((dl, dlq, dlq_state))
            }
            _ => None,
        };
        if let Some((dl, dlq, dlq_state)) = move_to {
            let marker = dlq_marker.get_or_insert_with(|| {
                if dlq_state.is_none() {
                    let created = QueueCreated {
                        metadata: Default::default(),
                    };
                    events.push(NewEvent::new(project, dlq, created));
                }
                dlq_state.map_or(1, |s| s.next_marker)
            });
            let (ttl, expires_at) = match dl.ttl {
                Some(ttl) => (ttl, now.plus_secs(ttl)),
                None => (message.ttl, message.expires_at),
            };
            let moved = MessageDeadLettered {
                id: message.id,
                to_queue: dlq.clone(),
                marker: *marker,
                ttl,
                expires_at,
            };
            *marker += 1;
            events.push(NewEvent::new(project, &cmd.queue, moved));
            continue;
        }
        message.claim_count += 1;
        if message.expires_at < min_message_expiry {
            message.expires_at = min_message_expiry;
            message.ttl = cmd.ttl + cmd.grace;
        }
        message.claim = Some(cmd.claim_id.clone());
        claimed_events.push(ClaimedMessage {
            id: message.id.clone(),
            claim_count: message.claim_count,
            ttl: message.ttl,
            expires_at: message.expires_at,
        });
        claimed.push(message);
    }
    if claimed.is_empty() {
        return Decision::new(events, Outcome::Claimed(None));
    }
    let event = MessagesClaimed {
        claim_id: cmd.claim_id.clone(),
        ttl: cmd.ttl,
        grace: cmd.grace,
        expires_at: claim_expires,
        messages: claimed_events,
    };
    events.push(NewEvent::new(project, &cmd.queue, event));
    Decision::new(
        events,
        Outcome::Claimed(Some((cmd.claim_id.clone(), claimed))),
    )
}

/// Renewing a live claim with a new TTL (and grace).
#[derive(Debug, Clone)]
pub struct RenewClaim {
    pub queue: QueueName,
    /// `None` when the given id cannot name any claim (then the renewal is a 404).
    pub claim_id: Option<ClaimId>,
    pub raw_id: String,
    pub ttl: i64,
    pub grace: i64,
}

impl RenewClaim {
    /// Only the TTL is range-checked on renewal, as in Zaqar.
    pub fn new(
        queue: QueueName,
        claim_id: &str,
        ttl: Option<i64>,
        grace: Option<i64>,
        limits: &Limits,
    ) -> Result<Self, ApiError> {
        Ok(RenewClaim {
            queue,
            claim_id: ClaimId::parse(claim_id),
            raw_id: claim_id.to_owned(),
            ttl: limits.claim_ttl(ttl.unwrap_or(limits.default_claim_ttl))?,
            grace: grace.unwrap_or(limits.default_claim_grace),
        })
    }
}

/// Renewal: the claim now expires `ttl` from now; messages that would die before
/// `claim expiry + grace` are extended to that instant.
pub fn renew(
    current: Option<&ClaimState>,
    project: &ProjectId,
    cmd: &RenewClaim,
    now: Timestamp,
) -> Result<Decision, ApiError> {
    let Some(current) = current.filter(|c| !c.messages.is_empty()) else {
        return Err(ApiError::NotFound(format!(
            "Claim {} does not exist in queue {} for project {}",
            cmd.raw_id,
            cmd.queue,
            project.as_str()
        )));
    };
    let expires_at = now.plus_secs(cmd.ttl);
    let min_message_expiry = expires_at.plus_secs(cmd.grace);
    let extended = current
        .messages
        .iter()
        .filter(|(_, expiry)| *expiry < min_message_expiry)
        .map(|(id, _)| ExtendedMessage {
            id: id.clone(),
            ttl: cmd.ttl + cmd.grace,
            expires_at: min_message_expiry,
        })
        .collect();
    let event = ClaimRenewed {
        claim_id: current.id.clone(),
        ttl: cmd.ttl,
        grace: cmd.grace,
        expires_at,
        extended,
    };
    Ok(Decision::new(
        vec![NewEvent::new(project, &cmd.queue, event)],
        Outcome::Done,
    ))
}

/// Release: frees the claim's messages at once; releasing an unknown claim is not an error.
pub fn release(
    exists: bool,
    project: &ProjectId,
    queue: &QueueName,
    claim_id: &ClaimId,
) -> Decision {
    if !exists {
        return Decision::nothing();
    }
    let event = ClaimReleased {
        claim_id: claim_id.clone(),
    };
    Decision::new(vec![NewEvent::new(project, queue, event)], Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::names;
    use crate::events::Event;
    use crate::model::{ClientId, MessageId};
    use serde_json::{json, value::RawValue};

    fn message(marker: i64, claim_count: i64, expires_at: i64) -> MessageView {
        MessageView {
            id: MessageId::generate(),
            marker,
            body: RawValue::from_string("1".into()).unwrap(),
            ttl: 100,
            created_at: Timestamp(0),
            expires_at: Timestamp(expires_at),
            delay_until: Timestamp(0),
            client_id: ClientId::from_stored("c".into()),
            checksum: None,
            claim: None,
            claim_count,
        }
    }

    fn queue(md: serde_json::Value) -> QueueState {
        QueueState {
            metadata: crate::commands::testing::stored(md),
            next_marker: 10,
        }
    }

    #[test]
    fn given_short_lived_message_when_claimed_then_it_outlives_the_claim_by_grace() {
        let (p, q) = names();
        let l = Limits::default();
        let cmd = ClaimMessages::new(q, Some(100), Some(60), None, &l).unwrap();
        let state = queue(json!({}));
        let input = ClaimInput {
            queue: Some(&state),
            candidates: vec![message(1, 0, 50_000), message(2, 0, 10_000_000)],
            dead_letter_queue: None,
        };
        let d = claim(input, &p, &cmd, Timestamp(0));
        let Event::MessagesClaimed(c) = &d.events[0].event else {
            panic!("expected MessagesClaimed");
        };
        assert_eq!(c.expires_at, Timestamp(100_000));
        assert_eq!(c.messages[0].expires_at, Timestamp(160_000));
        assert_eq!(c.messages[0].ttl, 160);
        assert_eq!(c.messages[1].expires_at, Timestamp(10_000_000));
        assert_eq!(c.messages[1].claim_count, 1);
    }

    #[test]
    fn given_message_claimed_max_times_when_claimed_then_it_moves_to_the_dead_letter_queue() {
        let (p, q) = names();
        let l = Limits::default();
        let cmd = ClaimMessages::new(q, None, None, None, &l).unwrap();
        let state = queue(json!({"_max_claim_count": 2, "_dead_letter_queue": "dlq",
                                 "_dead_letter_queue_messages_ttl": 120}));
        let dlq = QueueName::new("dlq", &p).unwrap();
        let input = ClaimInput {
            queue: Some(&state),
            candidates: vec![message(1, 2, 1_000_000)],
            dead_letter_queue: Some((dlq.clone(), None)),
        };
        let d = claim(input, &p, &cmd, Timestamp(0));
        assert!(matches!(d.outcome, Outcome::Claimed(None)));
        assert_eq!(d.events[0].queue, dlq);
        assert!(matches!(d.events[0].event, Event::QueueCreated(_)));
        let Event::MessageDeadLettered(moved) = &d.events[1].event else {
            panic!("expected MessageDeadLettered");
        };
        assert_eq!(moved.marker, 1);
        assert_eq!(moved.expires_at, Timestamp(120_000));
    }

    #[test]
    fn given_no_queue_when_claimed_then_nothing_happens() {
        let (p, q) = names();
        let cmd = ClaimMessages::new(q, None, None, None, &Limits::default()).unwrap();
        let input = ClaimInput {
            queue: None,
            candidates: Vec::new(),
            dead_letter_queue: None,
        };
        let d = claim(input, &p, &cmd, Timestamp(0));
        assert!(d.events.is_empty());
    }

    #[test]
    fn given_expired_or_empty_claim_when_renewed_then_not_found() {
        let (p, q) = names();
        let l = Limits::default();
        let id = ClaimId::generate();
        let cmd = RenewClaim::new(q, id.as_str(), Some(120), None, &l).unwrap();
        assert!(renew(None, &p, &cmd, Timestamp(0)).is_err());
        let state = ClaimState {
            id,
            messages: vec![(MessageId::generate(), Timestamp(1_000))],
        };
        let d = renew(Some(&state), &p, &cmd, Timestamp(0)).unwrap();
        let Event::ClaimRenewed(r) = &d.events[0].event else {
            panic!("expected ClaimRenewed");
        };
        assert_eq!(r.expires_at, Timestamp(120_000));
        assert_eq!(r.extended[0].expires_at, Timestamp(180_000));
    }
}
