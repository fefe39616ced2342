//! The subcommands.

use std::path::Path;

use anyhow::Context;
use graphhook_api::Application;
use graphhook_domain::{
    Clock, Mode, Settings,
    config::{DEV_ADMIN_TOKEN, Sources},
    db, telemetry,
};
use graphhook_migrations::{Migrator, MigratorTrait};
use graphhook_worker::WorkerProcess;
use secrecy::ExposeSecret;

fn load(config: Option<&Path>, force_mode: Option<Mode>) -> anyhow::Result<Settings> {
    let settings = Settings::load(Sources {
        file: config,
        environment: true,
        force_mode,
    })?;
    telemetry::init_tracing(&settings);
    Ok(settings)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
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
    let app = Application::build(settings, Clock::system()).await?;
    tracing::info!(port = app.port(), "api listening");
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
    let worker = WorkerProcess::start(settings, Clock::system()).await?;
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

async fn connect_migrated(settings: &Settings) -> anyhow::Result<sea_orm::DatabaseConnection> {
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
    let settings = load(config, None)?;
    let db = connect_migrated(&settings).await?;
    let pending = Migrator::get_pending_migrations(&db).await?.len();
    Migrator::up(&db, None)
        .await
        .context("applying migrations")?;
    tracing::info!(applied = pending, "database is up to date");
    Ok(())
}

pub async fn migrate_down(config: Option<&Path>, steps: Option<u32>) -> anyhow::Result<()> {
    let settings = load(config, None)?;
    let db = db::connect(&settings.database)
        .await
        .context("connecting to PostgreSQL")?;
    Migrator::down(&db, steps)
        .await
        .context("reverting migrations")?;
    tracing::info!(?steps, "reverted");
    Ok(())
}

#[allow(clippy::print_stdout)]
pub async fn migrate_status(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = load(config, None)?;
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

#[allow(clippy::print_stdout)]
pub async fn dev(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = load(config, Some(Mode::Development))?;
    let db = connect_migrated(&settings).await?;
    Migrator::up(&db, None)
        .await
        .context("applying migrations")?;
    db.close().await.ok();
    let app = Application::build(settings.clone(), Clock::system()).await?;
    let worker = WorkerProcess::start(settings.clone(), Clock::system()).await?;
    let base = &settings.api.public_base_url;
    let token_note = if settings.admin.token.is_none() {
        format!(" (operator token: {DEV_ADMIN_TOKEN})")
    } else {
        String::new()
    };
    println!("Graphhook is running in development mode. Ctrl-C stops it.");
    println!("  landing page   {base}/");
    println!("  readiness      {base}/readyz");
    println!("  api metrics    {base}/metrics");
    println!("  operator api   {base}/admin/v1{token_note}");
    println!(
        "  worker health  http://{}/healthz (port {})",
        settings.worker.listen.ip(),
        worker.http_port()
    );
    println!(
        "  database       {}",
        graphhook_domain::secret::redact_url(settings.database.url.expose_secret())
    );
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    shutdown_signal().await;
    println!("Stopping…");
    handle.stop(true).await;
    let worker_result = worker.stop().await;
    server
        .await
        .context("api server task")?
        .context("api server")?;
    worker_result
}
