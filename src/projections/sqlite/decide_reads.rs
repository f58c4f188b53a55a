//! The reads a decision needs ([`crate::projections::ReadModel`]), on the writer's
//! synchronous connection, inside its append transaction: the same queries (`queues`,
//! `messages`, `claims`, `subscriptions`) that serve clients through the reader pool.

use rusqlite::Connection;

use crate::error::StoreError;
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, SubscriptionId, Timestamp};

use super::{expired_ids, has_rows};
use crate::projections::catalogue::sqlite as catalogue;
use crate::projections::claims::sqlite as claims;
use crate::projections::messages::sqlite as messages;
use crate::projections::queues::sqlite as queues;
use crate::projections::subscriptions::sqlite as subscriptions;

crate::projections::decision::read_model!(Connection);
