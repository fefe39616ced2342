//! The PostgreSQL connection pool, and creating the database on first start.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, Statement};
use secrecy::ExposeSecret;

use crate::config::DatabaseSettings;

/// Opens the pool. A request waits at most `acquire_timeout_ms` for a connection, so a stuck
/// database fails requests fast instead of piling them up.
#[tracing::instrument(skip_all)]
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(settings.url.expose_secret().to_owned());
    options
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .test_before_acquire(false)
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Creates the database named in `url` if it does not exist, connecting to the server's
/// `postgres` maintenance database to do so. Safe to run from several processes at once.
#[tracing::instrument(skip_all)]
pub async fn create_database_if_missing(settings: &DatabaseSettings) -> Result<bool, DbErr> {
    let url = url::Url::parse(settings.url.expose_secret())
        .map_err(|e| DbErr::Custom(format!("database.url is not a URL: {e}")))?;
    let name = url.path().trim_start_matches('/').to_owned();
    let mut admin_url = url.clone();
    admin_url.set_path("/postgres");
    let admin = Database::connect(
        ConnectOptions::new(admin_url.to_string())
            .sqlx_logging(false)
            .to_owned(),
    )
    .await?;
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
        Err(e) => Err(e),
    }
}

/// Whether a database error means the database is unreachable or overloaded (worth retrying
/// later), rather than a problem with the statement.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return false,
    };
    match runtime {
        RuntimeErr::SqlxError(e) => matches!(
            e.as_ref(),
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        ),
        _ => false,
    }
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
