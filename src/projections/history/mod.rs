//! The history index: for every message, the log positions of the events that concern it
//! (what `GET …/messages/{id}/history` reads). Its fold step and queries, in each SQL
//! dialect.

pub mod postgres;
pub mod sqlite;
