//! The `claims` read model: one row per claim until it is released or expires. Its fold
//! steps and queries, in each SQL dialect.

pub mod postgres;
pub mod sqlite;
