//! What a job can reach.

use std::sync::Arc;

use anyhow::Context as _;
use graphhook_domain::{
    Clock, Settings, db, jobs::Queues, microsoft::TokenBroker, redis_conn,
    redis_conn::ConnectionManager,
};
use sea_orm::DatabaseConnection;

#[derive(Clone)]
pub struct JobContext {
    pub db: DatabaseConnection,
    pub redis: ConnectionManager,
    pub queues: Queues,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    /// Graph tokens per tenant, cached in this process.
    pub broker: Arc<TokenBroker>,
}

impl JobContext {
    pub async fn connect(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let db = db::connect(&settings.database)
            .await
            .context("connecting to PostgreSQL")?;
        let redis = redis_conn::connect(&settings.redis)
            .await
            .context("connecting to Redis")?;
        let queues = Queues::new(&settings, redis.clone());
        let broker = Arc::new(TokenBroker::new(&settings.microsoft, clock.clone())?);
        Ok(Self {
            db,
            redis,
            queues,
            clock,
            settings: Arc::new(settings),
            broker,
        })
    }
}
