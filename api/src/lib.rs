//! Graphhook's HTTP api (actix-web) as a library: the binary runs it, and the tests spawn the
//! real thing on port 0.
//!
//! `startup` builds the app and binds its listener; `error` owns the one JSON error shape;
//! `request_id` tags every response and log line; `routes` holds one module per area with a
//! `configure` function each; `extractors` authenticate before a handler runs; `body` and
//! `bounded` parse what callers send into values the rest can rely on; `state` is what handlers
//! reach (the domain's `Services`, and `ApiLocal`, this process's own parts).

// A function longer than clippy.toml's `too-many-lines-threshold` is split into steps that
// say what they do; tests may run long.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

pub mod annotations;
pub mod body;
pub mod body_deadline;
pub mod bounded;
pub mod client_addr;
pub mod error;
pub mod extractors;
pub mod openapi;
pub mod pagination;
pub mod request_id;
pub mod routes;
pub mod startup;
pub mod state;

pub use startup::Application;
pub use state::ApiLocal;
