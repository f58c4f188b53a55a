//! The `subscriptions` read model: one row per subscription until it is deleted or
//! expires. Its fold steps and queries, in each SQL dialect.

pub mod postgres;
pub mod sqlite;
