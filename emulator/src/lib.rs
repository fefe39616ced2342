//! A local stand-in for the parts of Microsoft that Graphhook talks to: Entra ID (admin
//! consent, OpenID Connect sign-in with the authorization code flow and PKCE, client-credentials
//! tokens, OpenID discovery, JWKS) and Microsoft Graph
//! `/subscriptions` with its validation handshake, and the change notifications Graph then
//! delivers. Like LocalStack for AWS, it lets the tests, `graphhook dev` and docker-compose run
//! without a Microsoft tenant.
//!
//! It follows `graph-protocol.md` (the checklist in its §9): status codes, error bodies, token
//! shapes and Graph's rules per resource. It keeps its own model of those rules, independent of
//! the api's, so the two check each other. State lives in memory; time comes from the shared
//! [`Clock`], so a test moves time for Graphhook and the emulator together. A control API under
//! `/_emulator/…` (a path Microsoft never uses) sets up tenants and consent, makes changes
//! happen and exposes state, including every delivery attempt. With a state file
//! ([`persist`]) the world outlives the process.

// Handlers build Microsoft's exact error responses early and return them as their `Err`;
// boxing every one would add noise without saving anything that matters in an emulator.
#![allow(clippy::result_large_err)]
// A function longer than clippy.toml's `too-many-lines-threshold` is split into steps that
// say what they do; tests may run long.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

pub mod config;
mod control;
pub mod crypto;
pub mod delivery;
pub mod directory_roles;
mod entra;
mod graph;
mod http;
mod notify;
pub mod persist;
pub mod rules;
mod server;
mod shared;
pub mod state;

#[cfg(test)]
mod tests;

pub use config::{Behaviour, EmulatorConfig};
pub use entra::{AccessTokenClaims, IdTokenClaims, Issued};
pub use graphhook_platform::Clock;
pub use server::{Emulator, RunningEmulator};
