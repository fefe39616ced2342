//! The checks settings must pass beyond their types; each failure names its key.

use secrecy::ExposeSecret;

use super::{ConfigError, Mode, Settings};

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
        let db = self.database.url.expose_secret();
        let db_url = url::Url::parse(db)
            .map_err(|e| ConfigError::new("database.url", format!("not a URL: {e}")))?;
        if !matches!(db_url.scheme(), "postgres" | "postgresql") {
            return Err(ConfigError::new(
                "database.url",
                "must start with postgres://",
            ));
        }
        if db_url.path().trim_start_matches('/').is_empty() {
            return Err(ConfigError::new("database.url", "must name a database"));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::new(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        if self.database.min_connections > self.database.max_connections {
            return Err(ConfigError::new(
                "database.min_connections",
                "must not exceed database.max_connections",
            ));
        }
        if self.database.acquire_timeout_ms == 0 {
            return Err(ConfigError::new(
                "database.acquire_timeout_ms",
                "must be at least 1",
            ));
        }
        let redis = url::Url::parse(self.redis.url.expose_secret())
            .map_err(|e| ConfigError::new("redis.url", format!("not a URL: {e}")))?;
        if !matches!(redis.scheme(), "redis" | "rediss") {
            return Err(ConfigError::new(
                "redis.url",
                "must start with redis:// or rediss://",
            ));
        }
        let prefix = &self.redis.key_prefix;
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError::new(
                "redis.key_prefix",
                "must be non-empty and use only letters, digits, '_' and '-'",
            ));
        }
        let base = url::Url::parse(&self.api.public_base_url)
            .map_err(|e| ConfigError::new("api.public_base_url", format!("not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ConfigError::new(
                "api.public_base_url",
                "must be an http(s) URL",
            ));
        }
        if self.mode == Mode::Production && base.scheme() != "https" && !is_loopback_host(&base) {
            return Err(ConfigError::new(
                "api.public_base_url",
                "must use https in production (Microsoft Graph only notifies https URLs)",
            ));
        }
        if self.api.max_json_bytes < 1024 {
            return Err(ConfigError::new(
                "api.max_json_bytes",
                "must be at least 1024",
            ));
        }
        for (key, value) in [
            ("worker.concurrency", self.worker.concurrency),
            (
                "worker.delivery_concurrency",
                self.worker.delivery_concurrency,
            ),
            ("worker.retry_concurrency", self.worker.retry_concurrency),
            ("worker.replay_concurrency", self.worker.replay_concurrency),
        ] {
            if value == 0 {
                return Err(ConfigError::new(key, "must be at least 1"));
            }
        }
        if self.worker.delivery_poll_interval_ms == 0 {
            return Err(ConfigError::new(
                "worker.delivery_poll_interval_ms",
                "must be at least 1",
            ));
        }
        if self.worker.poll_interval_ms == 0 {
            return Err(ConfigError::new(
                "worker.poll_interval_ms",
                "must be at least 1",
            ));
        }
        if self.worker.heartbeat_interval_secs == 0 {
            return Err(ConfigError::new(
                "worker.heartbeat_interval_secs",
                "must be at least 1",
            ));
        }
        if self.worker.missed_heartbeats == 0 {
            return Err(ConfigError::new(
                "worker.missed_heartbeats",
                "must be at least 1",
            ));
        }
        if self.worker.tick_interval_secs == 0 {
            return Err(ConfigError::new(
                "worker.tick_interval_secs",
                "must be at least 1",
            ));
        }
        // A busy lane reaches Redis once per heartbeat; the stall window must hold at least two.
        let stall = self.worker.watchdog_stall_secs;
        if !(2..=3600).contains(&stall)
            || stall < self.worker.heartbeat_interval_secs.saturating_mul(2)
        {
            return Err(ConfigError::new(
                "worker.watchdog_stall_secs",
                "must be between 2 and 3600, and at least twice worker.heartbeat_interval_secs",
            ));
        }
        if self.worker.job_timeout_secs == 0 {
            return Err(ConfigError::new(
                "worker.job_timeout_secs",
                "must be at least 1",
            ));
        }
        if let Some(instance) = &self.worker.instance
            && (instance.is_empty()
                || instance.contains(':')
                || instance.contains(char::is_whitespace))
        {
            return Err(ConfigError::new(
                "worker.instance",
                "must be non-empty, without ':' or spaces",
            ));
        }
        for (key, value) in [
            (
                "microsoft.authority_url",
                Some(&self.microsoft.authority_url),
            ),
            (
                "microsoft.browser_authority_url",
                self.microsoft.browser_authority_url.as_ref(),
            ),
            ("microsoft.graph_url", Some(&self.microsoft.graph_url)),
        ] {
            let Some(value) = value else { continue };
            let url = url::Url::parse(value)
                .map_err(|e| ConfigError::new(key, format!("not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::new(key, "must be an http(s) URL"));
            }
            if self.mode == Mode::Production && url.scheme() != "https" && !is_loopback_host(&url) {
                return Err(ConfigError::new(key, "must use https in production"));
            }
        }
        for network in &self.webhooks.allow_networks {
            if network.parse::<ipnet::IpNet>().is_err() {
                return Err(ConfigError::new(
                    "webhooks.allow_networks",
                    format!("{network} is not a CIDR network"),
                ));
            }
        }
        if !(1..=30).contains(&self.webhooks.default_timeout_secs) {
            return Err(ConfigError::new(
                "webhooks.default_timeout_secs",
                "must be between 1 and 30",
            ));
        }
        if !(1..=24 * 365).contains(&self.webhooks.auto_disable_after_hours) {
            return Err(ConfigError::new(
                "webhooks.auto_disable_after_hours",
                "must be between 1 and 8760",
            ));
        }
        for (key, days) in [
            (
                "webhooks.retention_payload_days",
                self.webhooks.retention_payload_days,
            ),
            (
                "webhooks.retention_attempt_days",
                self.webhooks.retention_attempt_days,
            ),
        ] {
            if !(1..=3650).contains(&days) {
                return Err(ConfigError::new(key, "must be between 1 and 3650 days"));
            }
        }
        if !(1..=1000).contains(&self.webhooks.default_max_in_flight) {
            return Err(ConfigError::new(
                "webhooks.default_max_in_flight",
                "must be between 1 and 1000",
            ));
        }
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
                return Err(ConfigError::new(key, "out of range (see the README)"));
            }
        }
        for network in &i.allow_networks {
            if network.parse::<ipnet::IpNet>().is_err() {
                return Err(ConfigError::new(
                    "ingest.allow_networks",
                    format!("{network} is not a CIDR network"),
                ));
            }
        }
        for network in &self.api.trusted_proxies {
            if network.parse::<ipnet::IpNet>().is_err() {
                return Err(ConfigError::new(
                    "api.trusted_proxies",
                    format!("{network} is not a CIDR network"),
                ));
            }
        }
        let w = &self.webhooks;
        for (key, value, range) in [
            (
                "webhooks.circuit_window_secs",
                w.circuit_window_secs,
                10..=86_400,
            ),
            (
                "webhooks.circuit_min_attempts",
                u64::from(w.circuit_min_attempts),
                1..=100_000,
            ),
            (
                "webhooks.circuit_failure_percent",
                u64::from(w.circuit_failure_percent),
                1..=100,
            ),
            (
                "webhooks.circuit_open_secs",
                w.circuit_open_secs,
                1..=86_400,
            ),
            (
                "webhooks.circuit_max_open_secs",
                w.circuit_max_open_secs,
                1..=86_400,
            ),
        ] {
            if !range.contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("must be between {} and {}", range.start(), range.end()),
                ));
            }
        }
        let s = &self.subscriptions;
        for (key, value, range) in [
            (
                "subscriptions.upkeep_per_tenant",
                u64::from(s.upkeep_per_tenant),
                1..=1_000,
            ),
            (
                "subscriptions.upkeep_batch",
                u64::from(s.upkeep_batch),
                1..=100_000,
            ),
            (
                "subscriptions.upkeep_lease_secs",
                s.upkeep_lease_secs,
                10..=86_400,
            ),
            (
                "subscriptions.retry_initial_secs",
                s.retry_initial_secs,
                1..=86_400,
            ),
            ("subscriptions.retry_max_secs", s.retry_max_secs, 1..=86_400),
            (
                "subscriptions.throttle_default_secs",
                s.throttle_default_secs,
                1..=3_600,
            ),
            (
                "subscriptions.reconcile_interval_secs",
                s.reconcile_interval_secs,
                60..=7 * 86_400,
            ),
            (
                "subscriptions.reconcile_batch",
                u64::from(s.reconcile_batch),
                1..=10_000,
            ),
        ] {
            if !range.contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("must be between {} and {}", range.start(), range.end()),
                ));
            }
        }
        if !(0.2..=0.9).contains(&s.renew_at_fraction) {
            return Err(ConfigError::new(
                "subscriptions.renew_at_fraction",
                "must be between 0.2 and 0.9",
            ));
        }
        if !(0.0..=0.2).contains(&s.renew_jitter_fraction)
            || s.renew_at_fraction + s.renew_jitter_fraction > 0.95
        {
            return Err(ConfigError::new(
                "subscriptions.renew_jitter_fraction",
                "must be between 0 and 0.2, and renew_at_fraction plus it at most 0.95",
            ));
        }
        if let Err(e) = crate::deliveries::schedule::Schedule::from_settings(w) {
            return Err(ConfigError::new(
                "webhooks.retry_schedule_secs",
                e.to_string(),
            ));
        }
        if w.circuit_max_open_secs < w.circuit_open_secs {
            return Err(ConfigError::new(
                "webhooks.circuit_max_open_secs",
                "must not be less than webhooks.circuit_open_secs",
            ));
        }
        if let Some(file) = &self.emulator.state_file
            && file.file_name().is_none()
        {
            return Err(ConfigError::new(
                "emulator.state_file",
                "must name a file (set emulator.persist = false to keep no file)",
            ));
        }
        if self.onboarding.verify_interval_secs == 0 {
            return Err(ConfigError::new(
                "onboarding.verify_interval_secs",
                "must be at least 1",
            ));
        }
        Ok(())
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
