//! Logs and metrics for every Graphhook process.
//!
//! Logs are JSON in production and readable text in development; span fields (the request id of
//! the api's request span, the job id of a worker's job span) appear on every line logged inside
//! them. Metrics go to one process-wide Prometheus recorder that `/metrics` renders.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::platform::config::{LogFormat, Settings};

/// Installs the global tracing subscriber. Calling it again is harmless (the first one stays).
pub fn init_tracing(settings: &Settings) {
    // Applying migrations is a line per migration at `info`, and PostgreSQL's notices about
    // what already exists another; unless asked for (by `RUST_LOG`, or by naming them in
    // `log.filter`), only their warnings show.
    let mut configured = settings.log.filter.clone();
    for quiet in ["sea_orm_migration", "sqlx::postgres::notice"] {
        if !configured.contains(quiet) {
            configured.push_str(&format!(",{quiet}=warn"));
        }
    }
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&configured))
        .or_else(|_| EnvFilter::try_new(&settings.log.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match settings.log.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !settings.mode.is_development(),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()
    } else {
        registry.with(fmt::layer().compact()).try_init()
    };
    // Already installed (tests, or `dev` running several components): keep the first.
    let _ = result;
}

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus handle, installing the recorder on first use.
pub fn metrics_handle() -> PrometheusHandle {
    PROMETHEUS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; the handle then renders
            // nothing, which /metrics makes visible rather than hiding.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
