//! The `messages` read model: one row per live message, with the claim that holds it. Its
//! fold steps and queries, in each SQL dialect.

pub mod postgres;
pub mod sqlite;
