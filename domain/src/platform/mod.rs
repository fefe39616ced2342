//! What every part of Graphhook stands on: typed settings, the database pool and its entities,
//! Redis, job payloads with their queue names, typed ids, keyset paging, per-tenant quotas,
//! tenant-scoped finders, secret values, the domain error, logs and metrics. The `Clock` and
//! the TLS setup come from `graphhook-platform`, which the emulator shares without linking the
//! domain.

pub mod config;
pub mod connect_error;
pub mod db;
pub mod entities;
pub mod error;
pub mod ids;
pub mod jobs;
pub mod owned;
pub mod paging;
pub mod quota;
pub mod redis_conn;
pub mod secret;
pub mod telemetry;

pub use graphhook_platform::{clock, tls};
