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
pub(crate) mod signed;
pub mod tokens;

pub use tokens::{TokenBroker, TokenError};

/// An HTTP client for Microsoft's endpoints (Entra, Graph, or the emulator standing in for
/// them): redirects are not followed and no proxy is used; five seconds to connect, `timeout`
/// for a whole answer.
pub(crate) fn http_client(timeout: std::time::Duration) -> reqwest::Result<reqwest::Client> {
    crate::platform::tls::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(timeout)
        .build()
}
