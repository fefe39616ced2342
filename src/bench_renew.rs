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
use graphhook_domain::Services;
use graphhook_domain::{
    Clock, Mode, Settings,
    platform::db,
    platform::entities::{
        subscription::{self, DueAction, SubscriptionStatus},
        tenant::{self, TenantStatus},
    },
    platform::secret::SecretString,
};
use graphhook_emulator::{Emulator, EmulatorConfig, config as emulator_defaults};
use graphhook_migrations::{Migrator, MigratorTrait};
use graphhook_worker::WorkerProcess;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::bench::{drop_database, isolate, memory_mib};

pub struct RenewOptions {
    pub subscriptions: usize,
    pub tenants: usize,
    /// Subscription API calls the emulator allows per app per tenant in `window_secs`.
    pub rate_limit: u32,
    pub window_secs: u64,
    pub keep_database: bool,
}

#[allow(clippy::print_stdout)]
pub async fn renew(mut settings: Settings, options: RenewOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.subscriptions > 0 && options.tenants > 0 && options.rate_limit > 0,
        "--subscriptions, --tenants and --rate-limit must be at least 1"
    );
    anyhow::ensure!(
        settings.mode == Mode::Development,
        "the benchmark runs an emulator on a loopback port: development mode only"
    );
    let (url, db_name) = isolate(&mut settings)?;
    settings.worker.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    db::create_database_if_missing(&settings.database).await?;
    let result = run(&mut settings, &options).await;
    if !options.keep_database {
        drop_database(&settings, &url, &db_name).await?;
    } else {
        println!("kept database {db_name}");
    }
    for line in result? {
        println!("{line}");
    }
    Ok(())
}

async fn run(settings: &mut Settings, options: &RenewOptions) -> anyhow::Result<Vec<String>> {
    let clock = Clock::system();
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
        tenant::Entity::insert(tenant::ActiveModel {
            id: Set(tenant_id),
            entra_tenant_id: Set(entra),
            name: Set(format!("bench{t}")),
            status: Set(TenantStatus::Active),
            status_reason: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            offboarded_at: Set(None),
        })
        .exec(&db)
        .await?;
        let count = per_tenant.min(options.subscriptions - seeded);
        if count == 0 {
            continue;
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
                id: Set(uuid::Uuid::now_v7()),
                tenant_id: Set(tenant_id),
                graph_id: Set(graph_id.as_str().map(str::to_owned)),
                resource: Set(resource.clone()),
                kind: Set("message".into()),
                change_types: Set("created".into()),
                include_resource_data: Set(false),
                encryption_certificate_id: Set(None),
                client_state_hash: Set(vec![0; 32]),
                endpoint_ids: Set(None),
                status: Set(SubscriptionStatus::Active),
                expires_at: Set(Some(expires_at)),
                last_error: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                renew_at: Set(Some(now)),
                last_renewed_at: Set(None),
                due_action: Set(DueAction::Renew),
                due_at: Set(Some(now)),
                action_version: Set(0),
                failures: Set(0),
                lease_token: Set(None),
                lease_until: Set(None),
                expiry_warned_at: Set(None),
                connection_id: Set(None),
                graph_tenant_id: Set(None),
                requested_resource: Set(None),
            })
            .collect();
        for chunk in rows.chunks(1_000) {
            subscription::Entity::insert_many(chunk.to_vec())
                .exec(&db)
                .await?;
        }
        seeded += count;
    }
    let _ = http.delete(format!("{control}/calls")).send().await?;

    // The upkeep: one worker process, ticking as in production.
    let ctx = Services::connect(settings.clone(), clock.clone()).await?;
    let started = Instant::now();
    let worker = WorkerProcess::start_with(ctx)?;
    let deadline = Instant::now() + Duration::from_secs(900);
    let renewed_filter =
        || subscription::Entity::find().filter(subscription::Column::LastRenewedAt.is_not_null());
    loop {
        let renewed = renewed_filter().count(&db).await? as usize;
        if renewed >= seeded {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {renewed} of {seeded} renewed within 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    worker.stop().await?;
    let calls: Value = http
        .get(format!("{control}/calls"))
        .send()
        .await?
        .json()
        .await?;
    let late = renewed_filter()
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
    let (peak, _) = memory_mib();
    let s = &settings.subscriptions;
    Ok(vec![
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
    ])
}
