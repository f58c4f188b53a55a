//! The fold's rules, written once for both SQL dialects: which steps each event takes on the
//! read-model tables ([`apply`]) and which messages' histories it is indexed against
//! ([`mentions`]). Each dialect implements the steps ([`Tables`]): `sqlite::fold` on the
//! writer's synchronous connection, `postgres` on the node's writer connection, and the
//! rebuild's window (`sqlite::window`) on rows it keeps in memory, handing the rare steps
//! to the SQLite ones.

use smallvec::{smallvec, SmallVec};

use crate::error::StoreError;
use crate::events::{
    ClaimRenewed, Envelope, Event, MessageDeadLettered, MessagesClaimed, MessagesPosted,
    PoolCreated, PoolUpdated, SubscriptionCreated, SubscriptionUpdated,
};
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, SubscriptionId, Timestamp};
use crate::projections::catalogue::{Kind, Row};

/// Queue metadata as an event records it.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// The messages an event is indexed against in `message_history`.
#[derive(Debug, PartialEq)]
pub enum Mentions<'e> {
    /// These messages, each once, in id order.
    Messages(SmallVec<[&'e MessageId; 8]>),
    /// The messages the claim holds when the event is folded.
    Claim(&'e ClaimId),
    /// Every message of the event's queue.
    Queue,
    /// None.
    Nothing,
}

/// Which messages' histories `event` belongs to.
pub fn mentions(event: &Event) -> Mentions<'_> {
    let mut ids: SmallVec<[&MessageId; 8]> = match event {
        Event::MessagesPosted(e) => e.messages.iter().map(|m| &m.id).collect(),
        Event::MessagesClaimed(e) => e.messages.iter().map(|m| &m.id).collect(),
        Event::MessagesDeleted(e) => e.ids.iter().collect(),
        Event::MessagesPopped(e) => e.ids.iter().collect(),
        Event::MessagesExpired(e) => e.ids.iter().collect(),
        Event::MessageDeadLettered(e) => smallvec![&e.id],
        Event::NotificationDelivered(e) => e.message_ids().collect(),
        Event::NotificationFailed(e) => e.message_id.iter().collect(),
        Event::NotificationAbandoned(e) => e.message_id.iter().collect(),
        Event::ClaimRenewed(e) => return Mentions::Claim(&e.claim_id),
        Event::ClaimReleased(e) => return Mentions::Claim(&e.claim_id),
        Event::ClaimExpired(e) => return Mentions::Claim(&e.claim_id),
        Event::QueuePurged(_) | Event::QueueDeleted(_) => return Mentions::Queue,
        Event::QueueCreated(_)
        | Event::QueueMetadataUpdated(_)
        | Event::SubscriptionCreated(_)
        | Event::SubscriptionUpdated(_)
        | Event::SubscriptionConfirmed(_)
        | Event::SubscriptionDeleted(_)
        | Event::SubscriptionsPurged(_)
        | Event::SubscriptionsExpired(_)
        | Event::SubscriptionConfirmationRequested(_)
        | Event::PoolCreated(_)
        | Event::PoolUpdated(_)
        | Event::PoolDeleted(_)
        | Event::FlavorCreated(_)
        | Event::FlavorDeleted(_)
        | Event::QueuePlaced(_)
        | Event::QueueUnplaced(_) => return Mentions::Nothing,
    };
    // One position per message: an id named twice would be indexed twice. Most events
    // name their messages in order already.
    if !ids.windows(2).all(|w| w[0] < w[1]) {
        ids.sort_unstable();
        ids.dedup();
    }
    Mentions::Messages(ids)
}

/// The tables a queue's rows are dropped from, all at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    Messages,
    Claims,
    Subscriptions,
}

impl Rows {
    pub fn table(self) -> &'static str {
        match self {
            Rows::Messages => "messages",
            Rows::Claims => "claims",
            Rows::Subscriptions => "subscriptions",
        }
    }
}

/// What a step of the fold returns.
pub type Step = Result<(), StoreError>;

/// The steps of the fold, as each SQL dialect takes them (and the rebuild's window). A step
/// given the envelope acts on the event's own queue.
#[allow(async_fn_in_trait)] // implemented and called only inside this crate
pub trait Tables {
    /// Adds position `seq` to the histories of the messages `mentions` names.
    async fn index(&mut self, env: &Envelope, mentions: Mentions<'_>) -> Step;
    async fn insert_queue(&mut self, env: &Envelope, metadata: &Metadata) -> Step;
    async fn set_metadata(&mut self, env: &Envelope, metadata: &Metadata) -> Step;
    /// Drops the queue's own row (its other rows go by [`Tables::delete_rows`]).
    async fn delete_queue(&mut self, env: &Envelope) -> Step;
    /// Drops every row of the queue from one table.
    async fn delete_rows(&mut self, rows: Rows, env: &Envelope) -> Step;
    /// Makes sure the next posted message gets at least `next` as its marker.
    async fn advance_marker(&mut self, project: &ProjectId, queue: &QueueName, next: i64) -> Step;
    /// Inserts the posted messages, their bodies left in the event (poster: [`client_of`]).
    async fn insert_messages(&mut self, env: &Envelope, e: &MessagesPosted) -> Step;
    async fn delete_messages(&mut self, env: &Envelope, ids: &[MessageId]) -> Step;
    async fn move_message(&mut self, e: &MessageDeadLettered) -> Step;
    /// The claim's row and its messages' claim.
    async fn insert_claim(&mut self, env: &Envelope, e: &MessagesClaimed) -> Step;
    /// The claim's row, its messages' claim expiry, and the lifetimes it extended.
    async fn renew_claim(&mut self, e: &ClaimRenewed, at: Timestamp) -> Step;
    /// A claim released or expired: its messages are free again and its row goes.
    async fn end_claim(&mut self, claim_id: &ClaimId) -> Step;
    async fn insert_subscription(&mut self, env: &Envelope, e: &SubscriptionCreated) -> Step;
    async fn update_subscription(&mut self, e: &SubscriptionUpdated) -> Step;
    async fn confirm_subscription(&mut self, id: &SubscriptionId, confirmed: bool) -> Step;
    async fn delete_subscriptions(&mut self, ids: &[SubscriptionId]) -> Step;
    /// Records the catalogue's row of the event's project and name (replacing any).
    async fn put_entry(&mut self, env: &Envelope, row: &Row<'_>) -> Step;
    /// Drops the catalogue's row of the event's project and name.
    async fn delete_entry(&mut self, kind: Kind, env: &Envelope) -> Step;
}

/// The poster of the messages an event carries, as the `messages` table records it (empty
/// for none).
pub fn client_of(env: &Envelope) -> &str {
    env.client_id.as_ref().map_or("", |c| c.as_str())
}

/// Folds one event into the read models: its history first (a claim's or a queue's
/// messages are indexed before the event changes them), then its tables.
pub async fn apply<T: Tables>(t: &mut T, env: &Envelope) -> Step {
    t.index(env, mentions(&env.event)).await?;
    match &env.event {
        Event::QueueCreated(e) => t.insert_queue(env, &e.metadata).await,
        Event::QueueMetadataUpdated(e) => t.set_metadata(env, &e.metadata).await,
        Event::QueueDeleted(_) => {
            for rows in [Rows::Messages, Rows::Claims, Rows::Subscriptions] {
                t.delete_rows(rows, env).await?;
            }
            t.delete_queue(env).await
        }
        Event::QueuePurged(_) => {
            t.delete_rows(Rows::Messages, env).await?;
            t.delete_rows(Rows::Claims, env).await
        }
        Event::MessagesPosted(e) => {
            t.insert_messages(env, e).await?;
            match e.messages.last() {
                Some(last) => {
                    t.advance_marker(&env.project, &env.queue, last.marker + 1)
                        .await
                }
                None => Ok(()),
            }
        }
        Event::MessagesDeleted(e) => t.delete_messages(env, &e.ids).await,
        Event::MessagesPopped(e) => t.delete_messages(env, &e.ids).await,
        Event::MessagesExpired(e) => t.delete_messages(env, &e.ids).await,
        Event::MessageDeadLettered(e) => {
            t.move_message(e).await?;
            t.advance_marker(&env.project, &e.to_queue, e.marker + 1)
                .await
        }
        Event::MessagesClaimed(e) => t.insert_claim(env, e).await,
        Event::ClaimRenewed(e) => t.renew_claim(e, env.at).await,
        Event::ClaimReleased(e) => t.end_claim(&e.claim_id).await,
        Event::ClaimExpired(e) => t.end_claim(&e.claim_id).await,
        Event::SubscriptionCreated(e) => t.insert_subscription(env, e).await,
        Event::SubscriptionUpdated(e) => t.update_subscription(e).await,
        Event::SubscriptionConfirmed(e) => t.confirm_subscription(&e.id, e.confirmed).await,
        Event::SubscriptionDeleted(e) => t.delete_subscriptions(std::slice::from_ref(&e.id)).await,
        Event::SubscriptionsPurged(_) => t.delete_rows(Rows::Subscriptions, env).await,
        Event::SubscriptionsExpired(e) => t.delete_subscriptions(&e.ids).await,
        // Only the history index records these.
        Event::SubscriptionConfirmationRequested(_)
        | Event::NotificationDelivered(_)
        | Event::NotificationFailed(_)
        | Event::NotificationAbandoned(_) => Ok(()),
        Event::PoolCreated(PoolCreated { pool }) | Event::PoolUpdated(PoolUpdated { pool }) => {
            let row = Row {
                kind: Kind::Pool,
                reference: pool.flavor.as_deref(),
                document: serde_json::to_value(pool)?,
            };
            t.put_entry(env, &row).await
        }
        Event::PoolDeleted(_) => t.delete_entry(Kind::Pool, env).await,
        Event::FlavorCreated(_) => {
            let row = Row {
                kind: Kind::Flavor,
                reference: None,
                document: serde_json::Value::Object(Default::default()),
            };
            t.put_entry(env, &row).await
        }
        Event::FlavorDeleted(_) => t.delete_entry(Kind::Flavor, env).await,
        Event::QueuePlaced(e) => {
            let row = Row {
                kind: Kind::Placement,
                reference: Some(&e.pool),
                document: serde_json::Value::Object(Default::default()),
            };
            t.put_entry(env, &row).await
        }
        Event::QueueUnplaced(_) => t.delete_entry(Kind::Placement, env).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ClaimReleased, MessagesDeleted, QueuePurged, SubscriptionConfirmed};

    #[test]
    fn an_event_joins_each_named_message_once_in_id_order() {
        let (a, b) = (
            MessageId::from_stored("a".into()),
            MessageId::from_stored("b".into()),
        );
        let event = Event::MessagesDeleted(MessagesDeleted {
            ids: vec![b.clone(), a.clone(), b.clone()],
            claim_id: None,
        });
        assert_eq!(mentions(&event), Mentions::Messages(smallvec![&a, &b]));
    }

    #[test]
    fn claims_queues_and_subscriptions_are_mentioned_as_such() {
        let claim_id = ClaimId::generate();
        let released = Event::ClaimReleased(ClaimReleased {
            claim_id: claim_id.clone(),
        });
        assert_eq!(mentions(&released), Mentions::Claim(&claim_id));
        assert_eq!(
            mentions(&Event::QueuePurged(QueuePurged {})),
            Mentions::Queue
        );
        let confirmed = Event::SubscriptionConfirmed(SubscriptionConfirmed {
            id: SubscriptionId::generate(),
            confirmed: true,
        });
        assert_eq!(mentions(&confirmed), Mentions::Nothing);
    }
}
