//! The `queues` read model: one row per queue, with its metadata and the next marker its
//! posts get. Its fold steps and queries, in each SQL dialect.

pub mod postgres;
pub mod sqlite;
