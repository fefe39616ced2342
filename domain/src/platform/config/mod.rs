//! Typed settings: defaults, then an optional TOML file, then `GRAPHHOOK__SECTION__KEY`
//! environment variables, validated at start-up with an error that names the bad key.
//!
//! The defaults work on a machine with PostgreSQL and Redis on 127.0.0.1. Secret values
//! (database and Redis URLs, which may carry passwords, and the operator token) are
//! [`SecretString`]s, so `Debug` output and logs never show them.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use secrecy::SecretString;
use serde::Deserialize;

/// `production` (the default) applies every safety rule; `development` (what `graphhook dev`
/// and the tests use) allows loopback targets and talks to the emulator.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Production,
    Development,
}

impl Mode {
    pub fn is_development(self) -> bool {
        self == Mode::Development
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub mode: Mode,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub api: ApiSettings,
    pub worker: WorkerSettings,
    pub admin: AdminSettings,
    pub microsoft: MicrosoftSettings,
    pub onboarding: OnboardingSettings,
    pub webhooks: WebhookSettings,
    pub ingest: IngestSettings,
    pub subscriptions: SubscriptionSettings,
    pub emulator: EmulatorSettings,
    pub log: LogSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:port/database`
    pub url: SecretString,
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a request waits for a pooled connection before it fails.
    pub acquire_timeout_ms: u64,
    pub connect_timeout_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    pub url: SecretString,
    /// Every queue name and Redis key Graphhook writes starts with `{key_prefix}:`.
    pub key_prefix: String,
    pub response_timeout_ms: u64,
    pub connect_timeout_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    pub listen: SocketAddr,
    /// The URL under which Microsoft Graph and browsers reach the api.
    pub public_base_url: String,
    /// actix-web worker threads; 0 means one per core.
    pub workers: usize,
    pub max_json_bytes: usize,
    pub shutdown_timeout_secs: u64,
    /// Reverse proxies (CIDR networks) whose `X-Forwarded-For` names the client: a request from
    /// one of them is counted against the rightmost forwarded address that is not itself a
    /// trusted proxy. Empty: the peer address is the client. Used by every per-address limit
    /// (ingest, onboarding, connection callbacks).
    pub trusted_proxies: Vec<String>,
    /// Connection callbacks (`/connections/callback`) one client address may bring per minute
    /// (0: no limit); more get 429 before the state is looked up.
    pub max_connection_callbacks_per_minute_per_address: u32,
    /// How long a request's body may take to arrive once its handler reads it; a slower one
    /// ends with a 400 and its connection is closed.
    pub request_body_timeout_secs: u64,
    /// API keys one tenant may hold that are neither revoked nor expired.
    pub max_api_keys_per_tenant: u32,
    /// Connections one tenant may hold (pending ones included).
    pub max_connections_per_tenant: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Where the worker serves its own `/healthz` and `/metrics`.
    pub listen: SocketAddr,
    /// Distinguishes this process's apalis workers from other processes'; default
    /// `{hostname}-{pid}`.
    pub instance: Option<String>,
    /// Jobs run at once per queue in this process (queues other than deliveries).
    pub concurrency: usize,
    /// Delivery attempts run at once in this process, per lane: first attempts, retries, and
    /// replays (resend, recover). Each lane has its own queue and capacity, so a replay or a
    /// retry storm never delays first attempts.
    pub delivery_concurrency: usize,
    pub retry_concurrency: usize,
    pub replay_concurrency: usize,
    /// How often an idle worker looks for new jobs.
    pub poll_interval_ms: u64,
    /// The same for the delivery lanes: apalis fetches a batch per wake-up, so this bounds how
    /// fast a lane can start attempts (at most its concurrency per interval).
    pub delivery_poll_interval_ms: u64,
    pub heartbeat_interval_secs: u64,
    /// A worker silent for `heartbeat_interval_secs × missed_heartbeats` is dead and its jobs
    /// are handed to others.
    pub missed_heartbeats: usize,
    /// How long a job may run before it is cancelled and retried.
    pub job_timeout_secs: u64,
    /// On shutdown, how long in-flight jobs get to finish.
    pub shutdown_timeout_secs: u64,
    /// Period of the maintenance tick (queue depths), in seconds.
    pub tick_interval_secs: u64,
    /// A lane (the jobs of one queue in this process) that makes no progress for this long
    /// while work waits is restarted by the watchdog (see `graphhook_worker::watchdog`).
    pub watchdog_stall_secs: u64,
}

/// Where Microsoft is, and who we are there. Production talks to Microsoft's hosts;
/// `graphhook dev` points these at the emulator it starts.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MicrosoftSettings {
    /// The Entra authority the api calls (token endpoint, discovery).
    pub authority_url: String,
    /// The authority browsers are sent to for admin consent, when it differs from
    /// `authority_url` (e.g. containers reach the emulator under another name).
    pub browser_authority_url: Option<String>,
    /// Microsoft Graph, including the version.
    pub graph_url: String,
    /// Our app registration's client id.
    pub client_id: Option<String>,
    /// The app registration's own directory (its "Directory (tenant) ID"): start-up and
    /// `graphhook check` ask Entra for a token there to prove the credential before any tenant
    /// has onboarded. Without it they use an onboarded tenant, or skip that check.
    pub home_tenant_id: Option<uuid::Uuid>,
    pub client_secret: Option<SecretString>,
    /// When the client secret expires (Entra shows it on the app registration; Graphhook cannot
    /// read it), so operators are warned in time.
    pub client_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A certificate (PEM) registered on the app, with its private key (PEM), to sign client
    /// assertions instead of sending a secret.
    pub client_certificate: Option<String>,
    pub client_private_key: Option<SecretString>,
    /// Whether personal Microsoft accounts may be connected (the app registration's
    /// `signInAudience` must then be `AzureADandPersonalMicrosoftAccount`).
    pub personal_accounts: bool,
}

/// Tenant onboarding by admin consent.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnboardingSettings {
    /// Signs the consent `state` (HS256); at least 32 characters. Required in production;
    /// development falls back to a fixed key.
    pub state_key: Option<SecretString>,
    /// How long an administrator has to finish consenting.
    pub state_ttl_secs: u64,
    /// How long to keep checking for newly granted roles after a consent (Entra takes a while).
    pub verify_timeout_secs: u64,
    /// The pause between checks.
    pub verify_interval_secs: u64,
    /// Onboardings one client address may start per minute (0: no limit); more get 429.
    pub max_starts_per_minute_per_address: u32,
}

impl Default for OnboardingSettings {
    fn default() -> Self {
        Self {
            state_key: None,
            state_ttl_secs: 600,
            verify_timeout_secs: 900,
            verify_interval_secs: 15,
            max_starts_per_minute_per_address: 20,
        }
    }
}

/// Graph subscriptions held for tenants.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscriptionSettings {
    /// Subscriptions one tenant may hold (Graphhook's own quota, beside Graph's).
    pub max_per_tenant: usize,
    /// A subscription is created this many minutes short of its kind's maximum lifetime.
    pub lifetime_margin_minutes: i64,
    /// A subscription is renewed when this share of its lifetime has passed…
    pub renew_at_fraction: f64,
    /// …give or take this share of its lifetime, at random, so renewals spread out.
    pub renew_jitter_fraction: f64,
    /// Renewals (and other upkeep) running at once per tenant, across all worker processes.
    pub upkeep_per_tenant: u32,
    /// Subscriptions the scheduler hands out per tick.
    pub upkeep_batch: u32,
    /// How long a worker holds a subscription it acts on before another may take it over.
    pub upkeep_lease_secs: u64,
    /// The first wait after a failed renewal; each later one doubles, up to `retry_max_secs`.
    pub retry_initial_secs: u64,
    pub retry_max_secs: u64,
    /// The wait after Graph throttles (429) without a Retry-After.
    pub throttle_default_secs: u64,
    /// How often each tenant's subscriptions at Graph are compared with Graphhook's rows (the
    /// reconciler; a tenant with a create stuck in `creating` is taken on sooner).
    pub reconcile_interval_secs: u64,
    /// Tenants the scheduler hands to the reconciler per tick.
    pub reconcile_batch: u32,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        Self {
            max_per_tenant: 500,
            lifetime_margin_minutes: 15,
            renew_at_fraction: 0.6,
            renew_jitter_fraction: 0.1,
            upkeep_per_tenant: 4,
            upkeep_batch: 1_000,
            upkeep_lease_secs: 300,
            retry_initial_secs: 30,
            retry_max_secs: 1_800,
            throttle_default_secs: 10,
            reconcile_interval_secs: 3_600,
            reconcile_batch: 50,
        }
    }
}

/// Receiving Graph's notifications.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSettings {
    /// Larger POSTs to `/graph/notifications` and `/graph/lifecycle` get 413.
    pub max_body_bytes: usize,
    /// A POST whose collection holds more items gets 413.
    pub max_items_per_post: usize,
    /// How long a request waits for its batch to be durably written before it answers 503.
    pub write_timeout_ms: u64,
    /// Concurrent inbox writers; each writes everything waiting in one statement.
    pub writers: usize,
    /// A batch not processed this long after it arrived is queued again (its job was lost).
    pub sweep_after_secs: u64,
    /// Items that carry an identity (a notification `id`, or `resourceData.@odata.etag`) are
    /// remembered (Graph's re-deliveries dropped) for this long: Graph retries for 4 hours.
    pub dedup_hours: u64,
    /// Items without an identity are remembered only this long (a change firing several
    /// notifications, a retry after a lost acknowledgement): a second real change that is byte
    /// for byte the same as the first must not be dropped.
    pub dedup_anonymous_secs: u64,
    /// Only these networks (CIDR) may POST notifications; empty: any address.
    pub allow_networks: Vec<String>,
    /// Requests per second one source address may make (0: no limit); more get 429.
    pub max_requests_per_sec_per_address: u32,
    /// Deprecated: set `api.trusted_proxies` to the proxies' networks instead. `true` trusts
    /// `X-Forwarded-For` from any peer (as if `api.trusted_proxies` were every address).
    pub trust_forwarded_for: bool,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 * 1024 * 1024,
            max_items_per_post: 10_000,
            write_timeout_ms: 1_500,
            writers: 2,
            sweep_after_secs: 30,
            dedup_hours: 4,
            dedup_anonymous_secs: 120,
            allow_networks: Vec::new(),
            max_requests_per_sec_per_address: 2_000,
            trust_forwarded_for: false,
        }
    }
}

/// Outgoing webhooks.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Encrypts endpoint secrets at rest: standard base64 of 32 random bytes. Required in
    /// production; development falls back to a fixed key.
    pub encryption_key: Option<SecretString>,
    /// Networks (CIDR) webhooks may reach although they are not public.
    pub allow_networks: Vec<String>,
    /// Host names webhooks may reach without address checks.
    pub allow_hosts: Vec<String>,
    pub connect_timeout_ms: u64,
    /// An endpoint's request timeout unless it sets its own (1–30 s).
    pub default_timeout_secs: u64,
    /// An endpoint's in-flight cap unless it sets its own.
    pub default_max_in_flight: u32,
    /// An endpoint that has not succeeded for this long while failing is disabled (`failing`).
    pub auto_disable_after_hours: u64,
    /// Message payloads are removed after this many days.
    pub retention_payload_days: u32,
    /// Attempts (and published operational events) are removed after this many days.
    pub retention_attempt_days: u32,
    /// An endpoint's circuit opens when at least `circuit_failure_percent` of at least
    /// `circuit_min_attempts` attempts in the last `circuit_window_secs` failed.
    pub circuit_window_secs: u64,
    pub circuit_min_attempts: u32,
    pub circuit_failure_percent: u32,
    /// How long an open circuit waits before its probe; each failed probe doubles the wait, up
    /// to `circuit_max_open_secs`.
    pub circuit_open_secs: u64,
    pub circuit_max_open_secs: u64,
    /// The delays (seconds) before attempts 2, 3, … unless an endpoint sets its own.
    pub retry_schedule_secs: Vec<i64>,
    /// Endpoints one tenant may hold.
    pub max_endpoints_per_tenant: u32,
}

/// The deployment's retry schedule unless configured: the delays before attempts 2 to 10, in
/// seconds.
pub const DEFAULT_RETRY_DELAYS_SECS: [i64; 9] =
    [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];

/// The secret-encryption key a development process uses when none is configured (base64 of 32
/// bytes). Never use it in production: it is public.
pub const DEV_ENCRYPTION_KEY: &str = "Z3JhcGhob29rLWRldmVsb3BtZW50LWtleS0wMDAwMDA=";

/// The state key a development process uses when none is configured.
pub const DEV_STATE_KEY: &str = "graphhook-development-onboarding-state-key";

/// The emulator `graphhook dev` runs.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorSettings {
    pub listen: SocketAddr,
    /// Whether `dev` keeps the emulator's world in a state file across restarts.
    pub persist: bool,
    /// That file. None: `emulator-{database name}.json` in `$XDG_STATE_HOME/graphhook` (or
    /// `~/.local/state/graphhook`, or the temporary directory without a home).
    pub state_file: Option<PathBuf>,
}

impl Default for MicrosoftSettings {
    fn default() -> Self {
        Self {
            authority_url: MICROSOFT_AUTHORITY.to_owned(),
            browser_authority_url: None,
            graph_url: MICROSOFT_GRAPH.to_owned(),
            client_id: None,
            client_secret: None,
            client_secret_expires_at: None,
            home_tenant_id: None,
            client_certificate: None,
            client_private_key: None,
            personal_accounts: false,
        }
    }
}

impl Default for EmulatorSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            persist: true,
            state_file: None,
        }
    }
}

/// Microsoft's Entra authority.
pub const MICROSOFT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Microsoft Graph v1.0.
pub const MICROSOFT_GRAPH: &str = "https://graph.microsoft.com/v1.0";

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// The key that signs operator tokens (JWTs minted by `graphhook admin token`), at least 32
    /// characters. Required in production; development falls back to [`DEV_ADMIN_SIGNING_KEY`].
    pub signing_key: Option<SecretString>,
    /// How long an offboarded tenant's data is kept before it is removed.
    pub offboarded_retention_days: u32,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            signing_key: None,
            offboarded_retention_days: 30,
        }
    }
}

/// The operator signing key a development process uses when none is configured.
pub const DEV_ADMIN_SIGNING_KEY: &str = "graphhook-dev-operator-signing-key-not-secret";

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// An `EnvFilter` directive, e.g. `info,graphhook_api=debug`. `RUST_LOG` wins when set.
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON in production, readable text in development.
    #[default]
    Auto,
    Json,
    Pretty,
}

/// A configuration problem, naming the key at fault.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl Settings {
    /// The key that encrypts endpoint secrets: the configured one, or the development fallback.
    pub fn webhook_encryption_key(&self) -> SecretString {
        self.webhooks
            .encryption_key
            .clone()
            .unwrap_or_else(|| SecretString::from(DEV_ENCRYPTION_KEY))
    }

    /// The key that signs onboarding `state`: the configured one, or the development fallback.
    pub fn onboarding_state_key(&self) -> SecretString {
        self.onboarding
            .state_key
            .clone()
            .unwrap_or_else(|| SecretString::from(DEV_STATE_KEY))
    }

    /// The key operator tokens are signed with: the configured one, or the development fallback.
    pub fn admin_signing_key(&self) -> SecretString {
        match &self.admin.signing_key {
            Some(key) => key.clone(),
            None => SecretString::from(DEV_ADMIN_SIGNING_KEY),
        }
    }

    /// This process's worker instance name.
    pub fn worker_instance(&self) -> String {
        self.worker.instance.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().replace([':', ' '], "-"))
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "host".to_owned());
            format!("{host}-{}", std::process::id())
        })
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.database.acquire_timeout_ms)
    }
}

mod defaults;
mod load;
mod secrets;
mod validate;

pub use load::Sources;

#[cfg(test)]
mod tests;
