//! The subcommands.

use std::path::{Path, PathBuf};

use anyhow::Context;
use graphhook_api::Application;
use graphhook_domain::{
    Clock, Mode, Settings, delivery::webhooks::crypt::SecretBox, platform::config::Sources,
    platform::db, platform::telemetry,
};
use graphhook_emulator::{Emulator, EmulatorConfig};
use graphhook_migrations::{Migrator, MigratorTrait};
use graphhook_worker::WorkerProcess;

pub(crate) fn load(config: Option<&Path>, force_mode: Option<Mode>) -> anyhow::Result<Settings> {
    load_needing(config, force_mode, None)
}

/// [`load`] for a command that uses only the production secrets in `needed`.
fn load_needing(
    config: Option<&Path>,
    force_mode: Option<Mode>,
    needed: Option<&[&str]>,
) -> anyhow::Result<Settings> {
    let settings = Settings::load_needing(
        Sources {
            file: config,
            environment: true,
            force_mode,
        },
        needed,
    )?;
    telemetry::init_tracing(&settings);
    Ok(settings)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

pub async fn api(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = load(config, None)?;
    let app = Application::build(settings.clone(), Clock::system()).await?;
    tracing::info!(port = app.port(), "api listening");
    tokio::spawn(crate::check::log_microsoft_checks(settings));
    serve_api(app).await
}

async fn serve_api(app: Application) -> anyhow::Result<()> {
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    shutdown_signal().await;
    tracing::info!("api stopping: in-flight requests finish");
    handle.stop(true).await;
    server
        .await
        .context("api server task")?
        .context("api server")?;
    Ok(())
}

pub async fn worker(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = load(config, None)?;
    let worker = WorkerProcess::start(settings.clone(), Clock::system()).await?;
    tokio::spawn(crate::check::log_microsoft_checks(settings));
    tokio::select! {
        _ = shutdown_signal() => worker.stop().await,
        // The worker ends by itself only if every job worker gave up.
        result = wait_forever(&worker) => result,
    }
}

async fn wait_forever(worker: &WorkerProcess) -> anyhow::Result<()> {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        if worker
            .health()
            .gave_up
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            anyhow::bail!("a job worker kept failing and was given up on");
        }
    }
}

pub(crate) async fn connect_migrated(
    settings: &Settings,
) -> anyhow::Result<sea_orm::DatabaseConnection> {
    if db::create_database_if_missing(&settings.database)
        .await
        .context("creating the database")?
    {
        tracing::info!("created the database");
    }
    db::connect(&settings.database)
        .await
        .context("connecting to PostgreSQL")
}

pub async fn migrate_up(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = load_needing(config, None, Some(&[]))?;
    let db = connect_migrated(&settings).await?;
    let pending = Migrator::get_pending_migrations(&db).await?.len();
    Migrator::up(&db, None)
        .await
        .context("applying migrations")?;
    tracing::info!(applied = pending, "database is up to date");
    Ok(())
}

pub async fn migrate_down(config: Option<&Path>, steps: Option<u32>) -> anyhow::Result<()> {
    // Reverting the headers' encryption decrypts them.
    let settings = load_needing(config, None, Some(&["webhooks.encryption_key"]))?;
    let db = db::connect(&settings.database)
        .await
        .context("connecting to PostgreSQL")?;
    let applied = Migrator::get_applied_migrations(&db).await?;
    let reverted = applied
        .iter()
        .rev()
        .take(steps.map_or(usize::MAX, |n| n as usize));
    if reverted
        .into_iter()
        .any(|m| m.name() == graphhook_migrations::ENCRYPT_ENDPOINT_HEADERS)
    {
        // The older schema keeps custom headers in plain text; SQL cannot decrypt them.
        let secret_box = SecretBox::new(&settings.webhook_encryption_key())
            .context("webhooks.encryption_key")?;
        let unsealed = graphhook_domain::delivery::endpoints::headers::unseal_all(&db, &secret_box)
            .await
            .context("writing custom endpoint headers back in plain text")?;
        tracing::info!(
            unsealed,
            "custom endpoint headers written back in plain text for the older schema"
        );
    }
    Migrator::down(&db, steps)
        .await
        .context("reverting migrations")?;
    tracing::info!(?steps, "reverted");
    Ok(())
}

#[allow(clippy::print_stdout)] // what the command prints is its output
pub async fn migrate_status(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = load_needing(config, None, Some(&[]))?;
    let db = db::connect(&settings.database)
        .await
        .context("connecting to PostgreSQL")?;
    for migration in Migrator::get_migration_with_status(&db).await? {
        println!(
            "{:<10} {}",
            format!("{:?}", migration.status()).to_lowercase(),
            migration.name()
        );
    }
    Ok(())
}

/// Prints the tenant api's OpenAPI document, or with `admin` the operator api's.
#[allow(clippy::print_stdout)] // what the command prints is its output
pub fn openapi(admin: bool) -> anyhow::Result<()> {
    let document = match admin {
        true => graphhook_api::openapi::admin_document(),
        false => graphhook_api::openapi::document(),
    };
    println!("{document}");
    Ok(())
}

pub struct EmulatorOptions {
    pub config: Option<PathBuf>,
    pub listen: std::net::SocketAddr,
    pub public_url: Option<String>,
    pub http_notification_urls: Option<String>,
    pub consent_mode: Option<String>,
    pub redirect_uris: Vec<String>,
    pub deliver_via: Vec<String>,
    pub state_file: Option<PathBuf>,
}

fn emulator_config(options: EmulatorOptions) -> anyhow::Result<EmulatorConfig> {
    let mut config = match &options.config {
        Some(path) => EmulatorConfig::from_file(path)?,
        None => EmulatorConfig::default(),
    };
    config.listen = options.listen;
    if options.public_url.is_some() {
        config.public_url = options.public_url;
    }
    let quoted = |v: &str| serde_json::Value::String(v.to_owned());
    if let Some(v) = &options.http_notification_urls {
        config.behaviour.http_notification_urls = serde_json::from_value(quoted(v))?;
    }
    if let Some(v) = &options.consent_mode {
        config.behaviour.consent_mode = serde_json::from_value(quoted(v))?;
    }
    config.deliver_via.extend(options.deliver_via);
    for uri in options.redirect_uris {
        if !config.app.redirect_uris.contains(&uri) {
            config.app.redirect_uris.push(uri);
        }
    }
    if options.state_file.is_some() {
        config.state_file = options.state_file;
    }
    Ok(config)
}

#[allow(clippy::print_stdout)] // what the command prints is its output
pub async fn emulator(options: EmulatorOptions) -> anyhow::Result<()> {
    telemetry::init_tracing(&Settings {
        mode: Mode::Development,
        ..Settings::default()
    });
    let config = emulator_config(options)?;
    let client_id = config.app.client_id;
    let running = Emulator::new(config, Clock::system()).spawn().await?;
    println!(
        "Microsoft Graph and Entra ID emulator on {}",
        running.base_url
    );
    println!(
        "  app client id  {client_id} (secret: {})",
        graphhook_emulator::config::DEFAULT_CLIENT_SECRET
    );
    println!("  control api    {}/_emulator/state", running.base_url);
    if let Some(file) = running.state_file() {
        println!("  state file     {}", file.display());
    }
    let handle = running.handle();
    let task = tokio::spawn(running.wait());
    shutdown_signal().await;
    handle.stop(true).await;
    task.await.context("emulator task")?
}

/// Prints an operator token on stdout.
#[allow(clippy::print_stdout)] // what the command prints is its output
pub fn admin_token(
    config: Option<&Path>,
    name: &str,
    ttl: &str,
    development: bool,
) -> anyhow::Result<()> {
    let settings = Settings::load_needing(
        Sources {
            file: config,
            environment: true,
            force_mode: development.then_some(Mode::Development),
        },
        Some(&["admin.signing_key"]),
    )?;
    let ttl = graphhook_domain::operator::tokens::parse_ttl(ttl).map_err(anyhow::Error::msg)?;
    let token = graphhook_domain::operator::tokens::mint(
        &settings.admin_signing_key(),
        name,
        ttl,
        Clock::system().now(),
    )?;
    println!("{token}");
    Ok(())
}

/// Development settings for a benchmark that serves requests, logging warnings only unless
/// `GRAPHHOOK__LOG__FILTER` or `RUST_LOG` asks for more: the api's line per request would cost
/// the process being measured CPU (and fill the terminal).
pub(crate) fn load_quiet(config: Option<&Path>) -> anyhow::Result<Settings> {
    let mut settings = Settings::load(Sources {
        file: config,
        environment: true,
        force_mode: Some(Mode::Development),
    })?;
    if std::env::var_os("GRAPHHOOK__LOG__FILTER").is_none()
        && std::env::var_os("RUST_LOG").is_none()
    {
        settings.log.filter = "warn".to_owned();
    }
    telemetry::init_tracing(&settings);
    Ok(settings)
}
