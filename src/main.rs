//! `graphhook`: the one binary. It parses the subcommand and calls into the crates.

mod commands;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "graphhook",
    version,
    about = "Microsoft Graph change notifications, re-delivered as signed Standard Webhooks"
)]
struct Cli {
    /// A TOML settings file (values below environment variables GRAPHHOOK__SECTION__KEY).
    #[arg(long, global = true, env = "GRAPHHOOK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP api.
    Api,
    /// Run background jobs.
    Worker,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Development mode: migrations, api and worker in one process against local services.
    Dev,
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Create the database if needed and apply every pending migration.
    Up,
    /// Revert the last applied migrations.
    Down {
        /// How many migrations to revert.
        #[arg(long, default_value_t = 1)]
        steps: u32,
        /// Revert every migration.
        #[arg(long, conflicts_with = "steps")]
        all: bool,
    },
    /// List migrations and whether each is applied.
    Status,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("graphhook: could not start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let config = cli.config.as_deref();
    let result = runtime.block_on(async {
        match cli.command {
            Command::Api => commands::api(config).await,
            Command::Worker => commands::worker(config).await,
            Command::Dev => commands::dev(config).await,
            Command::Migrate { action } => match action {
                MigrateAction::Up => commands::migrate_up(config).await,
                MigrateAction::Down { steps, all } => {
                    commands::migrate_down(config, if all { None } else { Some(steps) }).await
                }
                MigrateAction::Status => commands::migrate_status(config).await,
            },
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = ?error, "graphhook failed");
            eprintln!("graphhook: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
