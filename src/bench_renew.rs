//! `graphhook bench renew`: renews many subscriptions across many tenants against an emulator
//! with a call-rate limit, through the real upkeep (scheduler, leases, per-tenant limits, a
//! worker process, PATCH at Graph), and prints the time taken, the calls Graph received and the
//! 429s among them, and checks that every subscription was renewed once, before it expired.
//!
//! The subscriptions are seeded straight into the emulator and our database (creating them
//! through the api would measure the validation handshake instead), all due at once. It runs in
//! a database and a Redis key prefix of its own, dropped at the end.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use graphhook_domain::{
    Clock, Services, Settings,
    platform::db,
    platform::entities::{subscription, tenant},
    platform::secret::SecretString,
};
use graphhook_emulator::{Emulator, EmulatorConfig, RunningEmulator, config as emulator_defaults};
use graphhook_migrations::{Migrator, MigratorTrait};
use graphhook_worker::WorkerProcess;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::bench::{Report, active_tenant, memory_mib, message_subscription, run_isolated};

pub struct RenewOptions {
    pub subscriptions: usize,
    pub tenants: usize,
    /// Subscription API calls the emulator allows per app per tenant in `window_secs`.
    pub rate_limit: u32,
    pub window_secs: u64,
    pub keep_database: bool,
}

pub async fn renew(mut settings: Settings, options: RenewOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.subscriptions > 0 && options.tenants > 0 && options.rate_limit > 0,
        "--subscriptions, --tenants and --rate-limit must be at least 1"
    );
    settings.worker.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let does = "runs an emulator on a loopback port";
    run_isolated(settings, does, options.keep_database, async |settings| {
        run(settings, &options).await
    })
    .await
}

/// An emulator allowing `options.rate_limit` calls per window per app per tenant (twice that
/// per tenant), which `settings` now point at.
async fn start_emulator(
    settings: &mut Settings,
    options: &RenewOptions,
    clock: &Clock,
) -> anyhow::Result<RunningEmulator> {
    let mut config = EmulatorConfig {
        listen: "127.0.0.1:0".parse()?,
        ..EmulatorConfig::default()
    };
    config.behaviour.rate_limit_per_app = options.rate_limit;
    config.behaviour.rate_limit_per_tenant = options.rate_limit.saturating_mul(2);
    config.behaviour.rate_window_secs = options.window_secs.max(1);
    let emulator = Emulator::new(config, clock.clone()).spawn().await?;
    settings.microsoft.authority_url = emulator.base_url.clone();
    settings.microsoft.graph_url = format!("{}/v1.0", emulator.base_url);
    settings.microsoft.client_id = Some(emulator_defaults::DEFAULT_CLIENT_ID.to_owned());
    settings.microsoft.client_secret =
        Some(SecretString::from(emulator_defaults::DEFAULT_CLIENT_SECRET));
    Ok(emulator)
}

async fn run(settings: &mut Settings, options: &RenewOptions) -> anyhow::Result<Report> {
    let clock = Clock::system();
    let emulator = start_emulator(settings, options, &clock).await?;
    let db = db::connect(&settings.database).await?;
    Migrator::up(&db, None).await.context("migrations")?;
    let http = reqwest::Client::new();
    let control = format!("{}/_emulator", emulator.base_url);

    // Tenants consented at the emulator and active here; subscriptions at both, all due now,
    // each expiring in an hour.
    let now = clock.now();
    let expires_at = now + chrono::Duration::hours(1);
    let per_tenant = options.subscriptions.div_ceil(options.tenants);
    let mut seeded = 0;
    for t in 0..options.tenants {
        let count = per_tenant.min(options.subscriptions - seeded);
        let seeding = Seeding {
            emulator: &emulator,
            db: &db,
            http: &http,
            control: &control,
            now,
            expires_at,
        };
        seed_tenant(&seeding, t, count).await?;
        seeded += count;
    }
    let _ = http.delete(format!("{control}/calls")).send().await?;

    // The upkeep: one worker process, ticking as in production.
    let ctx = Services::connect(settings.clone(), clock.clone()).await?;
    let started = Instant::now();
    let worker = WorkerProcess::start_with(ctx)?;
    await_renewed(&db, seeded).await?;
    let elapsed = started.elapsed();
    worker.stop().await?;
    let calls: Value = http
        .get(format!("{control}/calls"))
        .send()
        .await?
        .json()
        .await?;
    let late = renewed()
        .filter(subscription::Column::LastRenewedAt.gte(expires_at))
        .count(&db)
        .await?;
    let failed = subscription::Entity::find()
        .filter(subscription::Column::Failures.gt(0))
        .count(&db)
        .await?;
    let patches: u64 =
        emulator.with_world(|world| world.subscriptions.values().map(|s| s.renewals).sum());
    emulator.stop().await;
    anyhow::ensure!(
        late == 0,
        "{late} renewals came after their subscription expired"
    );
    anyhow::ensure!(
        patches == seeded as u64,
        "{patches} successful PATCHes for {seeded} subscriptions"
    );
    Ok(Report {
        lines: lines(settings, options, seeded, elapsed, &calls, failed),
        failure: None,
    })
}

/// Where and when the tenants are seeded.
struct Seeding<'a> {
    emulator: &'a RunningEmulator,
    db: &'a DatabaseConnection,
    http: &'a reqwest::Client,
    control: &'a str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// Tenant `t`, consented at the emulator and active here, with `count` subscriptions at both.
async fn seed_tenant(seeding: &Seeding<'_>, t: usize, count: usize) -> anyhow::Result<()> {
    let Seeding {
        emulator,
        db,
        http,
        control,
        now,
        expires_at,
    } = *seeding;
    let entra = uuid::Uuid::new_v4();
    emulator.with_world(|world| {
        world.add_tenant(
            entra,
            format!("bench{t}.onmicrosoft.com"),
            format!("bench{t}"),
        );
        let roles = world.app.roles.clone();
        world.grant_consent(entra, roles, now);
    });
    let tenant_id = uuid::Uuid::now_v7();
    tenant::Entity::insert(active_tenant(tenant_id, entra, format!("bench{t}"), now))
        .exec(db)
        .await?;
    if count == 0 {
        return Ok(());
    }
    let resources: Vec<String> = (0..count)
        .map(|_| format!("users/{}/messages", uuid::Uuid::new_v4()))
        .collect();
    let body = json!({
        "tenant": entra,
        "subscriptions": resources.iter().map(|r| json!({
            "resource": r,
            "changeType": "created",
            "notificationUrl": "https://graphhook.invalid/graph/notifications",
            "lifecycleNotificationUrl": "https://graphhook.invalid/graph/lifecycle",
            "expirationDateTime": expires_at.to_rfc3339(),
        })).collect::<Vec<_>>(),
    });
    let answer: Value = http
        .post(format!("{control}/subscriptions"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let ids = answer["ids"]
        .as_array()
        .context("the emulator's seed answer has no ids")?;
    let rows: Vec<subscription::ActiveModel> = ids
        .iter()
        .zip(&resources)
        .map(|(graph_id, resource)| subscription::ActiveModel {
            graph_id: Set(graph_id.as_str().map(str::to_owned)),
            renew_at: Set(Some(now)),
            due_at: Set(Some(now)),
            ..message_subscription(
                tenant_id,
                String::new(),
                resource.clone(),
                vec![0; 32],
                expires_at,
                now,
            )
        })
        .collect();
    for chunk in rows.chunks(1_000) {
        subscription::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The subscriptions renewed at least once.
fn renewed() -> sea_orm::Select<subscription::Entity> {
    subscription::Entity::find().filter(subscription::Column::LastRenewedAt.is_not_null())
}

/// Waits until all `seeded` subscriptions were renewed, for 15 minutes at most.
async fn await_renewed(db: &DatabaseConnection, seeded: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let renewed = renewed().count(db).await? as usize;
        if renewed >= seeded {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {renewed} of {seeded} renewed within 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn lines(
    settings: &Settings,
    options: &RenewOptions,
    seeded: usize,
    elapsed: Duration,
    calls: &Value,
    failed: u64,
) -> Vec<String> {
    let (peak, _) = memory_mib();
    let s = &settings.subscriptions;
    vec![
        format!(
            "renew: {seeded} subscriptions across {} tenants, emulator limit {} calls per {} s per app per tenant, upkeep {} per tenant, worker concurrency {}",
            options.tenants,
            options.rate_limit,
            options.window_secs,
            s.upkeep_per_tenant,
            settings.worker.concurrency,
        ),
        format!(
            "  all renewed in {:.2} s ({:.0} renewals/s), every one before its expiry, each with exactly one successful PATCH",
            elapsed.as_secs_f64(),
            seeded as f64 / elapsed.as_secs_f64().max(1e-9)
        ),
        format!(
            "  Graph calls: {} in all, {} PATCH, {} answered 429; subscriptions with a failed attempt: {failed}",
            calls["total"], calls["byOperation"]["update"], calls["throttled"]
        ),
        format!(
            "  the rate limit alone allows at most {:.0} calls/s across these tenants ({:.1} s for one call each)",
            f64::from(options.rate_limit) * options.tenants as f64
                / options.window_secs.max(1) as f64,
            seeded as f64 * options.window_secs.max(1) as f64
                / (f64::from(options.rate_limit) * options.tenants as f64)
        ),
        format!("  peak RSS {peak:.0} MiB (worker and emulator in one process)"),
    ]
}
