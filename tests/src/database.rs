//! One database per test, cloned from a template migrated once per migration fingerprint.
//!
//! The template `graphhook_tpl_{fingerprint}` is built under a Postgres advisory lock (tests
//! run in parallel processes) as `…_build` and renamed when complete, so a crashed build is
//! never cloned; templates of older fingerprints and test databases older than two hours
//! (left by killed runs) are swept at the same time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use graphhook_domain::platform::db::quote_ident;
use graphhook_migrations::{FINGERPRINT, Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

/// The server the tests use: `GRAPHHOOK_TEST_DATABASE_URL` (any database on it), by default
/// the local PostgreSQL.
pub fn server_url() -> url::Url {
    let raw = std::env::var("GRAPHHOOK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    url::Url::parse(&raw).unwrap_or_else(|e| panic!("GRAPHHOOK_TEST_DATABASE_URL: {e}"))
}

pub fn url_for(database: &str) -> String {
    let mut url = server_url();
    url.set_path(&format!("/{database}"));
    url.to_string()
}

const LOCK_KEY: i64 = 0x6772_6170_6868_6f6b; // "graphhok"
const STALE_AFTER: Duration = Duration::from_secs(2 * 3600);

pub fn template_name() -> String {
    format!("graphhook_tpl_{FINGERPRINT}")
}

async fn admin() -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url_for("postgres"));
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    Database::connect(options)
        .await
        .context("connecting to the test PostgreSQL server")
}

async fn exists(db: &DatabaseConnection, name: &str) -> anyhow::Result<bool> {
    Ok(db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.into()],
        ))
        .await?
        .is_some())
}

async fn names_like(db: &DatabaseConnection, pattern: &str) -> anyhow::Result<Vec<String>> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE $1",
            [pattern.into()],
        ))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<String>("", "datname").ok())
        .collect())
}

async fn drop_database(db: &DatabaseConnection, name: &str) -> anyhow::Result<()> {
    db.execute_unprepared(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(name)
    ))
    .await?;
    Ok(())
}

/// Makes sure the current template exists, building it if needed.
async fn ensure_template(db: &DatabaseConnection) -> anyhow::Result<String> {
    let template = template_name();
    if exists(db, &template).await? {
        return Ok(template);
    }
    db.execute_unprepared(&format!("SELECT pg_advisory_lock({LOCK_KEY})"))
        .await?;
    let result = build_template(db, &template).await;
    db.execute_unprepared(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
        .await?;
    result.map(|()| template)
}

async fn build_template(db: &DatabaseConnection, template: &str) -> anyhow::Result<()> {
    if exists(db, template).await? {
        return Ok(());
    }
    for old in names_like(db, "graphhook\\_tpl\\_%").await? {
        drop_database(db, &old).await?;
    }
    sweep_stale(db).await?;
    let building = format!("{template}_build");
    db.execute_unprepared(&format!("CREATE DATABASE {}", quote_ident(&building)))
        .await?;
    let conn = Database::connect(
        ConnectOptions::new(url_for(&building))
            .sqlx_logging(false)
            .to_owned(),
    )
    .await?;
    Migrator::up(&conn, None)
        .await
        .context("migrating the template database")?;
    conn.close().await?;
    db.execute_unprepared(&format!(
        "ALTER DATABASE {} RENAME TO {}",
        quote_ident(&building),
        quote_ident(template)
    ))
    .await?;
    Ok(())
}

/// Drops test databases whose creation time (in their name) is over two hours old.
async fn sweep_stale(db: &DatabaseConnection) -> anyhow::Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    for name in names_like(db, "gh\\_test\\_%").await? {
        let created = name
            .split('_')
            .nth(2)
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        if now.saturating_sub(created) > STALE_AFTER.as_secs() {
            drop_database(db, &name).await?;
        }
    }
    Ok(())
}

/// A database name no other test uses: the time (so leftovers can be told by age) and a random
/// part.
fn fresh_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!(
        "gh_test_{now}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Creates a fresh, migrated database for one test and returns its name.
pub async fn create_test_database() -> anyhow::Result<String> {
    let db = admin().await?;
    let template = ensure_template(&db).await?;
    let name = fresh_name();
    let sql = format!(
        "CREATE DATABASE {} TEMPLATE {}",
        quote_ident(&name),
        quote_ident(&template)
    );
    let mut attempt = 0;
    loop {
        match db.execute_unprepared(&sql).await {
            Ok(_) => break,
            // Another session is briefly connected to the template (e.g. renaming it).
            Err(e) if attempt < 20 && e.to_string().contains("being accessed by other users") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => bail!("creating {name} from {template}: {e}"),
        }
    }
    db.close().await?;
    Ok(name)
}

/// Creates an empty (unmigrated) database for migration tests.
pub async fn create_empty_database() -> anyhow::Result<String> {
    let db = admin().await?;
    let name = fresh_name();
    db.execute_unprepared(&format!("CREATE DATABASE {}", quote_ident(&name)))
        .await?;
    db.close().await?;
    Ok(name)
}

/// Drops a test database, disconnecting whoever still uses it.
pub async fn drop_test_database(name: &str) -> anyhow::Result<()> {
    let db = admin().await?;
    drop_database(&db, name).await?;
    db.close().await?;
    Ok(())
}
