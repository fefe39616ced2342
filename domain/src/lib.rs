//! Graphhook's domain: everything the api, the worker and the tests agree on, grouped by what a
//! reader looks for, in the order a notification meets it: [`platform`] (settings, database,
//! Redis, jobs, ids, paging, errors, the [`Clock`] every time-dependent decision asks),
//! [`tenancy`] (tenants, onboarding, API keys, connections), [`graph`] (Microsoft, resources,
//! subscriptions, ingest), [`delivery`] (events, endpoints, the engine, outgoing webhooks) and
//! [`operator`] (operators' tokens, actions, audit, figures, probes); [`Services`] is what a
//! process holds to call them. It knows nothing about HTTP.

// A function longer than clippy.toml's `too-many-lines-threshold` is split into steps that
// say what they do; tests may run long.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

pub mod delivery;
pub mod graph;
pub mod operator;
pub mod platform;
pub mod services;
pub mod tenancy;

pub use platform::clock::Clock;
pub use platform::config::{Mode, Settings};
pub use platform::error::DomainError;
pub use services::Services;
