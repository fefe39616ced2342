//! The process-wide TLS crypto provider. Two are compiled in (ring via sqlx, and rustls'
//! own choice elsewhere), so rustls cannot pick one by itself; every binary and every component
//! that makes TLS connections calls [`install_crypto_provider`] first.

use std::sync::Once;

pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
