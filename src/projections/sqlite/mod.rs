//! The SQLite read models. [`fold`] applies each appended event to the tables (run by the
//! writer inside the append transaction, so reads right after a `201` see the change) and
//! `decide_reads` answers the reads decisions need, both on the writer's synchronous
//! connection; the table files hold the queries that serve clients, through the async
//! reader pool. [`window`] is the rebuild's fold: the same rules, a window of events at a
//! time.

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
