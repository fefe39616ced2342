//! What the api and the worker hold, built once per process by [`Services::connect`]: the
//! database pool, Redis and the job queues, and every long-lived part built from the settings
//! (Graph tokens, the Graph client, the webhook sender, the secret box, caches, flow control,
//! the retry schedule). Domain operations take `&Services` (and a transaction where they must
//! run on one) instead of each asking for its own list of parts.
//!
//! Only parts the domain owns live here, even where one process alone uses them (the checks of
//! rich notifications are the worker's, and cost the api nothing: they share the cache of
//! Entra's keys its sign-ins use). What belongs to one process's own side stays in that
//! process: the api's ingest inbox (a writer task), receiver and onboarding guards,
//! client-address rules and metrics handle (`graphhook_api::state::ApiLocal`).
//!
//! This file names only the modules that define the parts, never one that takes `&Services`,
//! so holding them makes no import cycle.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::Duration;
use sea_orm::DatabaseConnection;

use crate::{
    delivery::engine::{
        flow::FlowControl, retention::Retention, schedule::Schedule, signing_cache::SigningCache,
    },
    delivery::webhooks::{
        crypt::SecretBox,
        sender::{self, Lookup, Sender, SystemLookup},
    },
    graph::ingest::rich::Rich,
    graph::microsoft::{graph::GraphClient, rich::JwksCache, tokens::TokenBroker},
    platform::clock::Clock,
    platform::config::Settings,
    platform::db,
    platform::jobs::Queues,
    platform::redis_conn::{self, ConnectionManager},
};

/// The process's connections and shared parts; cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub redis: ConnectionManager,
    pub queues: Queues,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    /// Rate limits, in-flight caps and circuits of endpoints, shared by every process.
    pub flow: FlowControl,
    /// Graph tokens per tenant and connection, cached in this process.
    pub broker: Arc<TokenBroker>,
    /// Microsoft Graph.
    pub graph: Arc<GraphClient>,
    /// The HTTP client for every outgoing webhook (SSRF rules applied at connect time).
    pub sender: Arc<Sender>,
    /// Encrypts endpoint secrets, custom headers and connection tokens at rest.
    pub secret_box: SecretBox,
    /// Endpoints' decrypted signing material, kept by this process (see `engine::send`).
    pub signing: Arc<SigningCache>,
    /// Entra's signing keys, cached in this process: administrators' id_tokens and rich
    /// notifications' validation tokens are checked with them.
    pub jwks: Arc<JwksCache>,
    /// What verifying rich notifications needs (shares `jwks`).
    pub rich: Arc<Rich>,
    /// The deployment's retry schedule (`webhooks.retry_schedule_secs`), for endpoints
    /// without one of their own.
    pub retry_schedule: Schedule,
}

impl Services {
    /// Connects to PostgreSQL and Redis and builds the shared parts from `settings`.
    pub async fn connect(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        Self::connect_with_lookup(settings, clock, Arc::new(SystemLookup)).await
    }

    /// As [`Services::connect`], resolving webhook hosts with `lookup` (tests replace DNS).
    pub async fn connect_with_lookup(
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
        let flow = FlowControl::from_settings(&settings, redis.clone());
        let broker = Arc::new(TokenBroker::new(&settings.microsoft, clock.clone())?);
        let graph = Arc::new(GraphClient::new(&settings.microsoft.graph_url)?);
        let sender = Arc::new(sender::from_settings(&settings, lookup)?);
        let secret_box = SecretBox::new(&settings.webhook_encryption_key())
            .context("webhooks.encryption_key")?;
        let jwks = Arc::new(JwksCache::new(&settings.microsoft)?);
        let rich = Arc::new(Rich::from_settings(&settings, jwks.clone()));
        let retry_schedule =
            Schedule::from_settings(&settings.webhooks).context("webhooks.retry_schedule_secs")?;
        Ok(Self {
            db,
            redis,
            queues,
            settings: Arc::new(settings),
            clock,
            flow,
            broker,
            graph,
            sender,
            secret_box,
            signing: Arc::default(),
            jwks,
            rich,
            retry_schedule,
        })
    }

    /// How long an endpoint may fail without a success before it is disabled
    /// (`webhooks.auto_disable_after_hours`).
    pub fn auto_disable_after(&self) -> Duration {
        Duration::hours(
            i64::try_from(self.settings.webhooks.auto_disable_after_hours)
                .unwrap_or(i64::MAX / 3_600_000),
        )
    }

    /// How long payloads and attempts are kept.
    pub fn retention(&self) -> Retention {
        let webhooks = &self.settings.webhooks;
        Retention {
            payloads: Duration::days(i64::from(webhooks.retention_payload_days)),
            attempts: Duration::days(i64::from(webhooks.retention_attempt_days)),
        }
    }
}
