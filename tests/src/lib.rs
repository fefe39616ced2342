//! The end-to-end harness: [`TestApp`] runs the real api on port 0 with its own database
//! (cloned from a migrated template), its own Redis key prefix, a manual clock, and TCP proxies
//! in front of Postgres and Redis that a test can cut to simulate an outage for itself alone.
//! Jobs can be drained deterministically, or run by real worker processes started in-process.

pub mod app;
pub mod database;
pub mod proxy;

pub use app::{TestApp, TestAppBuilder};
pub use proxy::TcpProxy;

/// Installs a test log subscriber once when `TEST_LOG` is set (e.g. `TEST_LOG=debug`).
pub fn init_test_logging() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}
