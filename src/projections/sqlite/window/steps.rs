//! The fold's steps on the window ([`Tables`]): messages and claims change in memory,
//! history is gathered per message, and the steps about whole queues, dead-lettering and
//! subscriptions go to the SQL steps (the window written out first where they touch what
//! it holds).

use std::sync::Arc;

use smallvec::SmallVec;

use super::{Claim, ClaimSlot, Key, Message, Window};
use crate::error::StoreError;
use crate::events::{
    ClaimRenewed, Envelope, Event, MessageDeadLettered, MessagesClaimed, MessagesPosted,
    SubscriptionCreated, SubscriptionUpdated,
};
use crate::model::Timestamp;
use crate::model::{ClaimId, ClientId, MessageId, ProjectId, QueueName, SubscriptionId};
use crate::projections::catalogue::{Kind, Row};
use crate::projections::fold::{client_of, Mentions, Metadata, Rows, Step, Tables};
use crate::projections::sqlite::fold::Sql;

impl Tables for Window<'_> {
    async fn index(&mut self, env: &Envelope, mentions: Mentions<'_>) -> Step {
        match mentions {
            // Posts and deletes record their messages as they visit them.
            Mentions::Messages(_) if records_itself(&env.event) => {}
            Mentions::Messages(ids) => {
                for id in ids {
                    self.record(Key::of(id.as_str()), env.seq);
                }
            }
            Mentions::Claim(claim_id) => {
                for key in self.holding(claim_id)? {
                    self.record(key, env.seq);
                }
            }
            Mentions::Queue => {
                self.write_out()?;
                Sql(self.conn).index(env, Mentions::Queue).await?;
            }
            Mentions::Nothing => {}
        }
        Ok(())
    }

    async fn insert_queue(&mut self, env: &Envelope, metadata: &Metadata) -> Step {
        self.write_out()?;
        Sql(self.conn).insert_queue(env, metadata).await
    }

    async fn set_metadata(&mut self, env: &Envelope, metadata: &Metadata) -> Step {
        Sql(self.conn).set_metadata(env, metadata).await
    }

    async fn delete_queue(&mut self, env: &Envelope) -> Step {
        self.write_out()?;
        Sql(self.conn).delete_queue(env).await
    }

    async fn delete_rows(&mut self, rows: Rows, env: &Envelope) -> Step {
        if rows != Rows::Subscriptions {
            self.write_out()?;
        }
        Sql(self.conn).delete_rows(rows, env).await
    }

    async fn advance_marker(&mut self, project: &ProjectId, queue: &QueueName, next: i64) -> Step {
        let slot = self.queue(project, queue);
        slot.next_marker = slot.next_marker.max(next);
        Ok(())
    }

    async fn insert_messages(&mut self, env: &Envelope, e: &MessagesPosted) -> Step {
        let client = ClientId::from_stored(client_of(env).to_owned());
        let queue = self.queue(&env.project, &env.queue).name.clone();
        for (index, m) in (0..).zip(&e.messages) {
            let slot = self.messages.entry(Key::of(m.id.as_str())).or_default();
            if slot.row.is_some() || slot.stored {
                return Err(StoreError::Corrupt(format!(
                    "message {} posted twice (seq {})",
                    m.id, env.seq
                )));
            }
            slot.known = true;
            slot.history.push(env.seq);
            self.history += 1;
            slot.row = Some(Box::new(Message {
                queue: queue.clone(),
                marker: m.marker,
                body: None,
                post: Some((env.seq, index)),
                ttl: m.ttl,
                created_at: env.at.0,
                expires_at: m.expires_at.0,
                delay_until: m.delay_until.0,
                client_id: client.clone(),
                checksum: m.checksum.clone(),
                claim_id: None,
                claim_expires: None,
                claim_count: 0,
            }));
            self.live += 1;
        }
        Ok(())
    }

    async fn delete_messages(&mut self, env: &Envelope, ids: &[MessageId]) -> Step {
        let mut keys: SmallVec<[Key; 8]> = ids.iter().map(|id| Key::of(id.as_str())).collect();
        if keys.len() > 1 {
            // Each once: a message finished below has no slot left to say it was seen.
            keys.sort_unstable();
            keys.dedup();
        }
        for key in keys {
            let slot = self.messages.entry(key.clone()).or_default();
            if slot.history.push(env.seq) {
                self.history += 1;
            }
            if !slot.known {
                // Deleting by id needs no read: the write-out deletes whatever is there.
                slot.known = true;
                slot.stored = true;
            }
            if slot.row.take().is_some() && !slot.stored {
                self.finish(key)?;
            }
        }
        Ok(())
    }

    async fn move_message(&mut self, e: &MessageDeadLettered) -> Step {
        self.write_out()?;
        Sql(self.conn).move_message(e).await
    }

    async fn insert_claim(&mut self, env: &Envelope, e: &MessagesClaimed) -> Step {
        let claim_id = Arc::new(e.claim_id.clone());
        let mut members = Vec::with_capacity(e.messages.len());
        for m in &e.messages {
            let key = Key::of(m.id.as_str());
            if let Some(row) = self.message(&key)? {
                row.claim_id = Some(claim_id.clone());
                row.claim_expires = Some(e.expires_at.0);
                row.claim_count = m.claim_count;
                row.ttl = m.ttl;
                row.expires_at = m.expires_at.0;
            }
            members.push(key);
        }
        let row = Claim {
            project: env.project.clone(),
            queue: env.queue.clone(),
            ttl: e.ttl,
            grace: e.grace,
            updated_at: env.at.0,
            expires_at: e.expires_at.0,
        };
        // A new claim id: no stored message can hold it yet.
        let stored = self.claims.get(&claim_id).is_some_and(|c| c.stored);
        self.claims.insert(
            claim_id,
            ClaimSlot {
                row: Some(row),
                stored,
                dirty: stored,
                members: Some(members),
            },
        );
        Ok(())
    }

    async fn renew_claim(&mut self, e: &ClaimRenewed, at: Timestamp) -> Step {
        for key in self.holding(&e.claim_id)? {
            if let Some(row) = self.message(&key)? {
                row.claim_expires = Some(e.expires_at.0);
            }
        }
        for m in &e.extended {
            if let Some(row) = self.message(&Key::of(m.id.as_str()))? {
                row.ttl = m.ttl;
                row.expires_at = m.expires_at.0;
            }
        }
        let slot = self.claim_slot(&e.claim_id)?;
        if let Some(claim) = slot.row.as_mut() {
            claim.ttl = e.ttl;
            claim.grace = e.grace;
            claim.updated_at = at.0;
            claim.expires_at = e.expires_at.0;
            slot.dirty = true;
        }
        Ok(())
    }

    async fn end_claim(&mut self, claim_id: &ClaimId) -> Step {
        for key in self.holding(claim_id)? {
            if let Some(row) = self.message(&key)? {
                row.claim_id = None;
                row.claim_expires = None;
            }
        }
        // `holding` read the claim's slot in; the write-out deletes a stored row.
        self.claim_slot(claim_id)?.row = None;
        Ok(())
    }

    async fn insert_subscription(&mut self, env: &Envelope, e: &SubscriptionCreated) -> Step {
        Sql(self.conn).insert_subscription(env, e).await
    }

    async fn update_subscription(&mut self, e: &SubscriptionUpdated) -> Step {
        Sql(self.conn).update_subscription(e).await
    }

    async fn confirm_subscription(&mut self, id: &SubscriptionId, confirmed: bool) -> Step {
        Sql(self.conn).confirm_subscription(id, confirmed).await
    }

    async fn delete_subscriptions(&mut self, ids: &[SubscriptionId]) -> Step {
        Sql(self.conn).delete_subscriptions(ids).await
    }

    async fn put_entry(&mut self, env: &Envelope, row: &Row<'_>) -> Step {
        Sql(self.conn).put_entry(env, row).await
    }

    async fn delete_entry(&mut self, kind: Kind, env: &Envelope) -> Step {
        Sql(self.conn).delete_entry(kind, env).await
    }
}

/// Whether the event's step indexes the messages it names itself (it visits each anyway).
fn records_itself(event: &Event) -> bool {
    matches!(
        event,
        Event::MessagesPosted(_)
            | Event::MessagesDeleted(_)
            | Event::MessagesPopped(_)
            | Event::MessagesExpired(_)
    )
}
