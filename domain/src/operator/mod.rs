//! What operators use to run Graphhook: their tokens, what they do to tenants and
//! subscriptions, the audit log of it, what they look at to tell whether Graphhook keeps up, and
//! pipeline probes.

pub mod admin;
pub mod audit;
pub mod ops;
pub mod probe;
pub mod tokens;
