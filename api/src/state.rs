//! What every handler can reach.

use std::sync::Arc;

use graphhook_domain::delivery::engine::schedule::Schedule;
use graphhook_domain::delivery::webhooks::{crypt::SecretBox, sender::Sender};
use graphhook_domain::graph::microsoft::graph::GraphClient;
use graphhook_domain::{
    Clock, Settings, graph::microsoft::TokenBroker, platform::jobs::Queues,
    platform::redis_conn::ConnectionManager,
};
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub redis: ConnectionManager,
    pub queues: Queues,
    /// Rate limits, in-flight caps and circuits of endpoints.
    pub flow: graphhook_domain::delivery::engine::FlowControl,
    /// Where Graph's batches are written durably.
    pub inbox: graphhook_domain::graph::ingest::Inbox,
    /// The receivers' allow-list and per-address rate limit.
    pub sources: Arc<graphhook_domain::graph::ingest::guard::SourceGuard>,
    /// Which address a request comes from (behind trusted proxies too).
    pub client_addr: Arc<crate::client_addr::ClientAddress>,
    /// Onboardings started per client address and minute.
    pub onboarding_starts: Arc<graphhook_domain::graph::ingest::guard::SourceGuard>,
    /// Entra's signing keys, for administrators' id_tokens.
    pub jwks: Arc<graphhook_domain::graph::microsoft::rich::JwksCache>,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub metrics: PrometheusHandle,
    /// Graph tokens per tenant, cached in this process.
    pub broker: Arc<TokenBroker>,
    /// The HTTP client for every outgoing webhook (SSRF rules applied at connect time).
    pub sender: Arc<Sender>,
    /// Encrypts endpoint secrets at rest.
    pub secret_box: SecretBox,
    /// Endpoints' decrypted signing material, for the test sends this process makes.
    pub signing: Arc<graphhook_domain::delivery::engine::SigningCache>,
    /// Microsoft Graph.
    pub graph: Arc<GraphClient>,
    /// The deployment's retry schedule (`webhooks.retry_schedule_secs`).
    pub retry_schedule: Schedule,
}

impl AppState {
    /// What the delivery engine needs.
    pub fn delivery_deps(
        &self,
    ) -> graphhook_domain::delivery::engine::Deps<'_, sea_orm::DatabaseConnection> {
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

    /// What subscription operations need.
    pub fn subscription_deps(
        &self,
    ) -> graphhook_domain::graph::subscriptions::Deps<'_, sea_orm::DatabaseConnection> {
        graphhook_domain::graph::subscriptions::Deps {
            db: &self.db,
            clock: &self.clock,
            broker: &self.broker,
            graph: &self.graph,
            settings: &self.settings,
            secret_box: &self.secret_box,
        }
    }

    /// What endpoint operations need.
    pub fn endpoint_deps(
        &self,
    ) -> graphhook_domain::delivery::endpoints::Deps<'_, sea_orm::DatabaseConnection> {
        graphhook_domain::delivery::endpoints::Deps {
            db: &self.db,
            clock: &self.clock,
            sender: &self.sender,
            secret_box: &self.secret_box,
        }
    }
}
