//! The emulator's behaviour, end to end over HTTP. Expected bodies are copied from
//! graph-protocol.md, with the section each comes from noted beside it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access_policy;
mod consent;
mod counters;
mod delegated;
mod directory_users;
mod entra_formats;
mod fixtures;
mod graph_auth;
mod graph_formats;
mod handshake;
mod harness;
mod inbox;
mod lifecycle;
mod notifications;
mod oidc_client;
mod persistence;
mod personal;
mod refresh_tokens;
mod retries;
mod rich;
mod rich_bodies;
mod seeding;
mod sign_in;
mod sign_in_errors;
mod subscriptions;
mod throttling;
mod tokens;
mod unknown_users;
