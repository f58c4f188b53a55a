//! What each action is to authorization: its policy rule name (Zaqar's, reference §1.12)
//! and the REST method and path with the same effect, which a pre-signed URL must cover.
//! Every transport's requests pass through these, so a WebSocket frame is judged exactly as
//! the REST request it equals.

use super::Action;
use crate::model::QueueName;

impl Action {
    /// The policy rule that guards this action; `topics` when it acts on the project's
    /// topic namespace.
    pub fn rule(&self, topics: bool) -> &'static str {
        let queue_rule = |queues: &'static str, topic: &'static str| match topics {
            true => topic,
            false => queues,
        };
        match self {
            Action::Ping => "ping:get",
            Action::Health => "health:get",
            Action::QueueList { .. } => queue_rule("queues:get_all", "topics:get_all"),
            Action::QueueCreate { .. } => queue_rule("queues:create", "topics:create"),
            Action::QueueGet { .. } | Action::QueueExists { .. } => {
                queue_rule("queues:get", "topics:get")
            }
            Action::QueueUpdate { .. } => queue_rule("queues:update", "topics:update"),
            Action::QueueDelete { .. } => queue_rule("queues:delete", "topics:delete"),
            Action::QueueStats { .. } => queue_rule("queues:stats", "topics:stats"),
            Action::QueuePurge { .. } => queue_rule("queues:purge", "topics:purge"),
            Action::QueueShare { .. } => "queues:share",
            Action::MessagePost(_) => "messages:create",
            Action::MessageList(_) | Action::MessageGetMany { .. } => "messages:get_all",
            Action::MessageGet { .. } => "messages:get",
            Action::MessageDelete(_) => "messages:delete",
            Action::MessageDeleteMany(_) | Action::MessagePop(_) => "messages:delete_all",
            Action::ClaimCreate(_) => "claims:create",
            Action::ClaimGet { .. } => "claims:get",
            Action::ClaimUpdate(_) => "claims:update",
            Action::ClaimDelete { .. } => "claims:delete",
            Action::SubscriptionCreate(_) => "subscription:create",
            Action::SubscriptionList { .. } => "subscription:get_all",
            Action::SubscriptionGet { .. } => "subscription:get",
            Action::SubscriptionUpdate(_) => "subscription:update",
            Action::SubscriptionConfirm { .. } => "subscription:confirm",
            Action::SubscriptionDelete { .. } => "subscription:delete",
            Action::EventList(_) => "events:get_all",
            Action::MessageHistory { .. } => "messages:history",
        }
    }

    /// The REST method and path of this action.
    pub fn route(&self, topics: bool) -> (&'static str, String) {
        let root = match topics {
            true => "/v2/topics",
            false => "/v2/queues",
        };
        let at = |q: &QueueName, rest: &str| format!("{root}/{}{rest}", q.as_str());
        match self {
            Action::Ping => ("GET", "/v2/ping".into()),
            Action::Health => ("GET", "/v2/health".into()),
            Action::EventList(_) => ("GET", "/v2/events".into()),
            Action::QueueList { .. } => ("GET", root.into()),
            Action::QueueCreate { queue, .. } => ("PUT", at(queue, "")),
            Action::QueueGet { queue } => ("GET", at(queue, "")),
            Action::QueueExists { queue } => ("HEAD", at(queue, "")),
            Action::QueueUpdate { queue, .. } => ("PATCH", at(queue, "")),
            Action::QueueDelete { queue } => ("DELETE", at(queue, "")),
            Action::QueueStats { queue } => ("GET", at(queue, "/stats")),
            Action::QueuePurge { queue, .. } => ("POST", at(queue, "/purge")),
            Action::QueueShare { queue, .. } => ("POST", at(queue, "/share")),
            Action::MessagePost(p) => ("POST", at(&p.queue, "/messages")),
            Action::MessageList(l) => ("GET", at(&l.queue, "/messages")),
            Action::MessageGetMany { queue, .. } => ("GET", at(queue, "/messages")),
            Action::MessageGet { queue, id } => ("GET", at(queue, &format!("/messages/{id}"))),
            Action::MessageDelete(d) => {
                let id = d.id.as_ref().map_or("-", |id| id.as_str());
                ("DELETE", at(&d.queue, &format!("/messages/{id}")))
            }
            Action::MessageDeleteMany(d) => ("DELETE", at(&d.queue, "/messages")),
            Action::MessagePop(p) => ("DELETE", at(&p.queue, "/messages")),
            Action::MessageHistory { queue, id } => {
                ("GET", at(queue, &format!("/messages/{id}/history")))
            }
            Action::ClaimCreate(c) => ("POST", at(&c.queue, "/claims")),
            Action::ClaimGet { queue, id } => ("GET", at(queue, &format!("/claims/{id}"))),
            Action::ClaimUpdate(r) => ("PATCH", at(&r.queue, &format!("/claims/{}", r.raw_id))),
            Action::ClaimDelete { queue, id } => ("DELETE", at(queue, &format!("/claims/{id}"))),
            Action::SubscriptionCreate(s) => ("POST", at(&s.queue, "/subscriptions")),
            Action::SubscriptionList { queue, .. } => ("GET", at(queue, "/subscriptions")),
            Action::SubscriptionGet { queue, id } => {
                ("GET", at(queue, &format!("/subscriptions/{id}")))
            }
            Action::SubscriptionUpdate(u) => {
                ("PATCH", at(&u.queue, &format!("/subscriptions/{}", u.id)))
            }
            Action::SubscriptionConfirm { queue, id, .. } => {
                ("PUT", at(queue, &format!("/subscriptions/{id}/confirm")))
            }
            Action::SubscriptionDelete { queue, id } => {
                ("DELETE", at(queue, &format!("/subscriptions/{id}")))
            }
        }
    }
}
