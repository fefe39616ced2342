//! The Redis connection: one multiplexed [`ConnectionManager`] per process, with timeouts long
//! enough that a busy Redis does not kill apalis' fetch loop (redis-rs defaults to 500 ms), and
//! automatic reconnection after a drop.

use std::time::Duration;

pub use redis::aio::ConnectionManager;
use redis::{AsyncConnectionConfig, Client, RedisResult, aio::ConnectionManagerConfig};
use secrecy::ExposeSecret;

use crate::{
    platform::config::RedisSettings,
    platform::connect_error::{ConnectError, Service},
};

/// Connects. One connection (and a PING) is tried first, within `connect_timeout_ms`, so that an
/// unreachable server fails fast with its (masked) URL and the cause, rather than after the
/// connection manager's retries with the bare library error.
#[tracing::instrument(skip_all)]
pub async fn connect(settings: &RedisSettings) -> Result<ConnectionManager, ConnectError> {
    let url = settings.url.expose_secret();
    let timeout = Duration::from_millis(settings.connect_timeout_ms);
    let failed = |e: redis::RedisError| ConnectError::redis(url, &e, timeout);
    let client = Client::open(url).map_err(failed)?;
    let probe = async {
        let attempt = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let mut connection = client
            .get_multiplexed_async_connection_with_config(&attempt)
            .await?;
        redis::cmd("PING").query_async::<()>(&mut connection).await
    };
    // The attempt's own timeouts bound it; this one bounds the name lookup too.
    match tokio::time::timeout(timeout + Duration::from_millis(100), probe).await {
        Err(_) => return Err(ConnectError::timed_out(Service::Redis, url, timeout)),
        Ok(Err(e)) => return Err(failed(e)),
        Ok(Ok(())) => {}
    }
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(Duration::from_millis(settings.response_timeout_ms)))
        .set_connection_timeout(Some(timeout))
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_secs(2));
    client
        .get_connection_manager_with_config(config)
        .await
        .map_err(failed)
}

/// A key under this deployment's prefix.
pub fn key(prefix: &str, rest: &str) -> String {
    format!("{prefix}:{rest}")
}

/// Attempts at an idempotent command whose connection dropped (about three seconds in all).
const ATTEMPTS: u32 = 6;

/// Runs an idempotent Redis operation, trying again while the connection is being
/// re-established: right after a drop, the first commands fail while the connection manager
/// reconnects.
pub async fn retry<T, F, Fut>(mut op: F) -> RedisResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = RedisResult<T>>,
{
    let mut delay = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < ATTEMPTS && is_connection_error(&error) => {
                tracing::warn!(%error, attempt, "redis command failed; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Whether an error is about the connection rather than the command.
pub fn is_connection_error(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
}
