//! What a job can reach.

use std::sync::Arc;

use anyhow::Context as _;
use graphhook_domain::{
    Clock, Settings,
    delivery::engine::schedule::Schedule,
    delivery::webhooks::{crypt::SecretBox, sender::Sender},
    graph::microsoft::{TokenBroker, graph::GraphClient},
    platform::db,
    platform::jobs::Queues,
    platform::redis_conn,
    platform::redis_conn::ConnectionManager,
};
use sea_orm::DatabaseConnection;

#[derive(Clone)]
pub struct JobContext {
    pub db: DatabaseConnection,
    pub redis: ConnectionManager,
    pub queues: Queues,
    /// Rate limits, in-flight caps and circuits of endpoints.
    pub flow: graphhook_domain::delivery::engine::FlowControl,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    /// Graph tokens per tenant, cached in this process.
    pub broker: Arc<TokenBroker>,
    /// Microsoft Graph's subscription API.
    pub graph: Arc<GraphClient>,
    /// The HTTP client for outgoing webhooks.
    pub sender: Arc<Sender>,
    /// Decrypts endpoint secrets.
    pub secret_box: SecretBox,
    /// Endpoints' decrypted signing material (see `engine::send`).
    pub signing: Arc<graphhook_domain::delivery::engine::SigningCache>,
    /// Verifies rich notifications (Entra's signing keys, cached in this process).
    pub rich: Arc<graphhook_domain::graph::ingest::process::Rich>,
    /// The deployment's retry schedule (`webhooks.retry_schedule_secs`).
    pub retry_schedule: Schedule,
}

impl JobContext {
    pub async fn connect(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        Self::connect_with_lookup(
            settings,
            clock,
            Arc::new(graphhook_domain::delivery::webhooks::sender::SystemLookup),
        )
        .await
    }

    /// As [`JobContext::connect`], resolving webhook hosts with `lookup`.
    pub async fn connect_with_lookup(
        settings: Settings,
        clock: Clock,
        lookup: Arc<dyn graphhook_domain::delivery::webhooks::sender::Lookup>,
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
        let graph = Arc::new(GraphClient::new(&settings.microsoft.graph_url)?);
        let rich =
            Arc::new(graphhook_domain::graph::ingest::process::Rich::from_settings(&settings)?);
        let sender = Arc::new(graphhook_domain::delivery::webhooks::sender::from_settings(
            &settings, lookup,
        )?);
        let secret_box = SecretBox::new(&settings.webhook_encryption_key())
            .context("webhooks.encryption_key")?;
        let retry_schedule =
            Schedule::from_settings(&settings.webhooks).context("webhooks.retry_schedule_secs")?;
        Ok(Self {
            db,
            redis,
            queues,
            flow,
            clock,
            settings: Arc::new(settings),
            broker,
            graph,
            sender,
            secret_box,
            signing: Arc::default(),
            rich,
            retry_schedule,
        })
    }

    /// How long payloads and attempts are kept.
    pub fn retention(&self) -> graphhook_domain::delivery::engine::retention::Retention {
        let webhooks = &self.settings.webhooks;
        graphhook_domain::delivery::engine::retention::Retention {
            payloads: chrono::Duration::days(i64::from(webhooks.retention_payload_days)),
            attempts: chrono::Duration::days(i64::from(webhooks.retention_attempt_days)),
        }
    }

    /// What acting on subscriptions needs.
    pub fn subscription_deps(
        &self,
    ) -> graphhook_domain::graph::subscriptions::Deps<'_, DatabaseConnection> {
        graphhook_domain::graph::subscriptions::Deps {
            db: &self.db,
            clock: &self.clock,
            broker: &self.broker,
            graph: &self.graph,
            settings: &self.settings,
            secret_box: &self.secret_box,
        }
    }

    /// What the delivery engine needs.
    pub fn delivery_deps(
        &self,
    ) -> graphhook_domain::delivery::engine::Deps<'_, DatabaseConnection> {
        graphhook_domain::delivery::engine::Deps {
            db: &self.db,
            clock: &self.clock,
            sender: &self.sender,
            secret_box: &self.secret_box,
            queues: &self.queues,
            flow: &self.flow,
            signing: &self.signing,
            auto_disable_after: chrono::Duration::hours(
                i64::try_from(self.settings.webhooks.auto_disable_after_hours)
                    .unwrap_or(i64::MAX / 3_600_000),
            ),
            retry_schedule: &self.retry_schedule,
        }
    }
}
