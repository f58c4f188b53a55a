//! Decisions about queues: create, JSON-patch metadata update, delete, purge.

use serde_json::{Map, Value};

use super::{Decision, Outcome};
use crate::error::ApiError;
use crate::events::{
    NewEvent, QueueCreated, QueueDeleted, QueueMetadataUpdated, QueuePurged, SubscriptionsPurged,
};
use crate::model::metadata::is_reserved;
use crate::model::{Limits, ProjectId, QueueMetadata, QueueName};

/// One operation of a queue metadata JSON-patch (already syntax-checked).
#[derive(Debug, Clone, PartialEq)]
pub enum PatchOp {
    Add { key: String, value: Value },
    Replace { key: String, value: Value },
    Remove { key: String },
}

/// PUT: creates the queue, or does nothing if it exists (the body is then ignored, as in Zaqar).
pub fn create(
    exists: bool,
    project: &ProjectId,
    queue: &QueueName,
    metadata: &QueueMetadata,
) -> Decision {
    if exists {
        return Decision::new(Vec::new(), Outcome::QueueCreated(false));
    }
    let event = QueueCreated {
        metadata: metadata.as_map().clone(),
    };
    Decision::new(
        vec![NewEvent::new(project, queue, event)],
        Outcome::QueueCreated(true),
    )
}

/// PATCH: applies the operations in order to the stored metadata, then validates the result.
pub fn update(
    current: Option<&QueueMetadata>,
    project: &ProjectId,
    queue: &QueueName,
    ops: &[PatchOp],
    limits: &Limits,
) -> Result<Decision, ApiError> {
    let current = current.ok_or_else(|| {
        ApiError::NotFound(format!(
            "Queue {queue} could not be found for project {}.",
            project.as_str()
        ))
    })?;
    let mut doc: Map<String, Value> = current.as_map().clone();
    for op in ops {
        match op {
            PatchOp::Add { key, value } => {
                doc.insert(key.clone(), value.clone());
            }
            PatchOp::Replace { key, value } => {
                if !doc.contains_key(key) && !is_reserved(key) {
                    return Err(ApiError::Conflict(format!(
                        "The metadata key \"{key}\" does not exist and cannot be replaced."
                    )));
                }
                doc.insert(key.clone(), value.clone());
            }
            PatchOp::Remove { key } => {
                if doc.shift_remove(key).is_none() && !is_reserved(key) {
                    return Err(ApiError::Conflict(format!(
                        "The metadata key \"{key}\" does not exist and cannot be removed."
                    )));
                }
            }
        }
    }
    let metadata = QueueMetadata::new(doc, limits)?;
    let event = QueueMetadataUpdated {
        metadata: metadata.as_map().clone(),
    };
    Ok(Decision::new(
        vec![NewEvent::new(project, queue, event)],
        Outcome::Metadata(metadata),
    ))
}

/// DELETE: removes the queue with its messages and claims; a missing queue is not an error.
pub fn delete(exists: bool, project: &ProjectId, queue: &QueueName) -> Decision {
    if !exists {
        return Decision::nothing();
    }
    Decision::new(
        vec![NewEvent::new(project, queue, QueueDeleted {})],
        Outcome::Done,
    )
}

/// What a purge finds in the queue, and what it was asked to remove.
#[derive(Debug, Clone, Copy)]
pub struct Purge {
    pub has_messages: bool,
    pub has_subscriptions: bool,
    pub messages: bool,
    pub subscriptions: bool,
}

/// Purge: removes every message (claimed ones too; a safe superset of Zaqar) and/or every
/// subscription (all of them, not only the first page).
pub fn purge(p: Purge, project: &ProjectId, queue: &QueueName) -> Decision {
    let mut events = Vec::new();
    if p.messages && p.has_messages {
        events.push(NewEvent::new(project, queue, QueuePurged {}));
    }
    if p.subscriptions && p.has_subscriptions {
        events.push(NewEvent::new(project, queue, SubscriptionsPurged {}));
    }
    Decision::new(events, Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::{names, stored};
    use crate::events::Event;
    use serde_json::json;

    #[test]
    fn given_existing_queue_when_created_then_nothing_changes() {
        let (p, q) = names();
        let d = create(true, &p, &q, &stored(json!({"a": 1})));
        assert!(d.events.is_empty());
        assert!(matches!(d.outcome, Outcome::QueueCreated(false)));
    }

    #[test]
    fn given_no_queue_when_created_then_queue_created_with_metadata() {
        let (p, q) = names();
        let d = create(false, &p, &q, &stored(json!({"a": 1})));
        assert_eq!(
            d.events[0].event,
            Event::QueueCreated(QueueCreated {
                metadata: json!({"a": 1}).as_object().unwrap().clone()
            })
        );
    }

    fn replace(key: &str, value: Value) -> PatchOp {
        PatchOp::Replace {
            key: key.into(),
            value,
        }
    }

    fn add(key: &str, value: Value) -> PatchOp {
        PatchOp::Add {
            key: key.into(),
            value,
        }
    }

    #[test]
    fn patch_rules_follow_zaqar() {
        let (p, q) = names();
        let l = Limits::default();
        let md = stored(json!({"a": 1}));
        let patch = |md: Option<&QueueMetadata>, ops: &[PatchOp]| update(md, &p, &q, ops, &l);
        let replace_missing = [replace("b", json!(2))];
        assert!(matches!(
            patch(Some(&md), &replace_missing),
            Err(ApiError::Conflict(_))
        ));
        let remove_reserved = [PatchOp::Remove {
            key: "_max_claim_count".into(),
        }];
        assert!(patch(Some(&md), &remove_reserved).is_ok());
        let bad_ttl = [add("_default_message_ttl", json!(1))];
        assert!(matches!(
            patch(Some(&md), &bad_ttl),
            Err(ApiError::InvalidRequest(_))
        ));
        assert!(matches!(patch(None, &bad_ttl), Err(ApiError::NotFound(_))));
        let ok = [replace("a", json!(5)), add("c", json!("x"))];
        let d = update(Some(&md), &p, &q, &ok, &l).unwrap();
        match d.outcome {
            Outcome::Metadata(m) => {
                assert_eq!(m.as_map(), json!({"a": 5, "c": "x"}).as_object().unwrap())
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
