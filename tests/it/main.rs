//! Cairn's integration tests, one crate: each module tests one subject against a real Cairn
//! over real sockets on 127.0.0.1 (in-process servers, or the real binary where a test kills
//! or restarts it), and `common` is the harness they share. One crate links Cairn and its
//! dependencies once instead of once per file.
//!
//! The suite runs on SQLite; `scripts/test` runs the backend-independent modules a second
//! time with `CAIRN_TEST_BACKEND=postgres`. `postgres` always uses PostgreSQL, `auth` and
//! `trusts` a real Keystone, `kafka` librdkafka's mock cluster and `kafka_broker` a real
//! Kafka-protocol broker; `scripts/test quick` leaves those five out.

mod common;

mod audit;
mod auth;
mod bench_smoke;
mod claims;
mod connections;
mod expiry;
mod faults;
mod interleavings;
mod kafka;
mod kafka_broker;
mod layering;
mod limits_and_errors;
mod messages;
mod meta;
mod metrics;
mod notifications;
mod notify_crash;
mod pages;
mod pools;
mod postgres;
mod queues;
mod replay;
mod replay_property;
mod restart;
mod retention;
mod scenarios;
mod tenancy;
mod trusts;
mod websocket;
