//! The built-in defaults of the process-wide sections: what works on a machine with PostgreSQL
//! and Redis on 127.0.0.1. (The feature sections keep their defaults beside their fields.)

use secrecy::SecretString;

use super::*;

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::Production,
            database: DatabaseSettings::default(),
            redis: RedisSettings::default(),
            api: ApiSettings::default(),
            worker: WorkerSettings::default(),
            admin: AdminSettings::default(),
            microsoft: MicrosoftSettings::default(),
            onboarding: OnboardingSettings::default(),
            webhooks: WebhookSettings::default(),
            ingest: IngestSettings::default(),
            subscriptions: SubscriptionSettings::default(),
            emulator: EmulatorSettings::default(),
            log: LogSettings::default(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("postgres://postgres@127.0.0.1:5432/graphhook"),
            max_connections: 20,
            min_connections: 1,
            acquire_timeout_ms: 500,
            connect_timeout_ms: 2_000,
        }
    }
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("redis://127.0.0.1:6379"),
            key_prefix: "graphhook".to_owned(),
            response_timeout_ms: 5_000,
            connect_timeout_ms: 2_000,
        }
    }
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_base_url: "http://127.0.0.1:8080".to_owned(),
            workers: 0,
            max_json_bytes: 1024 * 1024,
            shutdown_timeout_secs: 20,
            trusted_proxies: Vec::new(),
            max_connection_callbacks_per_minute_per_address: 60,
            request_body_timeout_secs: 30,
            max_api_keys_per_tenant: 25,
            max_connections_per_tenant: 1_000,
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            instance: None,
            concurrency: 8,
            delivery_concurrency: 64,
            retry_concurrency: 32,
            replay_concurrency: 16,
            poll_interval_ms: 250,
            delivery_poll_interval_ms: 20,
            heartbeat_interval_secs: 5,
            missed_heartbeats: 3,
            job_timeout_secs: 60,
            shutdown_timeout_secs: 30,
            tick_interval_secs: 2,
            watchdog_stall_secs: 60,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".to_owned(),
            format: LogFormat::Auto,
        }
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            encryption_key: None,
            allow_networks: Vec::new(),
            allow_hosts: Vec::new(),
            connect_timeout_ms: 5_000,
            default_timeout_secs: 15,
            default_max_in_flight: 64,
            auto_disable_after_hours: 120,
            retention_payload_days: 30,
            retention_attempt_days: 90,
            circuit_window_secs: 300,
            circuit_min_attempts: 10,
            circuit_failure_percent: 70,
            circuit_open_secs: 60,
            circuit_max_open_secs: 1800,
            retry_schedule_secs: DEFAULT_RETRY_DELAYS_SECS.to_vec(),
            max_endpoints_per_tenant: 100,
        }
    }
}
