use super::*;
use figment::{Figment, providers::Serialized};
use std::path::Path;

fn dev() -> Settings {
    Settings {
        mode: Mode::Development,
        ..Settings::default()
    }
}

/// The key the first refusal of `s` names; `None` when `s` validates.
fn refused_key(s: &Settings) -> Option<String> {
    s.validate().err().map(|e| e.key)
}

fn key(key: &str) -> Option<String> {
    Some(key.to_owned())
}

#[test]
fn defaults_validate_in_development() {
    assert!(dev().validate().is_ok());
}

/// Production settings with every secret it requires.
fn production() -> Settings {
    let mut s = Settings::default();
    s.admin.signing_key = Some(SecretString::from(
        "a-real-operator-signing-key-0123456789abcdef",
    ));
    s.onboarding.state_key = Some(SecretString::from(
        "a-production-state-key-0123456789abcdef",
    ));
    s.webhooks.encryption_key = Some(SecretString::from(
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    ));
    s.microsoft.client_id = Some("5f1c2b8e-0d3a-4c59-9a7e-3b6f0c1d2e4a".to_owned());
    s.microsoft.client_secret = Some(SecretString::from("a-client-secret"));
    s
}

#[test]
fn production_with_every_secret_validates() {
    assert!(production().validate().is_ok());
}

#[test]
fn production_names_a_missing_or_development_secret() {
    let cases: [(Change, &str); 3] = [
        (|s| s.admin.signing_key = None, "admin.signing_key"),
        (
            |s| s.admin.signing_key = Some(SecretString::from(DEV_ADMIN_SIGNING_KEY)),
            "admin.signing_key",
        ),
        (|s| s.onboarding.state_key = None, "onboarding.state_key"),
    ];
    for (change, secret) in cases {
        let mut s = production();
        change(&mut s);
        assert_eq!(refused_key(&s), key(secret));
    }
}

#[test]
fn production_reports_every_missing_secret_at_once_with_what_to_set() {
    let s = Settings::default();
    let err = s.validate().expect_err("production without secrets");
    assert_eq!(
        err.key,
        "admin.signing_key, onboarding.state_key, webhooks.encryption_key, \
         microsoft.client_id, microsoft.client_secret"
    );
    let text = err.to_string();
    for variable in [
        "GRAPHHOOK__ADMIN__SIGNING_KEY",
        "GRAPHHOOK__ONBOARDING__STATE_KEY",
        "GRAPHHOOK__WEBHOOKS__ENCRYPTION_KEY",
        "GRAPHHOOK__MICROSOFT__CLIENT_ID",
        "GRAPHHOOK__MICROSOFT__CLIENT_SECRET",
    ] {
        assert!(text.contains(variable), "{variable} in: {text}");
    }
    assert!(text.contains("5 secrets need attention"), "{text}");
    // Development has fallbacks for all of them.
    assert!(dev().validate().is_ok());
}

#[test]
fn a_malformed_secret_is_reported_with_the_missing_ones() {
    let mut s = Settings::default();
    s.webhooks.encryption_key = Some(SecretString::from("too short"));
    s.microsoft.client_id = Some("5f1c2b8e-0d3a-4c59-9a7e-3b6f0c1d2e4a".to_owned());
    s.microsoft.client_certificate = Some("-----BEGIN CERTIFICATE-----".to_owned());
    let err = s.validate().expect_err("bad secrets");
    assert_eq!(
        err.key,
        "admin.signing_key, onboarding.state_key, webhooks.encryption_key, \
         microsoft.client_private_key"
    );
    assert!(err.message.contains("standard base64 of 32 bytes"), "{err}");
    assert!(
        !err.message.contains("too short"),
        "a secret's value is never shown: {err}"
    );
}

#[test]
fn production_accepts_a_client_certificate_instead_of_a_client_secret() {
    let mut s = production();
    s.microsoft.client_secret = None;
    assert_eq!(refused_key(&s), key("microsoft.client_secret"));
    s.microsoft.client_certificate = Some("-----BEGIN CERTIFICATE-----".to_owned());
    s.microsoft.client_private_key = Some(SecretString::from("-----BEGIN PRIVATE KEY-----"));
    assert!(s.validate().is_ok());
}

#[test]
fn a_bad_database_url_names_the_key() {
    let mut s = dev();
    s.database.url = SecretString::from("mysql://x/y");
    assert_eq!(refused_key(&s), key("database.url"));
}

#[test]
fn a_redis_prefix_with_a_colon_is_refused() {
    let mut s = dev();
    s.redis.key_prefix = "a:b".into();
    assert_eq!(refused_key(&s), key("redis.key_prefix"));
}

#[test]
fn secrets_do_not_appear_in_debug_output() {
    let mut s = dev();
    s.database.url = SecretString::from("postgres://u:hunter2@h/db");
    s.admin.signing_key = Some(SecretString::from("operator-token-1234567890"));
    let shown = format!("{s:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("operator-token"), "{shown}");
}

/// Settings loaded from a file holding `contents` alone (no environment).
fn load_file(contents: &str) -> Result<Settings, ConfigError> {
    let dir = std::env::temp_dir().join(format!("graphhook-cfg-{}", uuid::Uuid::new_v4()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("graphhook.toml");
    let _ = std::fs::write(&file, contents);
    let loaded = Settings::load(Sources {
        file: Some(&file),
        environment: false,
        force_mode: None,
    });
    let _ = std::fs::remove_dir_all(&dir);
    loaded
}

/// The file (if any) and the environment, in the mode they say unless `force_mode`.
fn with_environment(file: Option<&Path>, force_mode: Option<Mode>) -> Sources<'_> {
    Sources {
        file,
        environment: true,
        force_mode,
    }
}

/// Runs `test` in a figment jail (an environment and a directory of its own) whose
/// `graphhook.toml` holds `contents`; `test` is given the file's path.
#[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
fn with_file(
    contents: &str,
    test: impl FnOnce(&mut figment::Jail, &Path) -> figment::error::Result<()>,
) {
    figment::Jail::expect_with(|jail| {
        jail.create_file("graphhook.toml", contents)?;
        test(jail, Path::new("graphhook.toml"))
    });
}

/// The key the first refusal of loading `sources` names; `None` when they load.
fn load_refused(sources: Sources<'_>) -> Option<String> {
    Settings::load(sources).err().map(|e| e.key)
}

#[test]
fn a_file_value_of_the_wrong_type_names_the_key() {
    let err = load_file("mode = \"development\"\n[worker]\nconcurrency = \"many\"\n");
    assert_eq!(err.err().map(|e| e.key), key("worker.concurrency"));
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
fn environment_variables_override_the_file_and_a_bad_one_names_its_key() {
    with_file(
        "mode = \"development\"\n[worker]\nconcurrency = 2\n",
        |jail, file| {
            jail.set_env("GRAPHHOOK__WORKER__CONCURRENCY", "3");
            jail.set_env("GRAPHHOOK__API__PUBLIC_BASE_URL", "http://127.0.0.1:9999");
            let sources = || with_environment(Some(file), None);
            let settings = Settings::load(sources()).map_err(|e| e.to_string())?;
            assert_eq!(settings.mode, Mode::Development);
            assert_eq!(settings.worker.concurrency, 3);
            assert_eq!(settings.api.public_base_url, "http://127.0.0.1:9999");

            jail.set_env("GRAPHHOOK__API__LISTEN", "not-an-address");
            assert_eq!(load_refused(sources()), key("api.listen"));
            Ok(())
        },
    );
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
fn an_empty_variable_counts_as_unset() {
    with_file(
        "mode = \"production\"\n[worker]\nconcurrency = 2\n",
        |jail, file| {
            // What compose passes for a secret the operator did not set: `${VAR:-}`.
            jail.set_env("GRAPHHOOK__WORKER__CONCURRENCY", "");
            jail.set_env("GRAPHHOOK__ONBOARDING__STATE_KEY", "");
            jail.set_env("GRAPHHOOK__MICROSOFT__BROWSER_AUTHORITY_URL", "");
            let err = Settings::load(with_environment(Some(file), None))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            // Missing, as if never set, rather than "must be at least 32 characters".
            assert!(
                err.contains("onboarding.state_key") && err.contains("is required in production"),
                "{err}"
            );
            let settings = Settings::load(with_environment(Some(file), Some(Mode::Development)))
                .map_err(|e| e.to_string())?;
            assert_eq!(settings.worker.concurrency, 2, "the file's value stands");
            assert!(settings.onboarding.state_key.is_none());
            assert!(settings.microsoft.browser_authority_url.is_none());
            Ok(())
        },
    );
}

#[test]
fn an_unknown_key_in_a_file_is_refused() {
    let err = load_file("mode = \"development\"\n[api]\nlisten_on = \"x\"\n");
    let message = err.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("listen_on"), "{message}");
}

type Change = fn(&mut Settings);

/// Development settings with each dotted key set to its value, as a file or variable sets it.
fn dev_with(values: &[(&str, i64)]) -> Settings {
    let mut figment = Figment::new().merge(Serialized::default("mode", Mode::Development));
    for (key, value) in values {
        figment = figment.merge(Serialized::default(key, value));
    }
    figment.extract().expect("settings of the right types")
}

#[test]
fn delivery_health_and_retention_bounds_name_the_key() {
    let cases = [
        ("webhooks.auto_disable_after_hours", 0),
        ("webhooks.circuit_failure_percent", 101),
        ("webhooks.circuit_min_attempts", 0),
        ("webhooks.circuit_window_secs", 5),
        ("webhooks.circuit_max_open_secs", 30),
        ("worker.replay_concurrency", 0),
        ("worker.delivery_concurrency", 0),
        ("worker.watchdog_stall_secs", 1),
        ("webhooks.retention_payload_days", 0),
        ("webhooks.retention_attempt_days", 4000),
    ];
    for (bad, value) in cases {
        assert_eq!(
            refused_key(&dev_with(&[(bad, value)])),
            key(bad),
            "{bad} = {value}"
        );
    }
    // Within its own bounds, but not twice the heartbeat.
    let stall = dev_with(&[
        ("worker.heartbeat_interval_secs", 30),
        ("worker.watchdog_stall_secs", 45),
    ]);
    assert_eq!(refused_key(&stall), key("worker.watchdog_stall_secs"));
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
fn the_retry_schedule_has_one_to_twenty_delays_of_a_second_to_a_day() {
    assert_eq!(
        dev().webhooks.retry_schedule_secs,
        [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400]
    );
    let mut s = dev();
    s.webhooks.retry_schedule_secs = vec![1; 20];
    assert!(s.validate().is_ok());
    s.webhooks.retry_schedule_secs = vec![86_400];
    assert!(s.validate().is_ok());
    for bad in [vec![], vec![1; 21], vec![0], vec![-5], vec![60, 86_401]] {
        let mut s = dev();
        s.webhooks.retry_schedule_secs = bad.clone();
        let err = s.validate().err();
        assert_eq!(
            err.as_ref().map(|e| e.key.as_str()),
            Some("webhooks.retry_schedule_secs"),
            "{bad:?}"
        );
    }
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
fn the_retry_schedule_is_read_from_the_file_and_the_environment() {
    with_file(
        "mode = \"development\"\n[webhooks]\nretry_schedule_secs = [10, 60]\n",
        |jail, file| {
            let sources = || with_environment(Some(file), None);
            let settings = Settings::load(sources()).map_err(|e| e.to_string())?;
            assert_eq!(settings.webhooks.retry_schedule_secs, [10, 60]);

            jail.set_env(
                "GRAPHHOOK__WEBHOOKS__RETRY_SCHEDULE_SECS",
                "[30, 300, 3600]",
            );
            let settings = Settings::load(sources()).map_err(|e| e.to_string())?;
            assert_eq!(settings.webhooks.retry_schedule_secs, [30, 300, 3_600]);

            jail.set_env("GRAPHHOOK__WEBHOOKS__RETRY_SCHEDULE_SECS", "[30, 0]");
            assert_eq!(load_refused(sources()), key("webhooks.retry_schedule_secs"));
            jail.set_env("GRAPHHOOK__WEBHOOKS__RETRY_SCHEDULE_SECS", "soon");
            assert_eq!(load_refused(sources()), key("webhooks.retry_schedule_secs"));
            Ok(())
        },
    );
}

#[test]
fn a_command_is_asked_only_for_the_production_secrets_it_uses() {
    let bare = Settings::default();
    assert_eq!(bare.mode, Mode::Production);
    // `migrate status` needs none; everything else is still checked.
    assert!(bare.validate_needing(Some(&[])).is_ok());
    assert!(bare.validate().is_err());
    // `admin token` needs the operator signing key, and only that.
    let err = bare
        .validate_needing(Some(&["admin.signing_key"]))
        .unwrap_err();
    assert_eq!(err.key, "admin.signing_key");
    let mut keyed = Settings::default();
    keyed.admin.signing_key = Some(SecretString::from(
        "a-real-operator-signing-key-0123456789abcdef",
    ));
    assert!(keyed.validate_needing(Some(&["admin.signing_key"])).is_ok());
    // A secret that is set must be usable, needed or not.
    let mut malformed = Settings::default();
    malformed.onboarding.state_key = Some(SecretString::from("short"));
    let err = malformed.validate_needing(Some(&[])).unwrap_err();
    assert_eq!(err.key, "onboarding.state_key");
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
fn the_emulators_state_file_is_on_by_default_and_can_be_moved_or_turned_off() {
    figment::Jail::expect_with(|jail| {
        let sources = || with_environment(None, Some(Mode::Development));
        let settings = Settings::load(sources()).map_err(|e| e.to_string())?;
        assert!(settings.emulator.persist);
        assert_eq!(settings.emulator.state_file, None, "derived by dev");

        jail.set_env("GRAPHHOOK__EMULATOR__STATE_FILE", "/tmp/emulator.json");
        jail.set_env("GRAPHHOOK__EMULATOR__PERSIST", "false");
        let settings = Settings::load(sources()).map_err(|e| e.to_string())?;
        assert_eq!(
            settings.emulator.state_file.as_deref(),
            Some(Path::new("/tmp/emulator.json"))
        );
        assert!(!settings.emulator.persist);

        jail.set_env("GRAPHHOOK__EMULATOR__STATE_FILE", "/");
        assert_eq!(load_refused(sources()), key("emulator.state_file"));
        Ok(())
    });
}

mod sections;
