//! `graphhook check`, and the Microsoft checks `api` and `worker` log when they start.

use std::path::Path;

use graphhook_domain::{
    Clock, Mode, Settings, graph::microsoft::preflight, platform::config::Sources, platform::db,
};
use graphhook_migrations::{Migrator, MigratorTrait};

/// The start-up checks of Microsoft (reachable, credential accepted), logged; problems are
/// errors, and the process runs on (see `graphhook_domain::graph::microsoft::preflight`).
pub(crate) async fn log_microsoft_checks(settings: Settings) {
    let tenant = match db::connect(&settings.database).await {
        Ok(db) => {
            let tenant = preflight::CredentialTenant::choose(&settings, Some(&db)).await;
            db.close().await.ok();
            tenant
        }
        Err(_) => preflight::CredentialTenant::choose(&settings, None).await,
    };
    preflight::log(&preflight::microsoft(&settings, Clock::system(), tenant).await);
}

/// `graphhook check`: the settings, PostgreSQL and its migrations, and Microsoft, as `api` and
/// `worker` would use them; prints a line per check and fails if any has a problem.
#[allow(clippy::print_stdout)] // what the command prints is its output
pub async fn run(config: Option<&Path>) -> anyhow::Result<()> {
    let line =
        |check: &str, level: &str, message: &str| println!("{check:<18} {level:<8} {message}");
    let settings = match Settings::load(Sources {
        file: config,
        environment: true,
        force_mode: None,
    }) {
        Ok(settings) => settings,
        Err(error) => {
            line("configuration", "problem", &error.to_string());
            anyhow::bail!("the configuration is not usable");
        }
    };
    let mode = match settings.mode {
        Mode::Production => "production",
        Mode::Development => "development",
    };
    line("configuration", "ok", &format!("valid for {mode} mode"));
    let mut problems = 0;
    let tenant = match db::connect(&settings.database).await {
        Ok(db) => {
            match Migrator::get_pending_migrations(&db).await {
                Ok(pending) if pending.is_empty() => {
                    line("database", "ok", "reachable, every migration applied");
                }
                Ok(pending) => {
                    problems += 1;
                    line(
                        "database",
                        "problem",
                        &format!(
                            "{} migrations pending: run `graphhook migrate up`",
                            pending.len()
                        ),
                    );
                }
                Err(error) => {
                    problems += 1;
                    line(
                        "database",
                        "problem",
                        &format!("migrations unreadable: {error}"),
                    );
                }
            }
            let tenant = preflight::CredentialTenant::choose(&settings, Some(&db)).await;
            db.close().await.ok();
            tenant
        }
        Err(error) => {
            problems += 1;
            line("database", "problem", &error.to_string());
            preflight::CredentialTenant::choose(&settings, None).await
        }
    };
    for finding in preflight::microsoft(&settings, Clock::system(), tenant).await {
        if finding.level == preflight::Level::Problem {
            problems += 1;
        }
        line(finding.check, finding.level.as_str(), &finding.message);
    }
    if problems > 0 {
        anyhow::bail!("{problems} problem(s) found");
    }
    Ok(())
}
