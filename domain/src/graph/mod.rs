//! Microsoft Graph, in the order a notification meets it: the Microsoft clients (tokens,
//! sign-in, the Graph client, rich notifications), the resources a tenant may subscribe to, the
//! subscriptions Graphhook holds, and ingest, where Graph's POSTs become the tenant's events.

pub mod ingest;
pub mod microsoft;
pub mod resources;
pub mod subscriptions;
