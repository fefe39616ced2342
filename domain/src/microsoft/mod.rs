//! Talking to Microsoft: the application permissions Graphhook asks for, reading the claims of
//! a Graph token, and the per-tenant token broker.

pub mod certificates;
pub mod claims;
pub mod graph;
pub mod rich;
pub mod roles;
pub mod tokens;

pub use tokens::{TokenBroker, TokenError};
