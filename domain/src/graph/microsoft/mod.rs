//! Talking to Microsoft: the application permissions Graphhook asks for, reading the claims of
//! a Graph token, the per-tenant token broker, and an administrator's sign-in (authorization
//! URL, code redemption, id_token validation).

pub mod certificates;
pub mod claims;
pub mod delegated;
pub mod graph;
pub mod id_token;
pub mod preflight;
pub mod rich;
pub mod roles;
pub mod sign_in;
pub mod tokens;

pub use tokens::{TokenBroker, TokenError};
