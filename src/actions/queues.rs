//! Queue actions: list, create, get, exists, update (JSON patch), delete, stats, purge and
//! share (a pre-signed URL).

use serde_json::Value;

use super::{namespaced, Action, Guard, On};
use crate::auth::signed_url::SignedUrl;
use crate::commands::{Command, PatchOp};
use crate::error::ApiError;
use crate::model::{Limits, QueueMetadata, QueueName, Timestamp};
use crate::projections::{QueueFilter, QueueStats, QueueView};

/// `queue_list`: a page of the project's queues.
#[derive(Debug, Clone)]
pub struct QueueList {
    pub filter: QueueFilter,
    /// Also count the project's queues.
    pub with_count: bool,
}

/// A page of queues, and their number when asked for (never 0: omitted then).
#[derive(Debug, Clone)]
pub struct Queues {
    pub queues: Vec<QueueView>,
    pub count: Option<i64>,
}

impl QueueList {
    /// A queue listing; `metadata` filters compare stored values (integers when they parse).
    pub fn new(
        marker: Option<String>,
        limit: Option<i64>,
        name: Option<String>,
        metadata: Vec<(String, String)>,
        with_count: bool,
        limits: &Limits,
    ) -> Result<QueueList, ApiError> {
        let metadata = metadata
            .into_iter()
            .map(|(k, v)| {
                let value = v
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(v));
                (k, value)
            })
            .collect();
        Ok(QueueList {
            filter: QueueFilter {
                marker,
                limit: limits.queue_page(limit)?,
                name,
                metadata,
            },
            with_count,
        })
    }
}

impl Action for QueueList {
    type Reply = Queues;

    fn guard(&self, topics: bool) -> Guard {
        let root = if topics { "/v2/topics" } else { "/v2/queues" };
        let rule = namespaced(topics, "queues:get_all", "topics:get_all");
        Guard::new(rule, "GET", root.into())
    }

    /// A merge, by name, of the page of each store the project's queues may live in.
    async fn run(self, on: &On<'_>) -> Result<Queues, ApiError> {
        let mut queues = Vec::new();
        let mut count = 0;
        for store in on.core.pools.all() {
            queues.extend(store.list_queues(on.project(), &self.filter).await?);
            if self.with_count {
                count += store.count_queues(on.project()).await?;
            }
        }
        queues.sort_by(|a, b| a.name.cmp(&b.name));
        queues.truncate(usize::try_from(self.filter.limit).unwrap_or(usize::MAX));
        let count = Some(count).filter(|n| self.with_count && *n > 0);
        Ok(Queues { queues, count })
    }
}

/// `queue_create`: answers whether the queue is new (an existing one is left as it is).
#[derive(Debug, Clone)]
pub struct QueueCreate {
    pub queue: QueueName,
    pub metadata: QueueMetadata,
}

impl Action for QueueCreate {
    type Reply = bool;

    fn guard(&self, topics: bool) -> Guard {
        let rule = namespaced(topics, "queues:create", "topics:create");
        Guard::queue(rule, "PUT", topics, &self.queue, "")
    }

    async fn run(self, on: &On<'_>) -> Result<bool, ApiError> {
        let command = Command::CreateQueue {
            queue: self.queue,
            metadata: self.metadata,
        };
        on.submit(command).await
    }
}

/// `queue_get`: the stored metadata (empty for a missing queue, as Zaqar answers).
#[derive(Debug, Clone)]
pub struct QueueGet {
    pub queue: QueueName,
}

impl Action for QueueGet {
    type Reply = QueueMetadata;

    fn guard(&self, topics: bool) -> Guard {
        let rule = namespaced(topics, "queues:get", "topics:get");
        Guard::queue(rule, "GET", topics, &self.queue, "")
    }

    async fn run(self, on: &On<'_>) -> Result<QueueMetadata, ApiError> {
        let store = &on.store_of(&self.queue).await?;
        let metadata = store.queue_metadata(on.project(), &self.queue).await?;
        Ok(metadata.unwrap_or_default())
    }
}

/// `HEAD` of a queue: whether it exists.
#[derive(Debug, Clone)]
pub struct QueueExists {
    pub queue: QueueName,
}

impl Action for QueueExists {
    type Reply = bool;

    fn guard(&self, topics: bool) -> Guard {
        let rule = namespaced(topics, "queues:get", "topics:get");
        Guard::queue(rule, "HEAD", topics, &self.queue, "")
    }

    async fn run(self, on: &On<'_>) -> Result<bool, ApiError> {
        let store = &on.store_of(&self.queue).await?;
        Ok(store
            .queue_metadata(on.project(), &self.queue)
            .await?
            .is_some())
    }
}

/// `PATCH` of a queue's metadata: the metadata afterwards.
#[derive(Debug, Clone)]
pub struct QueueUpdate {
    pub queue: QueueName,
    pub ops: Vec<PatchOp>,
}

impl Action for QueueUpdate {
    type Reply = QueueMetadata;

    fn guard(&self, topics: bool) -> Guard {
        let rule = namespaced(topics, "queues:update", "topics:update");
        Guard::queue(rule, "PATCH", topics, &self.queue, "")
    }

    async fn run(self, on: &On<'_>) -> Result<QueueMetadata, ApiError> {
        let command = Command::UpdateQueue {
            queue: self.queue,
            ops: self.ops,
        };
        on.submit(command).await
    }
}

/// `queue_delete`: the queue, its messages, claims and subscriptions.
#[derive(Debug, Clone)]
pub struct QueueDelete {
    pub queue: QueueName,
}

impl Action for QueueDelete {
    type Reply = ();

    fn guard(&self, topics: bool) -> Guard {
        let rule = namespaced(topics, "queues:delete", "topics:delete");
        Guard::queue(rule, "DELETE", topics, &self.queue, "")
    }

    /// A queue that lived on a pool leaves its place behind it (one at home has none).
    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        let queue = self.queue.clone();
        let (pool, _) = on.core.pools.locate(on.project(), &queue).await?;
        on.submit_done(Command::DeleteQueue { queue: self.queue })
            .await?;
        match pool {
            Some(_) => on.unplace(&queue).await,
            None => Ok(()),
        }
    }
}

/// `queue_get_stats`.
#[derive(Debug, Clone)]
pub struct QueueGetStats {
    pub queue: QueueName,
}

/// A queue's message counts, and whether it exists (the WebSocket API answers 404
/// otherwise; REST shows zeros).
#[derive(Debug, Clone)]
pub struct Stats {
    pub stats: QueueStats,
    pub exists: bool,
}

impl Action for QueueGetStats {
    type Reply = Stats;

    fn guard(&self, topics: bool) -> Guard {
        let rule = namespaced(topics, "queues:stats", "topics:stats");
        Guard::queue(rule, "GET", topics, &self.queue, "/stats")
    }

    async fn run(self, on: &On<'_>) -> Result<Stats, ApiError> {
        let store = &on.store_of(&self.queue).await?;
        Ok(Stats {
            stats: store.queue_stats(on.project(), &self.queue, on.now).await?,
            exists: store
                .queue_metadata(on.project(), &self.queue)
                .await?
                .is_some(),
        })
    }
}

/// `queue_purge`: its messages, its subscriptions, or both.
#[derive(Debug, Clone)]
pub struct QueuePurge {
    pub queue: QueueName,
    pub messages: bool,
    pub subscriptions: bool,
}

impl Action for QueuePurge {
    type Reply = ();

    fn guard(&self, topics: bool) -> Guard {
        let rule = namespaced(topics, "queues:purge", "topics:purge");
        Guard::queue(rule, "POST", topics, &self.queue, "/purge")
    }

    async fn run(self, on: &On<'_>) -> Result<(), ApiError> {
        on.submit_done(Command::PurgeQueue {
            queue: self.queue,
            messages: self.messages,
            subscriptions: self.subscriptions,
        })
        .await
    }
}

/// `POST …/share`: a pre-signed URL for some of the queue's resources.
#[derive(Debug, Clone)]
pub struct QueueShare {
    pub queue: QueueName,
    /// Full paths, e.g. `/v2/queues/q/messages`.
    pub paths: Vec<String>,
    pub methods: Vec<String>,
    pub expires: Timestamp,
}

impl QueueShare {
    /// A share request's body (reference §2.4.8), validated as Zaqar does: only `paths`
    /// (of `messages`, `subscriptions`, `claims`; default `messages`), `methods` (a list;
    /// default `GET`) and `expires` (ISO 8601, in the future; default a day from `now`).
    pub fn new(
        queue: QueueName,
        body: &serde_json::Map<String, Value>,
        now: Timestamp,
    ) -> Result<QueueShare, ApiError> {
        let unknown: Vec<&str> = body
            .keys()
            .map(String::as_str)
            .filter(|k| !matches!(*k, "paths" | "methods" | "expires"))
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::InvalidRequest(format!(
                "Unknown keys: {}",
                unknown.join(", ")
            )));
        }
        let paths = share_paths(strings(body, "paths")?.filter(|p| !p.is_empty()))?
            .iter()
            .map(|p| format!("/v2/queues/{}/{p}", queue.as_str()))
            .collect();
        let methods = strings(body, "methods")?
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| vec!["GET".to_owned()]);
        let expires = match body.get("expires") {
            None | Some(Value::Null) => Timestamp(now.0 + 86_400_000),
            Some(value) => {
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                crate::auth::signed_url::parse_expires(&text).map_err(ApiError::InvalidRequest)?
            }
        };
        // Signed URLs carry whole seconds.
        if expires.0 / 1000 <= now.0 / 1000 {
            return Err(ApiError::InvalidRequest(
                "`expires` is lower than the current time".into(),
            ));
        }
        Ok(QueueShare {
            queue,
            paths,
            methods,
            expires,
        })
    }
}

/// A list of strings of a share document, if given.
fn strings(
    body: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<String>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| ApiError::InvalidRequest(format!("`{name}` must be a list of strings"))),
        Some(_) => Err(ApiError::InvalidRequest(format!(
            "`{name}` should be a list"
        ))),
    }
}

/// The resources a share may cover; `messages` when none are named.
fn share_paths(paths: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let Some(paths) = paths else {
        return Ok(vec!["messages".to_owned()]);
    };
    let invalid: Vec<&str> = paths
        .iter()
        .map(String::as_str)
        .filter(|p| !matches!(*p, "messages" | "subscriptions" | "claims"))
        .collect();
    if !invalid.is_empty() {
        return Err(ApiError::InvalidRequest(format!(
            "Invalid paths: {}",
            invalid.join(", ")
        )));
    }
    Ok(paths)
}

impl Action for QueueShare {
    type Reply = SignedUrl;

    fn guard(&self, topics: bool) -> Guard {
        Guard::queue("queues:share", "POST", topics, &self.queue, "/share")
    }

    async fn run(self, on: &On<'_>) -> Result<SignedUrl, ApiError> {
        let paths: Vec<&str> = self.paths.iter().map(String::as_str).collect();
        let methods: Vec<&str> = self.methods.iter().map(String::as_str).collect();
        let project = on.project().as_str();
        on.core.auth.share(&paths, &methods, project, self.expires)
    }
}
