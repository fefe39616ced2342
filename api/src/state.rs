//! What every handler can reach: the domain's [`Services`] (built by `Services::connect`, the
//! same as the worker's), and beside it [`ApiLocal`], what only the api process holds.
//!
//! `ApiLocal` holds what belongs to this process's HTTP side rather than to the domain: the
//! ingest inbox's writer task (started here, the worker has none), the receivers' and
//! onboarding's per-address guards, the rules for a request's client address and the metrics
//! handle `/metrics` renders. Handlers that need it take `web::Data<ApiLocal>` too.

use std::sync::Arc;

pub use graphhook_domain::Services;
use graphhook_domain::graph::ingest::{Inbox, guard::SourceGuard};
use metrics_exporter_prometheus::PrometheusHandle;

/// The api process's own parts, beside [`Services`].
#[derive(Clone)]
pub struct ApiLocal {
    /// Where Graph's batches are written durably.
    pub inbox: Inbox,
    /// The receivers' allow-list and per-address rate limit.
    pub sources: Arc<SourceGuard>,
    /// Which address a request comes from (behind trusted proxies too).
    pub client_addr: Arc<crate::client_addr::ClientAddress>,
    /// Onboardings started per client address and minute.
    pub onboarding_starts: Arc<SourceGuard>,
    /// Connection callbacks per client address and minute.
    pub connection_callbacks: Arc<SourceGuard>,
    pub metrics: PrometheusHandle,
}

impl ApiLocal {
    /// Starts the inbox's writer on `services`' pool and queues, and builds the guards from
    /// the settings.
    pub fn start(services: &Services) -> Self {
        let settings = &services.settings;
        Self {
            inbox: Inbox::start(
                services.db.clone(),
                services.queues.clone(),
                services.clock.clone(),
                &settings.ingest,
            ),
            sources: Arc::new(SourceGuard::from_settings(&settings.ingest)),
            client_addr: Arc::new(crate::client_addr::ClientAddress::from_settings(settings)),
            onboarding_starts: Arc::new(SourceGuard::per_window(
                Vec::new(),
                settings.onboarding.max_starts_per_minute_per_address,
                60,
            )),
            connection_callbacks: Arc::new(SourceGuard::per_window(
                Vec::new(),
                settings.api.max_connection_callbacks_per_minute_per_address,
                60,
            )),
            metrics: graphhook_domain::platform::telemetry::metrics_handle(),
        }
    }
}
