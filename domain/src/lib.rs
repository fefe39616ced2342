//! Graphhook's domain: everything the api, the worker and the tests agree on.
//!
//! It owns the typed configuration, the [`Clock`](clock::Clock) every time-dependent decision
//! asks, typed ids, the sea-orm entities with their tenant-scoped finders, the job payloads and
//! their queue names, and the domain error type. It knows nothing about HTTP.

// A function longer than clippy.toml's `too-many-lines-threshold` is split into steps that
// say what they do; tests may run long.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod config;
pub mod connect_error;
pub mod connections;
pub mod db;
pub mod deliveries;
pub mod endpoints;
pub mod entities;
pub mod error;
pub mod event_catalogue;
pub mod events;
pub mod ids;
pub mod ingest;
pub mod jobs;
pub mod microsoft;
pub mod onboarding;
pub mod operators;
pub mod ops;
pub mod paging;
pub mod probe;
pub mod redis_conn;
pub mod resources;
pub mod secret;
pub mod subscriptions;
pub mod telemetry;
pub mod tenants;
pub mod webhooks;

// The clock and the TLS setup live in `graphhook-platform`, which the emulator shares without
// linking the domain; they stay reachable at their old paths.
pub use graphhook_platform::{clock, tls};

pub use clock::Clock;
pub use config::{Mode, Settings};
pub use error::DomainError;
