//! What every `graphhook bench` shares: a database and Redis key prefix of the run's own,
//! dropped at the end; the report it prints; latency percentiles and the process's memory; and
//! the rows it seeds as onboarding and the api would leave them.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use graphhook_domain::{
    Mode, Services, Settings,
    delivery::endpoints::{self, EndpointInput},
    delivery::webhooks::secrets::HmacSecret,
    platform::db,
    platform::entities::{
        endpoint::EndpointStatus,
        subscription::{self, SubscriptionStatus},
        tenant::{self, TenantStatus},
    },
    platform::ids::{EndpointId, TenantId},
    platform::secret::SecretString,
};
use sea_orm::{ActiveModelTrait, ConnectionTrait, IntoActiveModel, Set};
use secrecy::ExposeSecret;

pub(crate) fn percentiles(all: &mut [u64]) -> (Duration, Duration) {
    if all.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    all.sort_unstable();
    let at = |p: f64| {
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        Duration::from_nanos(all[i])
    };
    (at(0.50), at(0.99))
}

/// Peak and current resident memory of this process, in MiB (Linux).
pub(crate) fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Checks that a benchmark that `does` something on loopback ports runs in development mode,
/// then gives it a database and Redis prefix of its own ([`isolate`]) and creates the database.
async fn isolated(settings: &mut Settings, does: &str) -> anyhow::Result<(url::Url, String)> {
    anyhow::ensure!(
        settings.mode == Mode::Development,
        "the benchmark {does}: development mode only"
    );
    let isolated = isolate(settings)?;
    db::create_database_if_missing(&settings.database).await?;
    Ok(isolated)
}

/// Runs a benchmark that `does` something on loopback ports in a database and Redis prefix of
/// its own ([`isolated`]), then [`conclude`]s it.
pub(crate) async fn run_isolated(
    mut settings: Settings,
    does: &str,
    keep_database: bool,
    run: impl AsyncFnOnce(&mut Settings) -> anyhow::Result<Report>,
) -> anyhow::Result<()> {
    let (url, db_name) = isolated(&mut settings, does).await?;
    let result = run(&mut settings).await;
    conclude(&settings, &url, &db_name, keep_database, result).await
}

/// Points `settings` at a database (`{database}_bench_{pid}`) and a Redis prefix of their own;
/// returns the database's URL and name for [`drop_database`].
fn isolate(settings: &mut Settings) -> anyhow::Result<(url::Url, String)> {
    let suffix = format!("bench_{}", std::process::id());
    let mut url = url::Url::parse(settings.database.url.expose_secret())
        .context("database.url is not a URL")?;
    let db_name = format!("{}_{suffix}", url.path().trim_start_matches('/'));
    url.set_path(&format!("/{db_name}"));
    settings.database.url = SecretString::from(url.to_string());
    // `_`, not `:`: a prefix must pass validation when a child process loads it.
    settings.redis.key_prefix = format!("{}_{suffix}", settings.redis.key_prefix);
    Ok((url, db_name))
}

/// What a benchmark prints, and why it fails (an acknowledged item lost or duplicated).
pub(crate) struct Report {
    pub lines: Vec<String>,
    pub failure: Option<String>,
}

/// The end of a benchmark run: drops its database and Redis prefix (unless kept), prints the
/// report, and fails when the run failed or the report says why it must.
#[allow(clippy::print_stdout)] // what the command prints is its output
async fn conclude(
    settings: &Settings,
    url: &url::Url,
    db_name: &str,
    keep_database: bool,
    result: anyhow::Result<Report>,
) -> anyhow::Result<()> {
    if keep_database {
        println!("kept database {db_name}");
    } else {
        drop_database(settings, url, db_name).await?;
    }
    let report = result?;
    for line in &report.lines {
        println!("{line}");
    }
    if let Some(failure) = report.failure {
        anyhow::bail!(failure);
    }
    Ok(())
}

pub(crate) async fn drop_database(
    settings: &Settings,
    url: &url::Url,
    name: &str,
) -> anyhow::Result<()> {
    let mut admin = url.clone();
    admin.set_path("/postgres");
    let mut admin_settings = settings.database.clone();
    admin_settings.url = SecretString::from(admin.to_string());
    admin_settings.max_connections = 1;
    admin_settings.min_connections = 0;
    let admin = db::connect(&admin_settings).await?;
    admin
        .execute_unprepared(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            db::quote_ident(name)
        ))
        .await?;
    admin.close().await.ok();
    let mut redis = graphhook_domain::platform::redis_conn::connect(&settings.redis).await?;
    let pattern = format!("{}:*", settings.redis.key_prefix);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut redis)
        .await?;
    for chunk in keys.chunks(500) {
        let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut redis).await?;
    }
    Ok(())
}

/// An active tenant as onboarding leaves one.
pub(crate) fn active_tenant(
    id: uuid::Uuid,
    entra_tenant: uuid::Uuid,
    name: String,
    now: DateTime<Utc>,
) -> tenant::ActiveModel {
    tenant::ActiveModel {
        id: Set(id),
        entra_tenant_id: Set(entra_tenant),
        name: Set(name),
        status: Set(TenantStatus::Active),
        status_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        offboarded_at: Set(None),
    }
}

/// An endpoint created through the domain (its secret sealed as usual) and marked verified and
/// active; returns its id and secret.
pub(crate) async fn active_endpoint(
    services: &Services,
    tenant: TenantId,
    url: url::Url,
    description: String,
    max_in_flight: i32,
) -> anyhow::Result<(EndpointId, HmacSecret)> {
    let input = EndpointInput {
        url,
        description,
        filter_types: Vec::new(),
        headers: Default::default(),
        timeout_ms: 15_000,
        rate_limit_per_sec: None,
        max_in_flight,
        ed25519: false,
        retry_schedule: None,
    };
    let (model, secret) = endpoints::create(services, tenant, input, None).await?;
    let id = EndpointId::from(model.id);
    let mut active = model.into_active_model();
    active.status = Set(EndpointStatus::Active);
    active.verified_at = Set(Some(services.clock.now()));
    active.update(&services.db).await?;
    Ok((id, secret))
}

/// An active subscription to `resource`'s created messages, as the api leaves one, expiring at
/// `expires_at` and not due for upkeep; a benchmark sets the upkeep fields it needs.
pub(crate) fn message_subscription(
    tenant_id: uuid::Uuid,
    graph_id: String,
    resource: String,
    client_state_hash: Vec<u8>,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> subscription::ActiveModel {
    subscription::ActiveModel {
        graph_id: Set(Some(graph_id)),
        status: Set(SubscriptionStatus::Active),
        expires_at: Set(Some(expires_at)),
        ..subscription::ActiveModel::creating(
            tenant_id,
            resource,
            "message".into(),
            "created".into(),
            client_state_hash,
            now,
        )
    }
}
