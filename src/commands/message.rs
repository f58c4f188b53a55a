//! Decisions about messages: post, delete (singly, in bulk) and pop.

use super::{Decision, Outcome};
use crate::error::ApiError;
use crate::events::{
    MessagesDeleted, MessagesPopped, MessagesPosted, NewEvent, PostedMessage, QueueCreated,
};
use crate::model::{ClaimId, Limits, MessageId, NewMessage, ProjectId, QueueName, Timestamp};
use crate::projections::{HeldBy, MessageView, QueueState};

/// A batch of messages to post.
#[derive(Debug, Clone)]
pub struct PostMessages {
    pub queue: QueueName,
    pub messages: Vec<NewMessage>,
    /// One fresh id per message, generated at construction so decisions are deterministic.
    pub ids: Vec<MessageId>,
    /// Size of the request body, checked against the queue's own cap.
    pub body_len: usize,
}

impl PostMessages {
    pub fn new(
        queue: QueueName,
        messages: Vec<NewMessage>,
        body_len: usize,
        limits: &Limits,
    ) -> Result<Self, ApiError> {
        if messages.is_empty() {
            return Err(ApiError::InvalidRequest("No messages to enqueue.".into()));
        }
        limits.post_size(body_len, None)?;
        let ids = messages.iter().map(|_| MessageId::generate()).collect();
        Ok(PostMessages {
            queue,
            messages,
            ids,
            body_len,
        })
    }
}

/// Posting: applies the queue's defaults (TTL, delay, size cap) and fixes each message's
/// marker and expiry. Creates the queue if it does not exist yet.
pub fn post(
    queue: Option<&QueueState>,
    project: &ProjectId,
    cmd: &PostMessages,
    now: Timestamp,
    limits: &Limits,
) -> Result<Decision, ApiError> {
    let metadata = queue.map(|q| q.metadata.clone()).unwrap_or_default();
    limits.post_size(cmd.body_len, metadata.max_post_size())?;
    let default_ttl = metadata.default_ttl().unwrap_or(limits.default_message_ttl);
    let queue_delay = metadata.default_delay();
    let first_marker = queue.map_or(1, |q| q.next_marker);
    let mut posted = Vec::with_capacity(cmd.messages.len());
    for (marker, (message, id)) in (first_marker..).zip(cmd.messages.iter().zip(&cmd.ids)) {
        let ttl = message.ttl.unwrap_or(default_ttl);
        let delay = match queue_delay {
            Some(d) => limits.message_delay(message.delay.unwrap_or(d))?,
            None => 0,
        };
        posted.push(PostedMessage {
            id: id.clone(),
            marker,
            body: message.body.clone(),
            ttl,
            expires_at: now.plus_secs(ttl),
            delay_until: now.plus_secs(delay),
            checksum: message.checksum.clone(),
        });
    }
    let mut events = Vec::with_capacity(2);
    if queue.is_none() {
        let created = QueueCreated {
            metadata: Default::default(),
        };
        events.push(NewEvent::new(project, &cmd.queue, created));
    }
    events.push(NewEvent::new(
        project,
        &cmd.queue,
        MessagesPosted { messages: posted },
    ));
    Ok(Decision::new(events, Outcome::Posted(cmd.ids.clone())))
}

/// Deleting one message, possibly under a claim (reference §5.5).
#[derive(Debug, Clone)]
pub struct DeleteMessage {
    pub queue: QueueName,
    /// `None` when the given id cannot name any message (then the delete is a no-op).
    pub id: Option<MessageId>,
    pub claim_id: Option<ClaimId>,
}

impl DeleteMessage {
    pub fn new(queue: QueueName, id: &str, claim_id: Option<&str>) -> Result<Self, ApiError> {
        let claim_id = claim_id
            .map(|raw| {
                ClaimId::parse(raw).ok_or_else(|| {
                    ApiError::DeleteBadClaim(
                        "The specified claim does not exist or has expired.".into(),
                    )
                })
            })
            .transpose()?;
        Ok(DeleteMessage {
            queue,
            id: MessageId::parse(id),
            claim_id,
        })
    }
}

/// Single delete. `given_claim_live` says whether the claim named by the caller (if any) is
/// a live claim of the queue: naming someone else's live claim is forbidden (403), naming a
/// claim that does not exist (or no longer) is a bad request (400). So is naming the
/// message's own claim once it has expired, as in Zaqar: the message is free again and
/// another client may have claimed it, so a stale claim id must not delete it.
pub fn delete_one(
    target: Option<&HeldBy>,
    given_claim_live: bool,
    project: &ProjectId,
    cmd: &DeleteMessage,
) -> Result<Decision, ApiError> {
    let (Some(held), Some(id)) = (target, cmd.id.as_ref()) else {
        return Ok(Decision::nothing());
    };
    match (&cmd.claim_id, &held.claim) {
        (None, Some(_)) if held.live => {
            return Err(ApiError::DeleteClaimed(
                "This message is claimed; it cannot be deleted without a valid claim ID.".into(),
            ))
        }
        (None, _) => {}
        (Some(given), Some(current)) if given == current && held.live => {}
        (Some(_), Some(_)) if held.live && !given_claim_live => {
            return Err(ApiError::DeleteBadClaim(
                "The specified claim does not exist or has expired.".into(),
            ))
        }
        (Some(_), Some(_)) if held.live => {
            return Err(ApiError::DeleteClaimed(
                "This message is claimed by another client; it cannot be deleted with this \
                 claim ID."
                    .into(),
            ))
        }
        (Some(_), _) => {
            return Err(ApiError::DeleteBadClaim(
                "A claim was specified, but the message is not currently claimed.".into(),
            ))
        }
    }
    let event = MessagesDeleted {
        ids: vec![id.clone()],
        claim_id: cmd.claim_id.clone(),
    };
    Ok(Decision::new(
        vec![NewEvent::new(project, &cmd.queue, event)],
        Outcome::Done,
    ))
}

/// Deleting messages by ids.
#[derive(Debug, Clone)]
pub struct DeleteMessages {
    pub queue: QueueName,
    /// The ids that can name a message (malformed ones name nothing).
    pub ids: Vec<MessageId>,
    /// With `message_delete_with_claim_id`: the claims the caller holds.
    pub claim_ids: Option<Vec<String>>,
}

impl DeleteMessages {
    pub fn new(
        queue: QueueName,
        ids: &[String],
        claim_ids: Option<Vec<String>>,
        limits: &Limits,
    ) -> Result<Self, ApiError> {
        limits.id_count(ids.len())?;
        if limits.message_delete_with_claim_id && claim_ids.is_none() {
            return Err(ApiError::InvalidRequest(
                "The request should have both \"ids\" and \"claim_ids\" parameter in the \
                 request when message_delete_with_claim_id is True."
                    .into(),
            ));
        }
        let claim_ids = claim_ids.filter(|_| limits.message_delete_with_claim_id);
        Ok(DeleteMessages {
            queue,
            ids: ids.iter().filter_map(|i| MessageId::parse(i)).collect(),
            claim_ids,
        })
    }
}

/// Bulk delete: claims are ignored unless the caller had to name them, in which case every
/// live claim on the targeted messages must be among the named ones.
pub fn delete_many(
    existing: &[(MessageId, HeldBy)],
    project: &ProjectId,
    cmd: &DeleteMessages,
) -> Result<Decision, ApiError> {
    if let Some(named) = &cmd.claim_ids {
        let unheld = existing.iter().any(|(_, held)| {
            held.live
                && held
                    .claim
                    .as_ref()
                    .is_some_and(|c| !named.iter().any(|n| n == c.as_str()))
        });
        if unheld {
            return Err(ApiError::DeleteClaimed(
                "A message is claimed by a claim that was not given in \"claim_ids\".".into(),
            ));
        }
    }
    if existing.is_empty() {
        return Ok(Decision::nothing());
    }
    let event = MessagesDeleted {
        ids: existing.iter().map(|(id, _)| id.clone()).collect(),
        claim_id: None,
    };
    Ok(Decision::new(
        vec![NewEvent::new(project, &cmd.queue, event)],
        Outcome::Done,
    ))
}

/// Removing and returning up to `count` of the oldest available messages.
#[derive(Debug, Clone)]
pub struct PopMessages {
    pub queue: QueueName,
    pub count: i64,
}

impl PopMessages {
    pub fn new(queue: QueueName, count: i64, limits: &Limits) -> Result<Self, ApiError> {
        Ok(PopMessages {
            queue,
            count: limits.pop_count(count)?,
        })
    }
}

/// Pop: `available` are the oldest unclaimed, due, unexpired messages (at most `count`).
pub fn pop(available: Vec<MessageView>, project: &ProjectId, cmd: &PopMessages) -> Decision {
    if available.is_empty() {
        return Decision::new(Vec::new(), Outcome::Popped(Vec::new()));
    }
    let event = MessagesPopped {
        ids: available.iter().map(|m| m.id.clone()).collect(),
    };
    Decision::new(
        vec![NewEvent::new(project, &cmd.queue, event)],
        Outcome::Popped(available),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::names;
    use crate::events::Event;
    use crate::model::MessageBody;
    use serde_json::json;

    fn new_message(ttl: Option<i64>, delay: Option<i64>) -> NewMessage {
        NewMessage {
            body: MessageBody::from_value(&json!({"k": 1})),
            ttl,
            delay,
            checksum: None,
        }
    }

    #[test]
    fn given_no_queue_when_posting_then_queue_is_created_and_markers_start_at_one() {
        let (p, q) = names();
        let l = Limits::default();
        let cmd = PostMessages::new(q, vec![new_message(None, None); 2], 10, &l).unwrap();
        let d = post(None, &p, &cmd, Timestamp(1_000), &l).unwrap();
        assert!(matches!(d.events[0].event, Event::QueueCreated(_)));
        let Event::MessagesPosted(posted) = &d.events[1].event else {
            panic!("expected MessagesPosted");
        };
        assert_eq!(posted.messages[0].marker, 1);
        assert_eq!(posted.messages[1].marker, 2);
        assert_eq!(posted.messages[0].ttl, 3600);
        assert_eq!(posted.messages[0].expires_at, Timestamp(1_000 + 3_600_000));
        assert_eq!(posted.messages[0].delay_until, Timestamp(1_000));
    }

    #[test]
    fn given_delayed_queue_when_posting_then_delay_and_default_ttl_apply() {
        let (p, q) = names();
        let l = Limits::default();
        let md = json!({"_default_message_delay": 30, "_default_message_ttl": 120});
        let state = QueueState {
            metadata: crate::commands::testing::stored(md),
            next_marker: 7,
        };
        let msgs = vec![new_message(None, None), new_message(Some(60), Some(5))];
        let cmd = PostMessages::new(q.clone(), msgs, 10, &l).unwrap();
        let d = post(Some(&state), &p, &cmd, Timestamp(0), &l).unwrap();
        let Event::MessagesPosted(posted) = &d.events[0].event else {
            panic!("expected MessagesPosted only");
        };
        assert_eq!(posted.messages[0].delay_until, Timestamp(30_000));
        assert_eq!(posted.messages[0].ttl, 120);
        assert_eq!(posted.messages[1].delay_until, Timestamp(5_000));
        assert_eq!(posted.messages[1].marker, 8);
        let too_late = PostMessages::new(q, vec![new_message(None, Some(901))], 10, &l).unwrap();
        assert!(post(Some(&state), &p, &too_late, Timestamp(0), &l).is_err());
    }

    #[test]
    fn given_queue_size_cap_when_posting_too_much_then_rejected() {
        let (p, q) = names();
        let l = Limits::default();
        let md = json!({"_max_messages_post_size": 100});
        let state = QueueState {
            metadata: crate::commands::testing::stored(md),
            next_marker: 1,
        };
        let cmd = PostMessages::new(q, vec![new_message(None, None)], 101, &l).unwrap();
        assert!(matches!(
            post(Some(&state), &p, &cmd, Timestamp(0), &l),
            Err(ApiError::InvalidRequest(_))
        ));
    }

    #[test]
    fn delete_follows_the_claim_decision_table() {
        let (p, q) = names();
        let id = MessageId::generate().to_string();
        let claim = ClaimId::generate();
        let other = ClaimId::generate().to_string();
        let live = HeldBy {
            claim: Some(claim.clone()),
            live: true,
        };
        let free = HeldBy {
            claim: None,
            live: false,
        };
        let no_claim = DeleteMessage::new(q.clone(), &id, None).unwrap();
        let with_claim = DeleteMessage::new(q.clone(), &id, Some(claim.as_str())).unwrap();
        let with_other = DeleteMessage::new(q.clone(), &id, Some(&other)).unwrap();
        // Each case's decision: how many events it appends, or its error.
        let decide = |target: Option<&HeldBy>, given_claim_live: bool, cmd: &DeleteMessage| {
            delete_one(target, given_claim_live, &p, cmd).map(|d| d.events.len())
        };
        assert!(matches!(decide(None, false, &no_claim), Ok(0)));
        assert!(matches!(decide(Some(&free), false, &no_claim), Ok(1)));
        assert!(matches!(
            decide(Some(&live), false, &no_claim),
            Err(ApiError::DeleteClaimed(_))
        ));
        assert!(matches!(
            decide(Some(&free), false, &with_claim),
            Err(ApiError::DeleteBadClaim(_))
        ));
        assert!(matches!(
            decide(Some(&live), true, &with_other),
            Err(ApiError::DeleteClaimed(_))
        ));
        assert!(matches!(
            decide(Some(&live), false, &with_other),
            Err(ApiError::DeleteBadClaim(_))
        ));
        assert!(matches!(decide(Some(&live), true, &with_claim), Ok(1)));
        let expired = HeldBy {
            claim: Some(claim.clone()),
            live: false,
        };
        assert!(matches!(
            decide(Some(&expired), false, &with_claim),
            Err(ApiError::DeleteBadClaim(_))
        ));
        assert!(matches!(
            DeleteMessage::new(q, &id, Some("garbage")),
            Err(ApiError::DeleteBadClaim(_))
        ));
    }
}
