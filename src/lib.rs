//! Cairn: a multi-tenant messaging service, wire-compatible with OpenStack Zaqar v2, built
//! as an event-sourced engine with CQRS.
//!
//! A tour, following a request:
//! - [`transports`] decode the wire (REST and WebSocket) into one of [`actions`]' types,
//!   after [`auth`] has said who is asking; the REST transport also serves the OpenAPI
//!   document, its reference page and the web console (which speaks the WebSocket API);
//! - [`actions`] validates and runs it against the core [`state`]: reads go to the read
//!   models, writes become [`commands`];
//! - [`commands`] decide, from the read models as the store's single writer sees them
//!   (through [`projections::ReadModel`]), which [`events`] happened; the writer
//!   ([`store`]) appends them to the log and folds them into the [`projections`] in the
//!   same transaction (group commit), so a `201` is durable and immediately readable; log
//!   upkeep (checkpoints, pruning, rebuild) is the store's own work;
//! - [`model`] holds the validated value types every layer shares, [`error`] the errors a
//!   client can see, [`schema`] the migrations of both SQL dialects;
//! - [`notify`] delivers notifications (webhooks, mail) as a catch-up consumer of the log,
//!   with retries, a durable checkpoint and an SSRF guard; [`kafka`] publishes the log to a
//!   Kafka topic, exactly once and in order per queue, and reads such a topic back into a
//!   store (`cairn replay --from kafka://…`);
//! - [`auth`] authenticates every request, whatever its transport, once: Keystone tokens
//!   (with a bounded cache), Zaqar's pre-signed URLs, or nothing (`--auth none`); holds
//!   the policy `actions::execute` checks each action against; and makes the Keystone
//!   trusts of `trust+` subscribers and the tokens their deliveries carry;
//! - [`app`] wires the core state, transports and background runners; [`config`] parses
//!   settings; [`admin`] holds the offline `replay` and `verify` commands; [`metrics`] what
//!   `/metrics` exposes; [`bench`] is `cairn bench`, a zaqar-bench-style load generator.
//!
//! The layers, from the bottom up; a module imports only from the layers below it, peers on
//! one line do not import each other, and no files import each other in a circle (the
//! `layering` integration test checks all three):
//!
//! ```text
//! error → model → events → metrics, schema → projections → commands → store → auth
//!       → state → actions → transports, notify, kafka → app, bench → config → admin
//! ```

pub mod actions;
pub mod admin;
pub mod app;
pub mod auth;
pub mod bench;
pub mod commands;
pub mod config;
pub mod error;
pub mod events;
pub mod kafka;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod projections;
pub mod schema;
pub mod state;
pub mod store;
pub mod transports;
