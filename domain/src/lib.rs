//! Graphhook's domain: everything the api, the worker and the tests agree on.
//!
//! It owns the typed configuration, the [`Clock`](platform::clock::Clock) every time-dependent decision
//! asks, typed ids, the sea-orm entities with their tenant-scoped finders, the job payloads and
//! their queue names, and the domain error type. It knows nothing about HTTP.

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
