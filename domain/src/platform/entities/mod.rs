//! sea-orm entities, one file per table, mirroring the migrations. Logic on top of them lives
//! in the domain modules that own it (e.g. [`crate::operator::audit`]); every tenant-owned query goes
//! through a finder that takes the tenant id.

pub mod api_key;
pub mod attempt;
pub mod audit_log;
pub mod connection;
pub mod consent;
pub mod delivery;
pub mod encryption_certificate;
pub mod endpoint;
pub mod endpoint_secret;
pub mod inbound_batch;
pub mod message;
pub mod operational_event;
pub mod subscription;
pub mod subscription_action;
pub mod tenant;
