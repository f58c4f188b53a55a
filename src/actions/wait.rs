//! Long polling (beyond Zaqar): a listing or a claim that finds nothing may wait, up to its
//! deadline, for a committed event that can change the answer — messages posted to the
//! queue, or moved into it, or freed by a released or expired claim — and then look again.
//! It listens to the store's feed of committed events (on PostgreSQL that includes the other
//! nodes' writes), never polls the store; a node that starts shutting down ends every wait.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::{error::RecvError, Receiver};

use crate::events::{Envelope, Event};
use crate::model::{ProjectId, QueueName};
use crate::state::Core;
use crate::store::Store;

/// The longest a request may wait (seconds), as SQS allows.
pub const MAX_WAIT: i64 = 20;

/// A request waiting for its queue to change.
pub struct Waiter {
    feed: Receiver<Arc<Envelope>>,
    stopping: tokio::sync::watch::Receiver<bool>,
    project: ProjectId,
    queue: QueueName,
    deadline: tokio::time::Instant,
}

impl Waiter {
    /// Starts listening now, before the request looks, so that nothing committed after its
    /// look is missed.
    pub fn new(
        core: &Core,
        store: &Store,
        queue: (&ProjectId, &QueueName),
        wait: Duration,
    ) -> Waiter {
        let (project, queue) = queue;
        Waiter {
            feed: store.subscribe(),
            stopping: core.stopping.clone(),
            project: project.clone(),
            queue: queue.clone(),
            deadline: tokio::time::Instant::now() + wait,
        }
    }

    /// Resolves `true` when an event that may have made messages available is committed
    /// (or events were missed), `false` at the deadline or when the node shuts down.
    pub async fn changed(&mut self) -> bool {
        if *self.stopping.borrow() {
            return false;
        }
        loop {
            let next = tokio::time::timeout_at(self.deadline, self.feed.recv());
            let received = tokio::select! {
                received = next => received,
                _ = self.stopping.changed() => return false,
            };
            match received {
                Err(_) | Ok(Err(RecvError::Closed)) => return false,
                Ok(Err(RecvError::Lagged(_))) => return true,
                Ok(Ok(env)) if self.frees_messages(&env) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    fn frees_messages(&self, env: &Envelope) -> bool {
        if env.project != self.project {
            return false;
        }
        match &env.event {
            Event::MessagesPosted(_) | Event::ClaimReleased(_) | Event::ClaimExpired(_) => {
                env.queue == self.queue
            }
            Event::MessageDeadLettered(e) => e.to_queue == self.queue,
            _ => false,
        }
    }
}
