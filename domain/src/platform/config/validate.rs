//! The checks settings must pass beyond their types; each failure names its key.
//!
//! One function per settings section, run in the order of [`Settings::validate_needing`]; the
//! first refusal is the one reported (the secrets excepted: all of those are reported at once).

use std::ops::RangeInclusive;

use secrecy::ExposeSecret;

use super::{ConfigError, Mode, Settings};

type Checked = Result<(), ConfigError>;

impl Settings {
    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_needing(None)
    }

    /// [`Settings::validate`], asking in production only for the secrets in `needed` (`None`:
    /// all of them); a secret that is set must be usable whatever the command.
    pub fn validate_needing(&self, needed: Option<&[&str]>) -> Result<(), ConfigError> {
        // First, and all of them at once (see `secrets`).
        self.check_secrets(needed)?;
        self.validate_database()?;
        self.validate_redis()?;
        self.validate_api()?;
        self.validate_worker()?;
        self.validate_microsoft()?;
        self.validate_webhooks()?;
        self.validate_ingest()?;
        self.validate_subscriptions()?;
        self.validate_emulator()?;
        self.validate_onboarding()
    }

    fn validate_database(&self) -> Checked {
        let db = &self.database;
        let url = url::Url::parse(db.url.expose_secret())
            .map_err(|e| ConfigError::new("database.url", format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return refuse("database.url", "must start with postgres://");
        }
        if url.path().trim_start_matches('/').is_empty() {
            return refuse("database.url", "must name a database");
        }
        at_least_one("database.max_connections", db.max_connections)?;
        if db.min_connections > db.max_connections {
            return refuse(
                "database.min_connections",
                "must not exceed database.max_connections",
            );
        }
        at_least_one("database.acquire_timeout_ms", db.acquire_timeout_ms)
    }

    fn validate_redis(&self) -> Checked {
        let url = url::Url::parse(self.redis.url.expose_secret())
            .map_err(|e| ConfigError::new("redis.url", format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "redis" | "rediss") {
            return refuse("redis.url", "must start with redis:// or rediss://");
        }
        let prefix = &self.redis.key_prefix;
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return refuse(
                "redis.key_prefix",
                "must be non-empty and use only letters, digits, '_' and '-'",
            );
        }
        Ok(())
    }

    fn validate_api(&self) -> Checked {
        self.web_url(
            "api.public_base_url",
            &self.api.public_base_url,
            " (Microsoft Graph only notifies https URLs)",
        )?;
        if self.api.max_json_bytes < 1024 {
            return refuse("api.max_json_bytes", "must be at least 1024");
        }
        #[rustfmt::skip]
        let bounds = [
            ("api.request_body_timeout_secs",  self.api.request_body_timeout_secs,         1..=600),
            ("api.max_api_keys_per_tenant",    self.api.max_api_keys_per_tenant.into(),    1..=10_000),
            ("api.max_connections_per_tenant", self.api.max_connections_per_tenant.into(), 1..=1_000_000),
        ];
        within(bounds)?;
        networks("api.trusted_proxies", &self.api.trusted_proxies)
    }

    fn validate_worker(&self) -> Checked {
        let w = &self.worker;
        at_least_one("worker.concurrency", w.concurrency)?;
        at_least_one("worker.delivery_concurrency", w.delivery_concurrency)?;
        at_least_one("worker.retry_concurrency", w.retry_concurrency)?;
        at_least_one("worker.replay_concurrency", w.replay_concurrency)?;
        at_least_one(
            "worker.delivery_poll_interval_ms",
            w.delivery_poll_interval_ms,
        )?;
        at_least_one("worker.poll_interval_ms", w.poll_interval_ms)?;
        at_least_one("worker.heartbeat_interval_secs", w.heartbeat_interval_secs)?;
        at_least_one("worker.missed_heartbeats", w.missed_heartbeats)?;
        at_least_one("worker.tick_interval_secs", w.tick_interval_secs)?;
        // A busy lane reaches Redis once per heartbeat; the stall window must hold at least two.
        let stall = w.watchdog_stall_secs;
        if !(2..=3600).contains(&stall) || stall < w.heartbeat_interval_secs.saturating_mul(2) {
            return refuse(
                "worker.watchdog_stall_secs",
                "must be between 2 and 3600, and at least twice worker.heartbeat_interval_secs",
            );
        }
        at_least_one("worker.job_timeout_secs", w.job_timeout_secs)?;
        if let Some(instance) = &w.instance
            && (instance.is_empty()
                || instance.contains(':')
                || instance.contains(char::is_whitespace))
        {
            return refuse(
                "worker.instance",
                "must be non-empty, without ':' or spaces",
            );
        }
        Ok(())
    }

    fn validate_microsoft(&self) -> Checked {
        let m = &self.microsoft;
        self.web_url("microsoft.authority_url", &m.authority_url, "")?;
        if let Some(browser) = &m.browser_authority_url {
            self.web_url("microsoft.browser_authority_url", browser, "")?;
        }
        self.web_url("microsoft.graph_url", &m.graph_url, "")
    }

    fn validate_webhooks(&self) -> Checked {
        let w = &self.webhooks;
        networks("webhooks.allow_networks", &w.allow_networks)?;
        #[rustfmt::skip]
        let bounds = [
            ("webhooks.default_timeout_secs",     w.default_timeout_secs,     1..=30),
            ("webhooks.auto_disable_after_hours", w.auto_disable_after_hours, 1..=24 * 365),
            ("webhooks.max_endpoints_per_tenant", w.max_endpoints_per_tenant.into(), 1..=100_000),
        ];
        within(bounds)?;
        for (key, days) in [
            ("webhooks.retention_payload_days", w.retention_payload_days),
            ("webhooks.retention_attempt_days", w.retention_attempt_days),
        ] {
            if !(1..=3650).contains(&days) {
                return refuse(key, "must be between 1 and 3650 days");
            }
        }
        #[rustfmt::skip]
        let bounds = [
            ("webhooks.default_max_in_flight",   w.default_max_in_flight.into(),   1..=1000),
            ("webhooks.circuit_window_secs",     w.circuit_window_secs,            10..=86_400),
            ("webhooks.circuit_min_attempts",    w.circuit_min_attempts.into(),    1..=100_000),
            ("webhooks.circuit_failure_percent", w.circuit_failure_percent.into(), 1..=100),
            ("webhooks.circuit_open_secs",       w.circuit_open_secs,              1..=86_400),
            ("webhooks.circuit_max_open_secs",   w.circuit_max_open_secs,          1..=86_400),
        ];
        within(bounds)?;
        if let Err(e) = crate::delivery::engine::schedule::Schedule::from_settings(w) {
            return refuse("webhooks.retry_schedule_secs", e.to_string());
        }
        if w.circuit_max_open_secs < w.circuit_open_secs {
            return refuse(
                "webhooks.circuit_max_open_secs",
                "must not be less than webhooks.circuit_open_secs",
            );
        }
        Ok(())
    }

    fn validate_ingest(&self) -> Checked {
        let i = &self.ingest;
        for (key, ok) in [
            (
                "ingest.max_body_bytes",
                (1024..=256 * 1024 * 1024).contains(&i.max_body_bytes),
            ),
            (
                "ingest.write_timeout_ms",
                (10..=30_000).contains(&i.write_timeout_ms),
            ),
            (
                "ingest.max_items_per_post",
                (1..=1_000_000).contains(&i.max_items_per_post),
            ),
            ("ingest.writers", (1..=64).contains(&i.writers)),
            (
                "ingest.sweep_after_secs",
                (1..=86_400).contains(&i.sweep_after_secs),
            ),
            ("ingest.dedup_hours", (1..=24 * 30).contains(&i.dedup_hours)),
            (
                "ingest.dedup_anonymous_secs",
                i.dedup_anonymous_secs <= 24 * 3600,
            ),
        ] {
            if !ok {
                return refuse(key, "out of range (see the README)");
            }
        }
        networks("ingest.allow_networks", &i.allow_networks)
    }

    fn validate_subscriptions(&self) -> Checked {
        let s = &self.subscriptions;
        #[rustfmt::skip]
        let bounds = [
            ("subscriptions.upkeep_per_tenant",       s.upkeep_per_tenant.into(), 1..=1_000),
            ("subscriptions.upkeep_batch",            s.upkeep_batch.into(),      1..=100_000),
            ("subscriptions.upkeep_lease_secs",       s.upkeep_lease_secs,        10..=86_400),
            ("subscriptions.retry_initial_secs",      s.retry_initial_secs,       1..=86_400),
            ("subscriptions.retry_max_secs",          s.retry_max_secs,           1..=86_400),
            ("subscriptions.throttle_default_secs",   s.throttle_default_secs,    1..=3_600),
            ("subscriptions.reconcile_interval_secs", s.reconcile_interval_secs,  60..=7 * 86_400),
            ("subscriptions.reconcile_batch",         s.reconcile_batch.into(),   1..=10_000),
        ];
        within(bounds)?;
        if !(0.2..=0.9).contains(&s.renew_at_fraction) {
            return refuse(
                "subscriptions.renew_at_fraction",
                "must be between 0.2 and 0.9",
            );
        }
        if !(0.0..=0.2).contains(&s.renew_jitter_fraction)
            || s.renew_at_fraction + s.renew_jitter_fraction > 0.95
        {
            return refuse(
                "subscriptions.renew_jitter_fraction",
                "must be between 0 and 0.2, and renew_at_fraction plus it at most 0.95",
            );
        }
        Ok(())
    }

    fn validate_emulator(&self) -> Checked {
        if let Some(file) = &self.emulator.state_file
            && file.file_name().is_none()
        {
            return refuse(
                "emulator.state_file",
                "must name a file (set emulator.persist = false to keep no file)",
            );
        }
        Ok(())
    }

    fn validate_onboarding(&self) -> Checked {
        at_least_one(
            "onboarding.verify_interval_secs",
            self.onboarding.verify_interval_secs,
        )
    }

    /// An http(s) URL; https in production unless it is this host (`why` ends that message).
    fn web_url(&self, key: &str, value: &str, why: &str) -> Checked {
        let url =
            url::Url::parse(value).map_err(|e| ConfigError::new(key, format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return refuse(key, "must be an http(s) URL");
        }
        if self.mode == Mode::Production && url.scheme() != "https" && !is_loopback_host(&url) {
            return refuse(key, format!("must use https in production{why}"));
        }
        Ok(())
    }
}

fn refuse(key: &str, message: impl Into<String>) -> Checked {
    Err(ConfigError::new(key, message))
}

fn at_least_one<T: PartialEq + Default>(key: &str, value: T) -> Checked {
    if value == T::default() {
        return refuse(key, "must be at least 1");
    }
    Ok(())
}

/// Each `(key, value, range)` in order: the first value out of its range is refused.
fn within<const N: usize>(bounds: [(&str, u64, RangeInclusive<u64>); N]) -> Checked {
    for (key, value, range) in bounds {
        if !range.contains(&value) {
            return refuse(
                key,
                format!("must be between {} and {}", range.start(), range.end()),
            );
        }
    }
    Ok(())
}

/// Every entry a CIDR network.
fn networks(key: &str, list: &[String]) -> Checked {
    match list.iter().find(|n| n.parse::<ipnet::IpNet>().is_err()) {
        Some(network) => refuse(key, format!("{network} is not a CIDR network")),
        None => Ok(()),
    }
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
