//! `graphhook`: the one binary. It parses the subcommand and calls into the crates.

// A function longer than clippy.toml's `too-many-lines-threshold` is split into steps that
// say what they do; tests may run long.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

mod bench;
mod bench_deliver;
mod bench_http;
mod bench_ingest;
mod bench_pipeline;
mod bench_renew;
mod check;
mod commands;
mod dev;
mod dev_state;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use graphhook_domain::Mode;

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
    /// Check the settings, the database and Microsoft (reachable, credential accepted) as `api`
    /// and `worker` would use them; exits 1 on any problem.
    Check,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Development mode: migrations, the emulator, the api and the worker in one process.
    Dev,
    /// Run the Microsoft Graph and Entra ID emulator on its own.
    Emulator(EmulatorArgs),
    /// Print the tenant api's OpenAPI 3.1 document (or the operator api's, with --admin).
    Openapi {
        /// Print the operator (admin) api's document instead.
        #[arg(long)]
        admin: bool,
    },
    /// Operator tools.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Measure the service on this machine (in a database and Redis prefix of its own).
    Bench {
        #[command(subcommand)]
        bench: BenchCommand,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Print an operator token (a JWT signed with admin.signing_key) for the admin api and the
    /// console.
    Token {
        /// The operator's name, recorded with every action in the audit log.
        #[arg(long)]
        name: String,
        /// How long it is valid: e.g. 30m, 8h, 7d (at most 90 days).
        #[arg(long, default_value = "8h")]
        ttl: String,
        /// Use development settings (the development signing key unless one is configured).
        #[arg(long)]
        development: bool,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Push messages through the real delivery engine to a local receiver; print deliveries/s,
    /// p50/p99 enqueue-to-delivery latency and peak RSS, next to a plain sender loop to the
    /// same kind of receiver.
    Deliver {
        /// How many messages (one delivery each).
        #[arg(long, default_value_t = 10_000)]
        messages: usize,
        /// Endpoints the messages are spread over.
        #[arg(long, default_value_t = 4)]
        endpoints: usize,
        /// Concurrent producers writing messages.
        #[arg(long, default_value_t = 16)]
        producers: usize,
        /// Messages a producer hands the engine at once (written in one statement, as ingest
        /// writes the items of a group of inbound batches); 1 measures one message at a time.
        #[arg(long, default_value_t = 20)]
        batch: usize,
        /// Keep the benchmark's database instead of dropping it.
        #[arg(long)]
        keep_database: bool,
    },
    /// Drive the real Graph receiver (each batch durably in Postgres before its 202) with
    /// concurrent keep-alive clients, 1-item and 50-item batches, with Postgres over TLS and
    /// without; print requests/s and p50/p99 latency next to a bare actix-web handler
    /// answering 202, and check that every acknowledged batch was stored.
    Ingest {
        /// How long each measured run lasts, in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent clients, each on one keep-alive connection.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Also load each server open loop at this many requests per second (latency below
        /// saturation).
        #[arg(long)]
        rate: Option<f64>,
        /// Keep the benchmark's database instead of dropping it.
        #[arg(long)]
        keep_database: bool,
    },
    /// Run the api and the workers as separate processes, POST Graph change notifications for
    /// real subscriptions of several tenants, and receive the signed webhooks at local
    /// endpoints: print notifications/s end to end and p50/p99 latency at saturation and open
    /// loop below it, peak memory and connections per endpoint; fail unless every acknowledged
    /// notification arrived exactly once per endpoint.
    Pipeline(PipelineArgs),
    /// Renew subscriptions across tenants through the real upkeep against an emulator with a
    /// call-rate limit; print the time taken, the calls Graph received and the 429s, and check
    /// that every renewal came once and before its subscription expired.
    Renew {
        /// How many subscriptions, all due at once.
        #[arg(long, default_value_t = 10_000)]
        subscriptions: usize,
        /// Tenants they are spread over.
        #[arg(long, default_value_t = 100)]
        tenants: usize,
        /// Subscription API calls the emulator allows per app per tenant per window (Graph:
        /// 5,000 per 20 s).
        #[arg(long, default_value_t = 40)]
        rate_limit: u32,
        /// The rate limit's window, in seconds.
        #[arg(long, default_value_t = 5)]
        window_secs: u64,
        /// Keep the benchmark's database instead of dropping it.
        #[arg(long)]
        keep_database: bool,
    },
}

#[derive(clap::Args)]
struct PipelineArgs {
    /// A short run for CI: at most 100 notifications a run, one tenant, two endpoints, one
    /// worker, a few seconds (the other flags still apply on top).
    #[arg(long)]
    smoke: bool,
    /// Tenants, each with one subscription [default: 4; --smoke: 1].
    #[arg(long)]
    tenants: Option<usize>,
    /// Endpoints per tenant; every notification goes to each [default: 2].
    #[arg(long)]
    endpoints: Option<usize>,
    /// Worker processes [default: 1].
    #[arg(long)]
    workers: Option<usize>,
    /// Notifications per POST [default: 1].
    #[arg(long)]
    items: Option<usize>,
    /// How long each run sends, in seconds [default: 10; --smoke: 2].
    #[arg(long)]
    seconds: Option<u64>,
    /// The generator's keep-alive connections to the api [default: 32; --smoke: 4].
    #[arg(long)]
    connections: Option<usize>,
    /// Closed loop: notifications sent and not yet arrived everywhere, at most
    /// [default: 2000; --smoke: 100].
    #[arg(long)]
    window: Option<usize>,
    /// Also run open loop at this many notifications per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Keep the benchmark's database instead of dropping it.
    #[arg(long)]
    keep_database: bool,
}

impl PipelineArgs {
    fn options(self, config: Option<PathBuf>) -> bench_pipeline::PipelineOptions {
        let smoke = self.smoke;
        let pick = |value: Option<usize>, full: usize, short: usize| {
            value.unwrap_or(if smoke { short } else { full })
        };
        bench_pipeline::PipelineOptions {
            tenants: pick(self.tenants, 4, 1),
            endpoints: pick(self.endpoints, 2, 2),
            workers: pick(self.workers, 1, 1),
            items: pick(self.items, 1, 1),
            seconds: self.seconds.unwrap_or(if smoke { 2 } else { 10 }),
            connections: pick(self.connections, 32, 4),
            window: pick(self.window, 2_000, 100),
            rate: self.rate,
            limit: smoke.then_some(100),
            smoke,
            keep_database: self.keep_database,
            config,
        }
    }
}

#[derive(clap::Args)]
struct EmulatorArgs {
    /// An emulator TOML file (app registration, tenants, behaviour switches).
    #[arg(long, env = "GRAPHHOOK_EMULATOR_CONFIG")]
    emulator_config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: std::net::SocketAddr,
    /// The URL clients use to reach the emulator (default: http://{listen}).
    #[arg(long)]
    public_url: Option<String>,
    /// Which http:// notification URLs to accept: never (like Graph), loopback or any.
    #[arg(long, value_parser = ["never", "loopback", "any"])]
    http_notification_urls: Option<String>,
    /// What the admin-consent page does: interactive, auto_accept or auto_decline.
    #[arg(long, value_parser = ["interactive", "auto_accept", "auto_decline"])]
    consent_mode: Option<String>,
    /// Another redirect URI to register for sign-in and admin consent (repeatable).
    #[arg(long)]
    redirect_uri: Vec<String>,
    /// FROM=TO: Graph's requests (validation, notifications) for URLs starting with FROM go to
    /// TO instead, e.g. http://127.0.0.1:8080=http://api:8080 in the compose network
    /// (repeatable).
    #[arg(long)]
    deliver_via: Vec<String>,
    /// Keep the emulator's world in this file across restarts (read on start, written within
    /// a second of a change and on stop).
    #[arg(long, env = "GRAPHHOOK_EMULATOR_STATE_FILE")]
    state_file: Option<PathBuf>,
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
    graphhook_domain::platform::tls::install_crypto_provider();
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
    let result = runtime.block_on(run(cli.command, config));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = ?error, "graphhook failed");
            eprintln!("graphhook: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs the subcommand.
async fn run(command: Command, config: Option<&Path>) -> anyhow::Result<()> {
    match command {
        Command::Api => commands::api(config).await,
        Command::Worker => commands::worker(config).await,
        Command::Check => check::run(config).await,
        Command::Dev => dev::dev(config).await,
        Command::Openapi { admin } => commands::openapi(admin),
        Command::Admin {
            action:
                AdminAction::Token {
                    name,
                    ttl,
                    development,
                },
        } => commands::admin_token(config, &name, &ttl, development),
        Command::Bench { bench } => run_bench(bench, config).await,
        Command::Emulator(args) => {
            let options = commands::EmulatorOptions {
                config: args.emulator_config,
                listen: args.listen,
                public_url: args.public_url,
                http_notification_urls: args.http_notification_urls,
                consent_mode: args.consent_mode,
                redirect_uris: args.redirect_uri,
                deliver_via: args.deliver_via,
                state_file: args.state_file,
            };
            commands::emulator(options).await
        }
        Command::Migrate { action } => match action {
            MigrateAction::Up => commands::migrate_up(config).await,
            MigrateAction::Down { steps, all } => {
                commands::migrate_down(config, if all { None } else { Some(steps) }).await
            }
            MigrateAction::Status => commands::migrate_status(config).await,
        },
    }
}

/// Runs a benchmark.
async fn run_bench(bench: BenchCommand, config: Option<&Path>) -> anyhow::Result<()> {
    match bench {
        BenchCommand::Deliver {
            messages,
            endpoints,
            producers,
            batch,
            keep_database,
        } => {
            let options = bench_deliver::DeliverOptions {
                messages,
                endpoints,
                producers,
                batch,
                keep_database,
            };
            bench_deliver::deliver(commands::load(config, Some(Mode::Development))?, options).await
        }
        BenchCommand::Ingest {
            seconds,
            connections,
            rate,
            keep_database,
        } => {
            let options = bench_ingest::IngestOptions {
                seconds,
                connections,
                rate,
                keep_database,
            };
            bench_ingest::ingest(commands::load_quiet(config)?, options).await
        }
        BenchCommand::Pipeline(args) => {
            let options = args.options(config.map(Path::to_path_buf));
            bench_pipeline::pipeline(commands::load_quiet(config)?, options).await
        }
        BenchCommand::Renew {
            subscriptions,
            tenants,
            rate_limit,
            window_secs,
            keep_database,
        } => {
            let options = bench_renew::RenewOptions {
                subscriptions,
                tenants,
                rate_limit,
                window_secs,
                keep_database,
            };
            bench_renew::renew(commands::load(config, Some(Mode::Development))?, options).await
        }
    }
}
