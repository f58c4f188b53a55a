//! The reads a decision needs ([`crate::projections::ReadModel`]), on the node's writer
//! connection, inside its append transaction: the same queries (`queues`, `messages`,
//! `claims`, `subscriptions`) that serve clients through the reader pool.

use sqlx::PgConnection;

use crate::error::StoreError;
use crate::model::{ClaimId, MessageId, ProjectId, QueueName, SubscriptionId, Timestamp};

use super::{expired_ids, has_rows};
use crate::projections::catalogue::postgres as catalogue;
use crate::projections::claims::postgres as claims;
use crate::projections::messages::postgres as messages;
use crate::projections::queues::postgres as queues;
use crate::projections::subscriptions::postgres as subscriptions;

crate::projections::decision::read_model!(PgConnection, .await);
