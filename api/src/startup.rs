//! Builds the api: connects to Postgres and Redis, binds its own listener (port 0 in tests) and
//! returns a server the caller runs and stops.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{
    App, HttpServer,
    dev::{Server, ServerHandle},
    middleware::{Compress, ErrorHandlers, from_fn},
    web,
};
use anyhow::Context;
use graphhook_domain::delivery::engine::schedule::Schedule;
use graphhook_domain::delivery::webhooks::{
    crypt::SecretBox,
    sender::{Lookup, Sender, SystemLookup},
};
use graphhook_domain::graph::microsoft::graph::GraphClient;
use graphhook_domain::{
    Clock, Settings, graph::microsoft::TokenBroker, platform::db, platform::jobs::Queues,
    platform::redis_conn, platform::telemetry,
};

use crate::{error, request_id, routes, state::AppState};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Connects, binds `api.listen` and prepares the server. Signals are not handled here: the
    /// caller decides when to stop (see [`Application::handle`]).
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        Self::build_with_lookup(settings, clock, Arc::new(SystemLookup)).await
    }

    /// As [`Application::build`], resolving webhook hosts with `lookup` (tests replace DNS).
    pub async fn build_with_lookup(
        settings: Settings,
        clock: Clock,
        lookup: Arc<dyn Lookup>,
    ) -> anyhow::Result<Self> {
        let db = db::connect(&settings.database)
            .await
            .context("connecting to PostgreSQL")?;
        let redis = redis_conn::connect(&settings.redis)
            .await
            .context("connecting to Redis")?;
        let queues = Queues::new(&settings, redis.clone());
        let flow = graphhook_domain::delivery::engine::FlowControl::from_settings(
            &settings,
            redis.clone(),
        );
        let broker = Arc::new(TokenBroker::new(&settings.microsoft, clock.clone())?);
        let inbox = graphhook_domain::graph::ingest::Inbox::start(
            db.clone(),
            queues.clone(),
            clock.clone(),
            &settings.ingest,
        );
        let sender = Arc::new(webhook_sender(&settings, lookup)?);
        let secret_box = SecretBox::new(&settings.webhook_encryption_key())
            .context("webhooks.encryption_key")?;
        // Rows from before custom headers were encrypted: once, at the first start after the
        // upgrade (later starts find none). Concurrent starts are safe.
        let sealed = graphhook_domain::delivery::endpoints::headers::seal_plain(&db, &secret_box)
            .await
            .context("encrypting custom endpoint headers stored in plain text")?;
        if sealed > 0 {
            tracing::info!(
                sealed,
                "encrypted custom endpoint headers stored in plain text"
            );
        }
        let graph = Arc::new(GraphClient::new(&settings.microsoft.graph_url)?);
        let retry_schedule =
            Schedule::from_settings(&settings.webhooks).context("webhooks.retry_schedule_secs")?;
        let state = AppState {
            graph,
            retry_schedule,
            broker,
            sender,
            secret_box,
            signing: Arc::default(),
            db,
            redis,
            queues,
            flow,
            inbox,
            sources: Arc::new(
                graphhook_domain::graph::ingest::guard::SourceGuard::from_settings(
                    &settings.ingest,
                ),
            ),
            client_addr: Arc::new(crate::client_addr::ClientAddress::from_settings(&settings)),
            onboarding_starts: Arc::new(
                graphhook_domain::graph::ingest::guard::SourceGuard::per_window(
                    Vec::new(),
                    settings.onboarding.max_starts_per_minute_per_address,
                    60,
                ),
            ),
            jwks: Arc::new(graphhook_domain::graph::microsoft::rich::JwksCache::new(
                &settings.microsoft,
            )?),
            settings: Arc::new(settings),
            clock,
            metrics: telemetry::metrics_handle(),
        };
        Self::build_with_state(state)
    }

    pub fn build_with_state(state: AppState) -> anyhow::Result<Self> {
        let settings = state.settings.clone();
        let listener = TcpListener::bind(settings.api.listen)
            .with_context(|| format!("binding api.listen = {}", settings.api.listen))?;
        let port = listener.local_addr()?.port();
        let data = web::Data::new(state.clone());
        let json_limit = settings.api.max_json_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(json_limit)
                        .error_handler(error::json_error),
                )
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .configure(routes::configure)
                .default_service(web::to(error::no_route))
                .wrap(Compress::default())
                .wrap(ErrorHandlers::new().default_handler(error::render_framework_error))
                .wrap(from_fn(request_id::middleware))
        })
        .disable_signals()
        .shutdown_timeout(settings.api.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(10));
        if settings.api.workers > 0 {
            server = server.workers(settings.api.workers);
        }
        let server = server.listen(listener)?.run();
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops the server: `handle.stop(true)` lets in-flight requests finish.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The webhook sender with the deployment's SSRF policy.
pub fn webhook_sender(settings: &Settings, lookup: Arc<dyn Lookup>) -> anyhow::Result<Sender> {
    graphhook_domain::delivery::webhooks::sender::from_settings(settings, lookup)
}
