//! The PostgreSQL connection pool, and creating the database on first start.
//!
//! What counts as the database being unavailable, and when an operation is tried again, lives
//! in [`unavailable`].

mod unavailable;

pub use unavailable::{RETRY_AFTER, is_unavailable, observe, retry_read};

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, RuntimeErr, Statement,
    sqlx,
};
use secrecy::ExposeSecret;

use crate::{
    platform::config::DatabaseSettings,
    platform::connect_error::{Cause, ConnectError, Service},
};

/// Why the database could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateDatabaseError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("creating the database: {0}")]
    Statement(#[from] DbErr),
}

/// Opens the pool. A request waits at most `acquire_timeout_ms` for a connection, so a stuck
/// database fails requests fast instead of piling them up. Connections are not tested before
/// use (a round trip each); those opened before a dead one was seen are replaced instead (see
/// [`unavailable`]).
///
/// One connection is tried first, within `connect_timeout_ms`, so that an unreachable server
/// fails fast with its (masked) URL and the cause rather than the pool's "timed out".
#[tracing::instrument(skip_all)]
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, ConnectError> {
    unavailable::start_clock();
    let url = settings.url.expose_secret();
    let timeout = Duration::from_millis(settings.connect_timeout_ms);
    probe(url, timeout).await?;
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .test_before_acquire(false)
        .map_sqlx_postgres_before_acquire(|_, meta| {
            Box::pin(std::future::ready(Ok(unavailable::is_fresh(meta.age))))
        })
        .sqlx_logging(false);
    Database::connect(options)
        .await
        .map_err(|e| pool_error(url, &e, timeout))
}

/// One connection attempt within `timeout`, closed again: the cause when it fails.
async fn probe(url: &str, timeout: Duration) -> Result<(), ConnectError> {
    use sqlx::{Connection, postgres::PgConnection};
    let options: sqlx::postgres::PgConnectOptions = url
        .parse()
        .map_err(|e| ConnectError::postgres(url, &e, timeout))?;
    match tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await {
        Err(_) => Err(ConnectError::timed_out(Service::Postgres, url, timeout)),
        Ok(Err(e)) => Err(ConnectError::postgres(url, &e, timeout)),
        Ok(Ok(connection)) => {
            // Only the attempt mattered; a failed goodbye changes nothing.
            let _ = connection.close().await;
            Ok(())
        }
    }
}

/// The pool could not open its first connections although one attempt just succeeded.
fn pool_error(url: &str, error: &DbErr, timeout: Duration) -> ConnectError {
    match error {
        DbErr::Conn(RuntimeErr::SqlxError(e)) => ConnectError::postgres(url, e, timeout),
        other => ConnectError::new(
            Service::Postgres,
            url,
            Cause::Other,
            Some(other.to_string()),
        ),
    }
}

/// Creates the database named in `url` if it does not exist, connecting to the server's
/// `postgres` maintenance database to do so. Safe to run from several processes at once.
/// Reaching the server fails fast, as [`connect`] does.
#[tracing::instrument(skip_all)]
pub async fn create_database_if_missing(
    settings: &DatabaseSettings,
) -> Result<bool, CreateDatabaseError> {
    let raw = settings.url.expose_secret();
    let url = url::Url::parse(raw).map_err(|e| {
        ConnectError::new(Service::Postgres, raw, Cause::Other, Some(e.to_string()))
    })?;
    let name = url.path().trim_start_matches('/').to_owned();
    let mut admin_url = url.clone();
    admin_url.set_path("/postgres");
    let timeout = Duration::from_millis(settings.connect_timeout_ms);
    probe(admin_url.as_str(), timeout).await?;
    let admin = Database::connect(
        ConnectOptions::new(admin_url.to_string())
            .max_connections(1)
            .acquire_timeout(timeout)
            .sqlx_logging(false)
            .to_owned(),
    )
    .await
    .map_err(|e| pool_error(admin_url.as_str(), &e, timeout))?;
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.clone().into()],
        ))
        .await?
        .is_some();
    if exists {
        admin.close().await?;
        return Ok(false);
    }
    let created = admin
        .execute_unprepared(&format!("CREATE DATABASE {}", quote_ident(&name)))
        .await;
    admin.close().await?;
    match created {
        Ok(_) => Ok(true),
        // Another process created it between our check and our CREATE.
        Err(e) if e.to_string().contains("already exists") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
