//! The secrets production cannot run without, checked together: a deployment missing four of
//! them hears about all four at its first start, not one per start.

use secrecy::{ExposeSecret, SecretString};

use super::{ConfigError, DEV_ADMIN_SIGNING_KEY, Mode, Settings};

/// One secret's problem: its key, the variable that sets it, what is wrong.
struct Problem {
    key: &'static str,
    message: String,
    /// Missing (rather than unusable): only what a command needs must be there.
    missing: bool,
}

fn env_var(key: &str) -> String {
    format!("GRAPHHOOK__{}", key.to_ascii_uppercase().replace('.', "__"))
}

fn missing(key: &'static str, what: &str) -> Problem {
    Problem {
        key,
        message: format!(
            "is required in production mode: {what} (set {} or `{key}` in the settings file)",
            env_var(key)
        ),
        missing: true,
    }
}

fn invalid(key: &'static str, message: &str) -> Problem {
    Problem {
        key,
        message: message.to_owned(),
        missing: false,
    }
}

/// A key that signs something: at least 32 characters, and required in production.
fn signing_key(
    key: &'static str,
    value: Option<&SecretString>,
    production: bool,
    signs: &str,
) -> Option<Problem> {
    match value {
        Some(value) if value.expose_secret().len() < 32 => {
            Some(invalid(key, "must be at least 32 characters"))
        }
        None if production => Some(missing(
            key,
            &format!("it signs {signs}; at least 32 random characters"),
        )),
        _ => None,
    }
}

impl Settings {
    /// Every missing or unusable production secret, in one error whose `key` lists them all
    /// (comma-separated) and whose message says, per secret, what to set. Malformed secrets are
    /// refused in every mode; missing ones only in production (development has fallbacks).
    ///
    /// `needed`: the secrets the command at hand uses (`None`: all of them); production asks
    /// only for those (`graphhook migrate status` needs none, `graphhook admin token` only
    /// `admin.signing_key`).
    pub(super) fn check_secrets(&self, needed: Option<&[&str]>) -> Result<(), ConfigError> {
        let production = self.mode == Mode::Production;
        let mut problems = self.key_problems(production);
        problems.extend(self.microsoft_problems(production));
        if let Some(needed) = needed {
            problems.retain(|p| !p.missing || needed.contains(&p.key));
        }
        match problems.len() {
            0 => Ok(()),
            1 => {
                let Problem { key, message, .. } = problems.remove(0);
                Err(ConfigError::new(key, message))
            }
            n => {
                let keys: Vec<&str> = problems.iter().map(|p| p.key).collect();
                let lines: Vec<String> = problems
                    .iter()
                    .map(|p| format!("\n  - {}: {}", p.key, p.message))
                    .collect();
                Err(ConfigError::new(
                    &keys.join(", "),
                    format!("{n} secrets need attention:{}", lines.concat()),
                ))
            }
        }
    }

    /// Graphhook's own keys: the operator-token signing key, the onboarding state key, the
    /// encryption key.
    fn key_problems(&self, production: bool) -> Vec<Problem> {
        let admin_key = self.admin.signing_key.as_ref();
        let mut problems = Vec::new();
        problems.extend(signing_key(
            "admin.signing_key",
            admin_key,
            production,
            "operator tokens",
        ));
        if production && admin_key.is_some_and(|key| key.expose_secret() == DEV_ADMIN_SIGNING_KEY) {
            problems.push(invalid(
                "admin.signing_key",
                "is the public development key; set a secret one in production",
            ));
        }
        let state_key = self.onboarding.state_key.as_ref();
        problems.extend(signing_key(
            "onboarding.state_key",
            state_key,
            production,
            "onboarding states",
        ));
        match &self.webhooks.encryption_key {
            Some(key) if crate::delivery::webhooks::crypt::SecretBox::new(key).is_err() => {
                problems.push(invalid(
                    "webhooks.encryption_key",
                    "must be standard base64 of 32 bytes",
                ));
            }
            None if production => problems.push(missing(
                "webhooks.encryption_key",
                "it encrypts endpoint secrets and headers; `openssl rand -base64 32`",
            )),
            _ => {}
        }
        problems
    }

    /// The app registration's id and credential.
    fn microsoft_problems(&self, production: bool) -> Vec<Problem> {
        let mut problems = Vec::new();
        let microsoft = &self.microsoft;
        if production && microsoft.client_id.is_none() {
            problems.push(missing(
                "microsoft.client_id",
                "the application (client) id of Graphhook's app registration",
            ));
        }
        match (
            &microsoft.client_secret,
            &microsoft.client_certificate,
            &microsoft.client_private_key,
        ) {
            (_, Some(_), None) => problems.push(invalid(
                "microsoft.client_private_key",
                "is required with microsoft.client_certificate",
            )),
            (_, None, Some(_)) => problems.push(invalid(
                "microsoft.client_certificate",
                "is required with microsoft.client_private_key",
            )),
            (None, None, None) if production => problems.push(missing(
                "microsoft.client_secret",
                "the app registration's client secret (or set microsoft.client_certificate and microsoft.client_private_key instead)",
            )),
            _ => {}
        }
        problems
    }
}
