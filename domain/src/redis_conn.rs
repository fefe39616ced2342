//! The Redis connection: one multiplexed [`ConnectionManager`] per process, with timeouts long
//! enough that a busy Redis does not kill apalis' fetch loop (redis-rs defaults to 500 ms), and
//! automatic reconnection after a drop.

use std::time::Duration;

pub use redis::aio::ConnectionManager;
use redis::{Client, RedisResult, aio::ConnectionManagerConfig};
use secrecy::ExposeSecret;

use crate::config::RedisSettings;

#[tracing::instrument(skip_all)]
pub async fn connect(settings: &RedisSettings) -> RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(Duration::from_millis(settings.response_timeout_ms)))
        .set_connection_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)))
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_secs(2));
    Client::open(settings.url.expose_secret())?
        .get_connection_manager_with_config(config)
        .await
}

/// A key under this deployment's prefix.
pub fn key(prefix: &str, rest: &str) -> String {
    format!("{prefix}:{rest}")
}
