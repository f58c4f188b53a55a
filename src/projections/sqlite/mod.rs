//! The SQLite read models. [`fold`] applies each appended event to the tables (run by the
//! writer inside the append transaction, so reads right after a `201` see the change) and
//! `decide_reads` answers the reads decisions need, both on the writer's synchronous
//! connection; the table files hold the queries that serve clients, through the async
//! reader pool. [`window`] is the rebuild's fold: the same rules, a window of events at a
//! time. Message rows keep no body of their own: [`bodies`] reads it from the posting event.
//!
//! Statements that write several rows are `OR FAIL`. Under SQLite's default
//! (`ABORT`), a failing row undoes the rows its statement already wrote, so SQLite copies
//! every page the statement changes into a statement journal first. Neither fold needs
//! that: any error ends the whole transaction (the writer rolls its batch back, a rebuild
//! commits nothing).

pub mod bodies;
pub mod claims;
mod decide_reads;
pub mod fold;
pub mod history;
pub mod messages;
pub mod queues;
pub mod subscriptions;
pub mod window;

/// Name under which the inline projections record the log position they reflect.
pub const CHECKPOINT: &str = "inline";

/// The read-model tables, each with the columns that identify a row (for reports).
pub const READ_MODELS: [(&str, &str); 6] = [
    ("queues", "project || '/' || name"),
    ("messages", "project || '/' || queue || '/' || id"),
    ("claims", "id"),
    ("subscriptions", "id"),
    ("message_history", "message_id"),
    ("projection_checkpoints", "name"),
];
