//! Events of a queue's own lifecycle.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A queue came into being (by PUT, or lazily by the first post or dead-lettering).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueCreated {
    pub metadata: Map<String, Value>,
}

/// The queue's metadata document was replaced by this one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueMetadataUpdated {
    pub metadata: Map<String, Value>,
}

/// The queue and everything in it were deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueDeleted {}

/// Every message (claimed or not) and claim of the queue were removed; the queue remains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuePurged {}
