//! From a tenant's event to its endpoints: the event catalogue and endpoint filters, the
//! endpoints themselves (registration, settings, secrets), the delivery engine (messages, claim,
//! gate, send, record, retry schedule, history) and the outgoing webhooks it sends (Standard
//! Webhooks signing, the one HTTP client, SSRF rules, secrets at rest).

pub mod endpoints;
pub mod engine;
pub mod event_catalogue;
pub mod events;
pub mod webhooks;
