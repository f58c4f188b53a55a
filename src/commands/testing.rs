//! What the deciders' unit tests share: a project and queue, and stored metadata.

use crate::model::{ProjectId, QueueMetadata, QueueName};

/// Project `p` and its queue `q`.
pub fn names() -> (ProjectId, QueueName) {
    let p = ProjectId::new(Some("p")).unwrap();
    let q = QueueName::new("q", &p).unwrap();
    (p, q)
}

/// Queue metadata as the read models hold it.
pub fn stored(v: serde_json::Value) -> QueueMetadata {
    QueueMetadata::from_stored(v.as_object().unwrap().clone())
}
