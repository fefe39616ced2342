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
use graphhook_domain::delivery::webhooks::sender::{Lookup, SystemLookup};
use graphhook_domain::{Clock, Services, Settings};

use crate::{body_deadline, error, openapi, request_id, routes, state::ApiLocal};

pub struct Application {
    port: u16,
    server: Server,
    services: Services,
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
        let services = Services::connect_with_lookup(settings, clock, lookup).await?;
        // Rows from before custom headers were encrypted: once, at the first start after the
        // upgrade (later starts find none). Concurrent starts are safe.
        let sealed = graphhook_domain::delivery::endpoints::headers::seal_plain(
            &services.db,
            &services.secret_box,
        )
        .await
        .context("encrypting custom endpoint headers stored in plain text")?;
        if sealed > 0 {
            tracing::info!(
                sealed,
                "encrypted custom endpoint headers stored in plain text"
            );
        }
        Self::build_with_services(services)
    }

    /// Binds `api.listen` and prepares the server on `services` already connected; this
    /// process's own parts ([`ApiLocal`]) are started here.
    pub fn build_with_services(services: Services) -> anyhow::Result<Self> {
        let settings = services.settings.clone();
        let listener = TcpListener::bind(settings.api.listen)
            .with_context(|| format!("binding api.listen = {}", settings.api.listen))?;
        let port = listener.local_addr()?.port();
        let data = web::Data::new(services.clone());
        let local = web::Data::new(ApiLocal::start(&services));
        let json_limit = settings.api.max_json_bytes;
        let body_within = Duration::from_secs(settings.api.request_body_timeout_secs);
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(local.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(json_limit)
                        .error_handler(error::json_error),
                )
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .configure(routes::configure)
                .configure(openapi::configure)
                .default_service(web::to(error::no_route))
                .wrap(Compress::default())
                .wrap(ErrorHandlers::new().default_handler(error::render_framework_error))
                .wrap(from_fn(move |req, next| {
                    body_deadline::middleware(body_within, req, next)
                }))
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
            services,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Stops the server: `handle.stop(true)` lets in-flight requests finish.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
