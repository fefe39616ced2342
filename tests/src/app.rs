//! [`TestApp`]: the real api on port 0, with its own database, Redis prefix, clock and proxies.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use chrono::DateTime;
use graphhook_api::Application;
use graphhook_domain::Services;
use graphhook_domain::delivery::webhooks::sender::{Lookup, SystemLookup};
use graphhook_domain::{
    Clock, Mode, Settings,
    platform::db,
    platform::redis_conn::{self, ConnectionManager},
    platform::secret::SecretString,
};
use graphhook_emulator::{
    Emulator, EmulatorConfig, RunningEmulator,
    config::{self as emulator_defaults, ConsentMode, HttpUrls},
};
use graphhook_worker::WorkerProcess;
use redis::AsyncCommands;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use std::sync::Arc;

use crate::{database, proxy::TcpProxy};

pub const ADMIN_SIGNING_KEY: &str = "test-operator-signing-key-0123456789abcdef";

fn redis_server_url() -> String {
    std::env::var("GRAPHHOOK_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A free port for the api, below Linux's ephemeral range (32768–60999): the port is free when
/// chosen and bound a moment later, and in between an outgoing connection (the proxies' to
/// PostgreSQL and Redis, any test's) could take a port of that range, never one of these.
fn api_port() -> anyhow::Result<u16> {
    for _ in 0..200 {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port for the api between 20000 and 32000")
}

fn socket_of(url: &str, default_port: u16) -> anyhow::Result<SocketAddr> {
    let parsed = url::Url::parse(url)?;
    let host = parsed.host_str().context("URL without host")?;
    let port = parsed.port().unwrap_or(default_port);
    use std::net::ToSocketAddrs;
    (host, port)
        .to_socket_addrs()?
        .next()
        .context("host does not resolve")
}

fn replace_host_port(url: &str, addr: SocketAddr) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url)?;
    parsed
        .set_ip_host(addr.ip())
        .map_err(|()| anyhow::anyhow!("cannot set host"))?;
    parsed
        .set_port(Some(addr.port()))
        .map_err(|()| anyhow::anyhow!("cannot set port"))?;
    Ok(parsed.to_string())
}

/// Adjusts settings before the app starts.
pub type Customize = Box<dyn FnOnce(&mut Settings) + Send>;

#[derive(Default)]
pub struct TestAppBuilder {
    customize: Vec<Customize>,
    lookup: Option<Arc<dyn Lookup>>,
}

impl TestAppBuilder {
    pub fn settings(mut self, f: impl FnOnce(&mut Settings) + Send + 'static) -> Self {
        self.customize.push(Box::new(f));
        self
    }

    /// Resolves webhook hosts with `lookup` instead of the system resolver.
    pub fn lookup(mut self, lookup: Arc<dyn Lookup>) -> Self {
        self.lookup = Some(lookup);
        self
    }

    pub async fn spawn(self) -> TestApp {
        match self.try_spawn().await {
            Ok(app) => app,
            Err(e) => panic!("could not spawn the test app: {e:#}"),
        }
    }

    async fn try_spawn(self) -> anyhow::Result<TestApp> {
        crate::init_test_logging();
        let db_name = database::create_test_database().await?;
        let db_url = database::url_for(&db_name);
        let redis_url = redis_server_url();
        let pg_proxy = TcpProxy::start(socket_of(&db_url, 5432)?).await?;
        let redis_proxy = TcpProxy::start(socket_of(&redis_url, 6379)?).await?;
        let prefix = format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);

        let mut settings = Settings {
            mode: Mode::Development,
            ..Settings::default()
        };
        settings.database.url = SecretString::from(replace_host_port(&db_url, pg_proxy.addr())?);
        settings.database.max_connections = 5;
        settings.database.min_connections = 0;
        settings.redis.url = SecretString::from(replace_host_port(&redis_url, redis_proxy.addr())?);
        settings.redis.key_prefix = prefix.clone();
        settings.redis.response_timeout_ms = 2_000;
        settings.redis.connect_timeout_ms = 1_000;
        settings.api.listen = "127.0.0.1:0".parse()?;
        settings.api.workers = 1;
        settings.api.shutdown_timeout_secs = 2;
        settings.worker.listen = "127.0.0.1:0".parse()?;
        settings.worker.concurrency = 4;
        settings.worker.poll_interval_ms = 50;
        settings.worker.heartbeat_interval_secs = 2;
        settings.worker.missed_heartbeats = 3;
        settings.worker.shutdown_timeout_secs = 10;
        settings.worker.tick_interval_secs = 1;
        settings.admin.signing_key = Some(SecretString::from(ADMIN_SIGNING_KEY));

        let start = DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z")?.to_utc();
        let clock = Clock::manual(start);

        // The api's port is chosen first: the emulator must know the callback URL.
        let port = api_port()?;
        settings.api.listen = SocketAddr::from(([127, 0, 0, 1], port));
        settings.api.public_base_url = format!("http://127.0.0.1:{port}");
        let mut emulator_config = EmulatorConfig {
            listen: "127.0.0.1:0".parse()?,
            ..EmulatorConfig::default()
        };
        emulator_config.behaviour.consent_mode = ConsentMode::AutoAccept;
        emulator_config.behaviour.http_notification_urls = HttpUrls::Loopback;
        emulator_config.app.redirect_uris = vec![
            format!("http://127.0.0.1:{port}/onboarding/signed-in"),
            format!("http://127.0.0.1:{port}/onboarding/callback"),
            format!("http://127.0.0.1:{port}/connections/callback"),
        ];
        // Contoso's Global Administrator signs in unless a test signs in someone else.
        emulator_config.behaviour.auto_sign_in_user = Some(CONTOSO_ADMIN.to_owned());
        let emulator = Emulator::new(emulator_config, clock.clone())
            .spawn()
            .await?;
        settings.microsoft.authority_url = emulator.base_url.clone();
        settings.microsoft.graph_url = format!("{}/v1.0", emulator.base_url);
        settings.microsoft.client_id = Some(emulator_defaults::DEFAULT_CLIENT_ID.to_owned());
        settings.microsoft.client_secret =
            Some(SecretString::from(emulator_defaults::DEFAULT_CLIENT_SECRET));
        settings.microsoft.personal_accounts = true;
        settings.onboarding.verify_interval_secs = 1;
        settings.onboarding.verify_timeout_secs = 5;
        for customize in self.customize {
            customize(&mut settings);
        }
        settings.validate()?;
        let lookup = self.lookup.unwrap_or_else(|| Arc::new(SystemLookup));
        let app = Application::build_with_lookup(settings.clone(), clock.clone(), lookup).await?;
        tokio::spawn(app.run_until_stopped());

        // The test's own connections go straight to the servers, past the proxies.
        let mut direct = settings.clone();
        direct.database.url = SecretString::from(db_url.clone());
        direct.redis.url = SecretString::from(redis_url.clone());
        let services = Services::connect(direct.clone(), clock.clone()).await?;
        let db = db::connect(&direct.database).await?;
        let redis = redis_conn::connect(&direct.redis).await?;

        Ok(TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            settings,
            clock,
            db,
            redis,
            services,
            prefix,
            db_name,
            pg_proxy,
            redis_proxy,
            workers_started: 0,
            emulator,
        })
    }
}

/// The seeded Global Administrator of the emulator's default tenant (Contoso).
pub const CONTOSO_ADMIN: &str = "admin@contoso.onmicrosoft.com";

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    /// The settings the app runs with (URLs through the proxies).
    pub settings: Settings,
    pub clock: Clock,
    /// A direct connection to this test's database.
    pub db: DatabaseConnection,
    /// A direct Redis connection (not through the proxy).
    pub redis: ConnectionManager,
    /// The processes' services on direct connections: for draining jobs and calling the
    /// domain directly.
    pub services: Services,
    pub prefix: String,
    pub db_name: String,
    pub pg_proxy: TcpProxy,
    pub redis_proxy: TcpProxy,
    workers_started: usize,
    /// The Microsoft Graph and Entra emulator this app talks to (same clock).
    pub emulator: RunningEmulator,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestAppBuilder::default().spawn().await
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// An app whose settings `f` adjusted before it started.
    pub async fn spawn_with(f: impl FnOnce(&mut Settings) + Send + 'static) -> TestApp {
        TestAppBuilder::default().settings(f).spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A `GET` of `path` without credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.anonymous(reqwest::Method::GET, path).await
    }

    /// An operator token for `test-operator`, valid for an hour from the app's clock.
    pub fn operator_token(&self) -> String {
        self.operator_token_for("test-operator")
    }

    pub fn operator_token_for(&self, name: &str) -> String {
        graphhook_domain::operator::tokens::mint(
            &SecretString::from(ADMIN_SIGNING_KEY),
            name,
            chrono::Duration::hours(1),
            self.clock.now(),
        )
        .unwrap_or_else(|e| panic!("minting an operator token: {e}"))
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.as_operator()
            .send(reqwest::Method::GET, path, None)
            .await
    }

    pub async fn admin_post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.as_operator()
            .send(reqwest::Method::POST, path, Some(body.clone()))
            .await
    }

    /// Queues a probe through the operator api and returns its id.
    pub async fn queue_probe(&self, hold_ms: u64) -> String {
        let response = self
            .admin_post_json("/admin/v1/probes", &serde_json::json!({"hold_ms": hold_ms}))
            .await;
        assert_eq!(response.status().as_u16(), 202, "queueing a probe");
        let body: Value = response.json().await.unwrap_or_default();
        body["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("probe without id: {body}"))
    }

    pub async fn probe(&self, id: &str) -> Value {
        let response = self.admin_get(&format!("/admin/v1/probes/{id}")).await;
        assert_eq!(response.status().as_u16(), 200, "reading probe {id}");
        response.json().await.unwrap_or_default()
    }

    /// Polls a probe until its state is `state`, for at most `within`.
    pub async fn wait_for_probe(&self, id: &str, state: &str, within: Duration) -> Value {
        crate::poll::poll(within, Duration::from_millis(50), || async {
            let probe = self.probe(id).await;
            if probe["state"] == state {
                Ok(probe)
            } else {
                Err(format!(
                    "probe {id} did not reach {state} within {within:?}: {probe}"
                ))
            }
        })
        .await
    }

    /// Queues a probe holding `hold_ms` and waits, for at most `within`, until it is `state`:
    /// its id and the probe as then shown.
    pub async fn probe_until(
        &self,
        hold_ms: u64,
        state: &str,
        within: Duration,
    ) -> (String, Value) {
        let id = self.queue_probe(hold_ms).await;
        let probe = self.wait_for_probe(&id, state, within).await;
        (id, probe)
    }

    /// Runs every queued job in this process until nothing is left; returns how many ran.
    pub async fn drain_jobs(&self) -> usize {
        match graphhook_worker::drain::drain(&self.services).await {
            Ok(n) => n,
            Err(e) => panic!("draining jobs: {e:#}"),
        }
    }

    /// Starts a worker process (in this process) on this app's settings, with a unique
    /// instance name.
    pub async fn start_worker(&mut self) -> WorkerProcess {
        self.workers_started += 1;
        let mut settings = self.settings.clone();
        settings.worker.instance = Some(format!("{}-w{}", self.prefix, self.workers_started));
        match WorkerProcess::start(settings, self.clock.clone()).await {
            Ok(worker) => worker,
            Err(e) => panic!("starting a worker: {e:#}"),
        }
    }

    /// Every Redis key under this test's prefix.
    pub async fn redis_keys(&self) -> Vec<String> {
        let mut conn = self.redis.clone();
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:*", self.prefix))
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("SCAN: {e}"));
            keys.extend(batch);
            if next == 0 {
                return keys;
            }
            cursor = next;
        }
    }

    /// "Flushes Redis" for this test alone: deletes every key under its prefix (never
    /// FLUSHALL), and its queues from apalis' global queue list.
    pub async fn flush_redis(&self) {
        flush_prefix(&self.redis, &self.prefix).await;
    }

    /// Kills, with Redis `CLIENT KILL`, every connection the app holds to Redis (they all pass
    /// through this test's proxy). Returns how many were killed.
    pub async fn kill_redis_clients(&self) -> usize {
        let mut conn = self.redis.clone();
        let mut killed = 0;
        for addr in self.redis_proxy.upstream_addrs() {
            let result: redis::RedisResult<u64> = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("ADDR")
                .arg(addr.to_string())
                .query_async(&mut conn)
                .await;
            if let Ok(n) = result {
                killed += n as usize;
            }
        }
        killed
    }

    pub async fn redis_hash(&self, key: &str) -> Vec<(String, String)> {
        let mut conn = self.redis.clone();
        conn.hgetall(key)
            .await
            .unwrap_or_else(|e| panic!("HGETALL {key}: {e}"))
    }
}

async fn flush_prefix(redis: &ConnectionManager, prefix: &str) {
    let mut conn = redis.clone();
    let mut cursor: u64 = 0;
    loop {
        let scanned: redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(500)
            .query_async(&mut conn)
            .await;
        let Ok((next, keys)) = scanned else { return };
        if !keys.is_empty() {
            let _: redis::RedisResult<u64> = conn.del(&keys).await;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    // apalis-redis registers every queue in this one global sorted set.
    let listed: Vec<String> = conn
        .zrange("core:apalis:queues:list", 0, -1)
        .await
        .unwrap_or_default();
    let ours: Vec<&String> = listed
        .iter()
        .filter(|q| q.starts_with(&format!("{prefix}:")))
        .collect();
    if !ours.is_empty() {
        let _: redis::RedisResult<u64> = conn.zrem("core:apalis:queues:list", ours).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let redis_url = redis_server_url();
        let prefix = self.prefix.clone();
        let db_name = self.db_name.clone();
        // Clean up on a thread of its own: Drop cannot await, and the test's runtime may be
        // shutting down.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                // A connection of this thread's own: the test's may be bound to a runtime that
                // is shutting down.
                let settings = graphhook_domain::platform::config::RedisSettings {
                    url: SecretString::from(redis_url),
                    ..Default::default()
                };
                if let Ok(redis) = redis_conn::connect(&settings).await {
                    flush_prefix(&redis, &prefix).await;
                }
                let _ = database::drop_test_database(&db_name).await;
            });
        });
        let _ = cleanup.join();
    }
}

impl TestApp {
    /// A call to the emulator's control api.
    pub async fn emulator_control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self.client.request(
            method,
            format!("{}/_emulator{path}", self.emulator.base_url),
        );
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("emulator {path}: {e}"));
        assert!(
            response.status().is_success(),
            "emulator {path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// A `GET` of `path` on a worker process's own HTTP port.
    pub async fn worker_get(&self, worker: &WorkerProcess, path: &str) -> reqwest::Response {
        self.client
            .get(format!("http://127.0.0.1:{}{path}", worker.http_port()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("worker {path}: {e}"))
    }

    /// A worker process's `/metrics` text.
    pub async fn worker_metrics(&self, worker: &WorkerProcess) -> String {
        self.worker_get(worker, "/metrics")
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("metrics text: {e}"))
    }

    /// Contoso written directly (as a proven consent would be): its API key.
    pub async fn create_contoso(&self) -> String {
        self.create_tenant(crate::fixtures::TENANT, "Contoso").await
    }

    pub async fn tenant_count(&self) -> u64 {
        use sea_orm::{EntityTrait, PaginatorTrait};
        graphhook_domain::platform::entities::tenant::Entity::find()
            .count(&self.db)
            .await
            .unwrap_or_else(|e| panic!("count: {e}"))
    }

    pub async fn tenants(&self) -> Vec<graphhook_domain::platform::entities::tenant::Model> {
        use sea_orm::EntityTrait;
        graphhook_domain::platform::entities::tenant::Entity::find()
            .all(&self.db)
            .await
            .unwrap_or_else(|e| panic!("tenants: {e}"))
    }

    /// Whether the audit log holds an entry of `action`.
    pub async fn audited(&self, action: &str) -> bool {
        self.audit_actions().await.iter().any(|a| a == action)
    }

    /// The audit log's actions, oldest first.
    /// The audit entries recorded as `action`, oldest first.
    pub async fn audit_entries(
        &self,
        action: &str,
    ) -> Vec<graphhook_domain::platform::entities::audit_log::Model> {
        use graphhook_domain::platform::entities::audit_log;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq(action))
            .order_by_asc(audit_log::Column::Id)
            .all(&self.db)
            .await
            .unwrap_or_else(|e| panic!("audit: {e}"))
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        use graphhook_domain::platform::entities::audit_log;
        use sea_orm::{EntityTrait, QueryOrder};
        audit_log::Entity::find()
            .order_by_asc(audit_log::Column::Id)
            .all(&self.db)
            .await
            .unwrap_or_else(|e| panic!("audit: {e}"))
            .into_iter()
            .map(|e| e.action)
            .collect()
    }
}
