//! The few generic pieces that Graphhook and its Microsoft emulator both stand on.
//!
//! The emulator stands in for Microsoft Graph and Entra ID, so it must not link Graphhook's
//! domain: it would then share code with the very service it is meant to test from the outside.
//! Yet both sides must agree on the time (tests move one manual [`Clock`] and hand it to the app
//! and the emulator alike), install the same TLS crypto provider, and compare presented secrets
//! the same careful way. Those pieces live here, with no database, queue or HTTP client behind
//! them; `graphhook-domain` re-exports them at their old paths.

// A function longer than clippy.toml's `too-many-lines-threshold` is split into steps that
// say what they do; tests may run long.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

pub mod clock;
pub mod secret;
pub mod tls;

pub use clock::Clock;
