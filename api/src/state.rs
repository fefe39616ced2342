//! What every handler can reach.

use std::sync::Arc;

use graphhook_domain::{
    Clock, Settings, jobs::Queues, microsoft::TokenBroker, redis_conn::ConnectionManager,
};
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub redis: ConnectionManager,
    pub queues: Queues,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub metrics: PrometheusHandle,
    /// Graph tokens per tenant, cached in this process.
    pub broker: Arc<TokenBroker>,
}
