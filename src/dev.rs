//! `graphhook dev`: migrations, the emulator, the api and a worker in one process, and the
//! banner that says where each is.

use std::path::Path;

use anyhow::Context;
use graphhook_api::Application;
use graphhook_domain::{
    Clock, Mode, Settings,
    platform::config::{self, DEV_ADMIN_SIGNING_KEY},
    platform::secret::SecretString,
};
use graphhook_emulator::{Emulator, EmulatorConfig};
use graphhook_migrations::{Migrator, MigratorTrait};
use graphhook_worker::WorkerProcess;
use secrecy::ExposeSecret;

use crate::commands::{connect_migrated, load, shutdown_signal};

#[allow(clippy::print_stdout)] // what the command prints is its output
pub async fn dev(config: Option<&Path>) -> anyhow::Result<()> {
    let mut settings = load(config, Some(Mode::Development))?;
    let db = connect_migrated(&settings).await?;
    // Nothing applied yet: a new database, which an emulator world saved before must not meet.
    let new_database = Migrator::get_applied_migrations(&db)
        .await
        .context("reading the applied migrations")?
        .is_empty();
    Migrator::up(&db, None)
        .await
        .context("applying migrations")?;
    db.close().await.ok();

    let mut emulator_config = EmulatorConfig {
        listen: settings.emulator.listen,
        state_file: crate::dev_state::prepare(&settings, new_database)?,
        ..EmulatorConfig::default()
    };
    emulator_config.behaviour.http_notification_urls =
        graphhook_emulator::config::HttpUrls::Loopback;
    // Where Entra sends people back to: an administrator after signing in and after consent, a
    // connected user after signing in.
    for path in [
        "/onboarding/signed-in",
        "/onboarding/callback",
        "/connections/callback",
    ] {
        let uri = format!(
            "{}{path}",
            settings.api.public_base_url.trim_end_matches('/')
        );
        if !emulator_config.app.redirect_uris.contains(&uri) {
            emulator_config.app.redirect_uris.push(uri);
        }
    }
    let emulator = Emulator::new(emulator_config, Clock::system())
        .spawn()
        .await?;
    use_emulator(&mut settings, &emulator.base_url);

    let app = Application::build(settings.clone(), Clock::system()).await?;
    let worker = WorkerProcess::start(settings.clone(), Clock::system()).await?;
    let token = match settings.admin.signing_key {
        None => match graphhook_domain::operator::tokens::mint(
            &SecretString::from(DEV_ADMIN_SIGNING_KEY),
            "developer",
            chrono::Duration::days(7),
            Clock::system().now(),
        ) {
            Ok(token) => format!("{token}  (for a week)"),
            Err(_) => "graphhook admin token --name <you> --development".to_owned(),
        },
        Some(_) => "graphhook admin token --name <you>  (with these settings)".to_owned(),
    };
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    // Listening for Ctrl-C and SIGTERM from now on: the api already answers.
    let stop = shutdown_signal();
    tokio::pin!(stop);
    // The banner comes last, below the start-up lines of the worker's lanes and the server.
    let stopped = tokio::select! {
        () = &mut stop => true,
        () = tokio::time::sleep(std::time::Duration::from_millis(300)) => false,
    };
    if !stopped {
        print_banner(
            &settings,
            &emulator.base_url,
            emulator.state_file(),
            worker.http_port(),
            &token,
        );
        stop.await;
    }
    println!("Stopping…");
    handle.stop(true).await;
    let worker_result = worker.stop().await;
    server
        .await
        .context("api server task")?
        .context("api server")?;
    emulator.stop().await;
    worker_result
}

/// What `graphhook dev` runs, where.
#[allow(clippy::print_stdout)] // what the command prints is its output
fn print_banner(
    settings: &Settings,
    emulator: &str,
    emulator_state: Option<&Path>,
    worker_port: u16,
    token: &str,
) {
    let base = &settings.api.public_base_url;
    println!();
    println!("Graphhook is running in development mode. Ctrl-C stops it.");
    println!();
    println!("  landing page      {base}/");
    println!(
        "  onboarding        {base}/onboarding  (connect a Microsoft 365 tenant: the emulator's)"
    );
    println!("  tenant portal     {base}/portal  (sign in with the API key onboarding shows)");
    println!("  operator console  {base}/console  (sign in with the operator token below)");
    println!("  API reference     {base}/api/docs  (OpenAPI: {base}/api/openapi.json)");
    println!(
        "  operator api      {base}/admin/v1  (reference: {base}/admin/docs; OpenAPI: {base}/admin/openapi.json)"
    );
    println!("  guide             {base}/docs");
    println!(
        "  service status    {base}/status  (for machines: {base}/readyz; metrics: {base}/metrics)"
    );
    println!(
        "  worker health     http://{}:{worker_port}/healthz",
        settings.worker.listen.ip(),
    );
    println!(
        "  emulator          {emulator}  (Microsoft Graph and Entra ID; control api at /_emulator/state)"
    );
    if let Some(file) = emulator_state {
        println!(
            "  emulator state    {}  (its world across restarts)",
            file.display()
        );
    }
    println!(
        "  database          {}",
        graphhook_domain::platform::secret::redact_url(settings.database.url.expose_secret())
    );
    println!();
    println!("  operator token    {token}");
    println!();
}

/// Points Microsoft at the emulator `dev` runs, unless configured otherwise.
fn use_emulator(settings: &mut Settings, emulator_url: &str) {
    let microsoft = &mut settings.microsoft;
    if microsoft.authority_url == config::MICROSOFT_AUTHORITY {
        microsoft.authority_url = emulator_url.to_owned();
    }
    if microsoft.graph_url == config::MICROSOFT_GRAPH {
        microsoft.graph_url = format!("{emulator_url}/v1.0");
    }
    if microsoft.client_id.is_none() {
        microsoft.client_id = Some(graphhook_emulator::config::DEFAULT_CLIENT_ID.to_owned());
        microsoft.client_secret = Some(SecretString::from(
            graphhook_emulator::config::DEFAULT_CLIENT_SECRET,
        ));
        // The emulator's app registration accepts personal accounts.
        microsoft.personal_accounts = true;
    }
}
