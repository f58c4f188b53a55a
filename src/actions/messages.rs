//! Message actions: post, list, get by ids, get one, delete one, and the bulk delete (by ids,
//! or a pop).

use super::{Action, Guard, On};
use crate::commands::{Command, DeleteMessage, DeleteMessages, PopMessages, PostMessages};
use crate::error::ApiError;
use crate::model::{Limits, MessageId, QueueName};
use crate::projections::{MessageFilter, MessageView};

/// `message_post`: the new messages' ids, in request order.
#[derive(Debug, Clone)]
pub struct MessagePost(pub PostMessages);

impl Action for MessagePost {
    type Reply = Vec<MessageId>;

    fn guard(&self, topics: bool) -> Guard {
        Guard::queue(
            "messages:create",
            "POST",
            topics,
            &self.0.queue,
            "/messages",
        )
    }

    async fn run(self, on: &On<'_>) -> Result<Vec<MessageId>, ApiError> {
        on.submit(Command::PostMessages(self.0)).await
    }
}

/// Messages as listed or fetched.
#[derive(Debug, Clone)]
pub struct Messages {
    pub messages: Vec<MessageView>,
    /// Effective `include_delayed` of a listing (forced on for queues without delay).
    pub include_delayed: bool,
}

/// `message_list`: a page of a queue's messages, with its parameters as given.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageList {
    pub queue: QueueName,
    /// The marker as sent; one that cannot be a marker yields an empty page.
    pub marker: Option<String>,
    pub limit: i64,
    pub echo: bool,
    pub include_claimed: bool,
    pub include_delayed: bool,
    /// Long polling: how long an empty page may wait for messages (see [`super::wait`]).
    pub wait: Option<std::time::Duration>,
}

impl MessageList {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        queue: QueueName,
        marker: Option<String>,
        limit: Option<i64>,
        echo: bool,
        include_claimed: bool,
        include_delayed: bool,
        limits: &Limits,
    ) -> Result<Self, ApiError> {
        Ok(MessageList {
            queue,
            marker,
            limit: limits.message_page(limit)?,
            echo,
            include_claimed,
            include_delayed,
            wait: None,
        })
    }
}

impl Action for MessageList {
    type Reply = Messages;

    fn guard(&self, topics: bool) -> Guard {
        Guard::queue("messages:get_all", "GET", topics, &self.queue, "/messages")
    }

    async fn run(self, on: &On<'_>) -> Result<Messages, ApiError> {
        let store = &on.store_of(&self.queue).await?;
        let metadata = store.queue_metadata(on.project(), &self.queue).await?;
        let delayed_queue = metadata.as_ref().and_then(|m| m.default_delay()).is_some();
        let include_delayed = self.include_delayed || !delayed_queue;
        let empty = Messages {
            messages: Vec::new(),
            include_delayed,
        };
        let marker = match self.marker.as_deref().map(str::parse::<i64>) {
            None => None,
            Some(Ok(m)) => Some(m),
            Some(Err(_)) => return Ok(empty),
        };
        if metadata.is_none() {
            return Ok(empty);
        }
        let filter = MessageFilter {
            marker,
            limit: self.limit,
            hide_client: (!self.echo).then(|| on.ctx.client_id.clone()),
            include_claimed: self.include_claimed,
            include_delayed,
        };
        let mut waiter = self.wait.map(|wait| {
            super::wait::Waiter::new(on.core, store, (on.project(), &self.queue), wait)
        });
        let mut messages = store
            .list_messages(on.project(), &self.queue, &filter, on.now)
            .await?;
        while messages.is_empty() {
            let Some(waiter) = waiter.as_mut() else { break };
            if !waiter.changed().await {
                break;
            }
            let now = on.core.clock.now();
            messages = store
                .list_messages(on.project(), &self.queue, &filter, now)
                .await?;
        }
        Ok(Messages {
            messages,
            include_delayed,
        })
    }
}

/// `message_get_many`: messages by ids; 404 when none of them is found.
#[derive(Debug, Clone)]
pub struct MessageGetMany {
    pub queue: QueueName,
    pub ids: Vec<String>,
}

impl MessageGetMany {
    /// Messages by ids (1..=`max_messages_per_page` of them).
    pub fn new(queue: QueueName, ids: Vec<String>, limits: &Limits) -> Result<Self, ApiError> {
        limits.id_count(ids.len())?;
        Ok(MessageGetMany { queue, ids })
    }
}

impl Action for MessageGetMany {
    type Reply = Vec<MessageView>;

    fn guard(&self, topics: bool) -> Guard {
        Guard::queue("messages:get_all", "GET", topics, &self.queue, "/messages")
    }

    async fn run(self, on: &On<'_>) -> Result<Vec<MessageView>, ApiError> {
        let ids: Vec<MessageId> = self
            .ids
            .iter()
            .filter_map(|i| MessageId::parse(i))
            .collect();
        let store = &on.store_of(&self.queue).await?;
        let found = store
            .get_messages(on.project(), &self.queue, &ids, on.now)
            .await?;
        if found.is_empty() {
            return Err(ApiError::NotFound(
                "No messages with IDs in the request were found.".into(),
            ));
        }
        Ok(found)
    }
}

/// `message_get`: one message.
#[derive(Debug, Clone)]
pub struct MessageGet {
    pub queue: QueueName,
    pub id: String,
}

impl Action for MessageGet {
    type Reply = MessageView;

    fn guard(&self, topics: bool) -> Guard {
        let rest = format!("/messages/{}", self.id);
        Guard::queue("messages:get", "GET", topics, &self.queue, &rest)
    }

    async fn run(self, on: &On<'_>) -> Result<MessageView, ApiError> {
        let ids: Vec<MessageId> = MessageId::parse(&self.id).into_iter().collect();
        let store = &on.store_of(&self.queue).await?;
        let found = store
            .get_messages(on.project(), &self.queue, &ids, on.now)
            .await?;
        found.into_iter().next().ok_or_else(|| {
            ApiError::NotFound(format!(
                "Message {} does not exist in queue {} for project {}",
                self.id,
                self.queue,
                on.project().as_str()
            ))
        })
    }
}

/// `message_delete`: one message, naming its claim if it is claimed.
#[derive(Debug, Clone)]
pub struct MessageDelete(pub DeleteMessage);

impl Action for MessageDelete {
    type Reply = ();

    fn guard(&self, topics: bool) -> Guard {
        let id = self.0.id.as_ref().map_or("-", |id| id.as_str());
        let rest = format!("/messages/{id}");
        Guard::queue("messages:delete", "DELETE", topics, &self.0.queue, &rest)
    }

    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        on.submit_done(Command::DeleteMessage(self.0)).await
    }
}

/// `message_delete_many`: by ids, or a pop of the oldest free messages.
#[derive(Debug, Clone)]
pub enum MessageDeleteMany {
    Ids(DeleteMessages),
    Pop(PopMessages),
}

/// What a bulk delete did: deleted by ids, or popped these messages.
#[derive(Debug, Clone)]
pub enum BulkDeleted {
    Deleted,
    Popped(Vec<MessageView>),
}

impl MessageDeleteMany {
    /// A bulk delete by `ids` (with `claim_ids` where configured) or a `pop`, never both.
    pub fn new(
        queue: QueueName,
        ids: Option<Vec<String>>,
        claim_ids: Option<Vec<String>>,
        pop: Option<i64>,
        limits: &Limits,
    ) -> Result<Self, ApiError> {
        match (ids, pop) {
            (Some(_), Some(_)) => Err(ApiError::InvalidRequest(
                "pop and id params cannot be present together in the delete request.".into(),
            )),
            (None, None) => Err(ApiError::InvalidRequest(
                "The request should have either \"ids\" or \"pop\" parameter in the request, \
                 to be able to delete."
                    .into(),
            )),
            (None, Some(pop)) => Ok(MessageDeleteMany::Pop(PopMessages::new(
                queue, pop, limits,
            )?)),
            (Some(ids), None) => Ok(MessageDeleteMany::Ids(DeleteMessages::new(
                queue, &ids, claim_ids, limits,
            )?)),
        }
    }

    fn queue(&self) -> &QueueName {
        match self {
            MessageDeleteMany::Ids(d) => &d.queue,
            MessageDeleteMany::Pop(p) => &p.queue,
        }
    }
}

impl Action for MessageDeleteMany {
    type Reply = BulkDeleted;

    fn guard(&self, topics: bool) -> Guard {
        Guard::queue(
            "messages:delete_all",
            "DELETE",
            topics,
            self.queue(),
            "/messages",
        )
    }

    async fn run(self, on: &On<'_>) -> Result<BulkDeleted, ApiError> {
        match self {
            MessageDeleteMany::Ids(cmd) => {
                on.submit_done(Command::DeleteMessages(cmd)).await?;
                Ok(BulkDeleted::Deleted)
            }
            MessageDeleteMany::Pop(cmd) => {
                let popped = on.submit(Command::PopMessages(cmd)).await?;
                Ok(BulkDeleted::Popped(popped))
            }
        }
    }
}
