//! The reads a decision needs ([`ReadModel`]), on the writer's synchronous connection,
//! inside its append transaction. The queries match the read side's (`queues`, `messages`,
//! `claims`, `subscriptions`), which serve clients through the async reader pool.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::StoreError;
use crate::model::{
    ClaimId, ClientId, MessageId, ProjectId, QueueMetadata, QueueName, SubscriptionId, Timestamp,
};
use crate::projections::{
    ClaimState, Expired, HeldBy, MessageView, QueueState, ReadModel, SubscriptionView,
};

use super::bodies::{Bodies, COLUMNS as BODY_COLUMNS, JOIN};

/// The message columns, then the body's ([`BODY_COLUMNS`], from 11 on).
const MESSAGE_COLUMNS: &str = "m.id, m.marker, m.ttl, m.created_at, m.expires_at, m.delay_until, \
                               m.client_id, m.checksum, m.claim_id, m.claim_expires, \
                               m.claim_count";

const SUBSCRIPTION_COLUMNS: &str =
    "id, queue, subscriber, ttl, options, created_at, expires_at, confirmed";

fn message(row: &Row<'_>, now: Timestamp, bodies: &mut Bodies) -> Result<MessageView, StoreError> {
    let claim_expires: Option<i64> = row.get(9)?;
    let live = claim_expires.is_some_and(|e| e > now.0);
    let claim_id: Option<String> = row.get(8)?;
    let payload = row
        .get_ref(14)?
        .as_str_or_null()
        .map_err(rusqlite::Error::from)?;
    Ok(MessageView {
        id: MessageId::from_stored(row.get(0)?),
        marker: row.get(1)?,
        body: bodies.body(row.get(11)?, row.get(12)?, row.get(13)?, payload)?,
        ttl: row.get(2)?,
        created_at: Timestamp(row.get(3)?),
        expires_at: Timestamp(row.get(4)?),
        delay_until: Timestamp(row.get(5)?),
        client_id: ClientId::from_stored(row.get(6)?),
        checksum: row.get(7)?,
        claim: claim_id.filter(|_| live).map(ClaimId::from_stored),
        claim_count: row.get(10)?,
    })
}

fn subscription(row: &Row<'_>) -> rusqlite::Result<(SubscriptionView, String)> {
    Ok((
        SubscriptionView {
            id: SubscriptionId::from_stored(row.get(0)?),
            source: QueueName::from_stored(row.get(1)?),
            subscriber: row.get(2)?,
            ttl: row.get(3)?,
            options: serde_json::Map::new(),
            created_at: Timestamp(row.get(5)?),
            expires_at: Timestamp(row.get(6)?),
            confirmed: row.get(7)?,
        },
        row.get(4)?,
    ))
}

fn with_options(
    found: Option<(SubscriptionView, String)>,
) -> Result<Option<SubscriptionView>, StoreError> {
    found
        .map(|(mut view, options)| {
            view.options = serde_json::from_str(&options)?;
            Ok(view)
        })
        .transpose()
}

/// Rows of `table` (a read-model table name, never input) whose expiry has passed, oldest
/// expiry first, as `(project, queue, id)`.
fn expired_ids<T>(
    conn: &Connection,
    table: &str,
    now: Timestamp,
    limit: i64,
    id: impl Fn(String) -> T,
) -> Result<Vec<(ProjectId, QueueName, T)>, StoreError> {
    let sql = format!(
        "SELECT project, queue, id FROM {table} WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2"
    );
    let mut select = conn.prepare_cached(&sql)?;
    let rows = select.query_map(params![now.0, limit], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (project, queue, raw) = row?;
        let project =
            ProjectId::new(Some(&project)).map_err(|_| StoreError::Corrupt(project.clone()))?;
        out.push((project, QueueName::from_stored(queue), id(raw)));
    }
    Ok(out)
}

fn has_rows(
    conn: &Connection,
    table: &str,
    project: &ProjectId,
    queue: &QueueName,
) -> Result<bool, StoreError> {
    let sql = format!("SELECT 1 FROM {table} WHERE project = ?1 AND queue = ?2 LIMIT 1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![project.as_str(), queue.as_str()], |_| Ok(()))
        .optional()?
        .is_some())
}

impl ReadModel for Connection {
    async fn queue_state(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<Option<QueueState>, StoreError> {
        let found = self
            .prepare_cached(
                "SELECT metadata, next_marker FROM queues WHERE project = ?1 AND name = ?2",
            )?
            .query_row(params![project.as_str(), queue.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .optional()?;
        found
            .map(|(metadata, next_marker)| {
                Ok(QueueState {
                    metadata: QueueMetadata::from_stored(serde_json::from_str(&metadata)?),
                    next_marker,
                })
            })
            .transpose()
    }

    async fn has_messages(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<bool, StoreError> {
        has_rows(self, "messages", project, queue)
    }

    async fn has_subscriptions(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
    ) -> Result<bool, StoreError> {
        has_rows(self, "subscriptions", project, queue)
    }

    async fn held_by(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        ids: &[MessageId],
        now: Timestamp,
    ) -> Result<Vec<(MessageId, HeldBy)>, StoreError> {
        let mut select = self.prepare_cached(
            "SELECT claim_id, claim_expires FROM messages
             WHERE id = ?1 AND project = ?2 AND queue = ?3 AND expires_at > ?4",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let found = select
                .query_row(
                    params![id.as_str(), project.as_str(), queue.as_str(), now.0],
                    |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, Option<i64>>(1)?)),
                )
                .optional()?;
            if let Some((claim, expires)) = found {
                let held = HeldBy {
                    claim: claim.map(ClaimId::from_stored),
                    live: expires.is_some_and(|e| e > now.0),
                };
                out.push((id.clone(), held));
            }
        }
        Ok(out)
    }

    async fn available(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        limit: i64,
        now: Timestamp,
    ) -> Result<Vec<MessageView>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS}, {BODY_COLUMNS} FROM {JOIN}
             WHERE m.project = ?1 AND m.queue = ?2 AND m.expires_at > ?3
               AND (m.claim_expires IS NULL OR m.claim_expires <= ?3) AND m.delay_until <= ?3
             ORDER BY m.marker LIMIT ?4"
        );
        let mut select = self.prepare_cached(&sql)?;
        let mut rows = select.query(params![project.as_str(), queue.as_str(), now.0, limit])?;
        let (mut out, mut bodies) = (Vec::new(), Bodies::default());
        while let Some(row) = rows.next()? {
            out.push(message(row, now, &mut bodies)?);
        }
        Ok(out)
    }

    async fn live_claim(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &ClaimId,
        now: Timestamp,
    ) -> Result<Option<ClaimState>, StoreError> {
        let live = self
            .prepare_cached(
                "SELECT 1 FROM claims
                 WHERE id = ?1 AND project = ?2 AND queue = ?3 AND expires_at > ?4",
            )?
            .query_row(
                params![id.as_str(), project.as_str(), queue.as_str(), now.0],
                |_| Ok(()),
            )
            .optional()?;
        if live.is_none() {
            return Ok(None);
        }
        let mut select = self.prepare_cached(
            "SELECT id, expires_at FROM messages WHERE claim_id = ?1 AND expires_at > ?2
             ORDER BY marker",
        )?;
        let rows = select.query_map(params![id.as_str(), now.0], |r| {
            Ok((MessageId::from_stored(r.get(0)?), Timestamp(r.get(1)?)))
        })?;
        Ok(Some(ClaimState {
            id: id.clone(),
            messages: rows.collect::<Result<_, _>>()?,
        }))
    }

    async fn claim_exists(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &ClaimId,
    ) -> Result<bool, StoreError> {
        Ok(self
            .prepare_cached("SELECT 1 FROM claims WHERE id = ?1 AND project = ?2 AND queue = ?3")?
            .query_row(
                params![id.as_str(), project.as_str(), queue.as_str()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    async fn subscription(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<SubscriptionView>, StoreError> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions
             WHERE id = ?1 AND project = ?2 AND queue = ?3 AND expires_at > ?4"
        );
        let found = self
            .prepare_cached(&sql)?
            .query_row(
                params![id, project.as_str(), queue.as_str(), now.0],
                subscription,
            )
            .optional()?;
        with_options(found)
    }

    async fn subscription_of(
        &mut self,
        project: &ProjectId,
        queue: &QueueName,
        subscriber: &str,
        except: Option<&SubscriptionId>,
        now: Timestamp,
    ) -> Result<Option<SubscriptionView>, StoreError> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions
             WHERE project = ?1 AND queue = ?2 AND subscriber = ?3 AND expires_at > ?4
               AND id <> ?5
             LIMIT 1"
        );
        let found = self
            .prepare_cached(&sql)?
            .query_row(
                params![
                    project.as_str(),
                    queue.as_str(),
                    subscriber,
                    now.0,
                    except.map_or("", |e| e.as_str())
                ],
                subscription,
            )
            .optional()?;
        with_options(found)
    }

    async fn expired(&mut self, now: Timestamp, limit: i64) -> Result<Expired, StoreError> {
        Ok(Expired {
            claims: expired_ids(self, "claims", now, limit, ClaimId::from_stored)?,
            messages: expired_ids(self, "messages", now, limit, MessageId::from_stored)?,
            subscriptions: expired_ids(
                self,
                "subscriptions",
                now,
                limit,
                SubscriptionId::from_stored,
            )?,
        })
    }
}
