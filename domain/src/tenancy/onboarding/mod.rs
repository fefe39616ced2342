//! Onboarding an organization: the administrator signs in first (OpenID Connect, authorization
//! code + PKCE + nonce), and only then is admin consent asked for the tenant the sign-in proved.
//!
//! Two signed `state`s carry the flow through Microsoft and back, both bound to the browser that
//! started it (see [`state`]): the sign-in state, and the consent state that names the signed-in
//! person and their tenant. Nothing is stored before Microsoft sends the browser back: the PKCE
//! verifier and the nonce are derived from the state and the browser's HttpOnly cookie with the
//! server's key, and a state is used up by recording its id until it expires.

pub mod state;

pub use state::{Person, Phase, StateClaims, StateError};
