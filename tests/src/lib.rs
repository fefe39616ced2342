//! The end-to-end harness: [`TestApp`] runs the real api on port 0 with its own database
//! (cloned from a migrated template), its own Redis key prefix, a manual clock, and TCP proxies
//! in front of Postgres and Redis that a test can cut to simulate an outage for itself alone.
//! Jobs can be drained deterministically, or run by real worker processes started in-process.

pub mod app;
pub mod client;
pub mod connections;
pub mod database;
pub mod errors;
pub mod fixtures;
pub mod graph;
pub mod onboarding;
pub mod poll;
pub mod proxy;
pub mod receiver;
pub mod replay;
pub mod retries;
pub mod waits;

pub use app::{CONTOSO_ADMIN, TestApp, TestAppBuilder};
pub use client::{OperatorClient, TenantClient};
pub use fixtures::{Tenant, TenantWithEndpoint, tenant_with_endpoint};
pub use onboarding::Onboarded;
pub use proxy::TcpProxy;
pub use receiver::{Mode, Receiver};

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

/// Logs captured in memory for the rest of this test process (nextest runs each test in a
/// process of its own), at debug level for Graphhook's crates.
pub fn capture_logs() -> CapturedLogs {
    use std::sync::{Arc, Mutex};
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = CapturedLogs(buffer.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "debug,sqlx=warn,hyper=warn,h2=warn,rustls=warn",
        ))
        .with_writer(writer.clone())
        .with_ansi(false)
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
    writer
}

/// The captured log text.
#[derive(Clone)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
