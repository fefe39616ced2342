//! Loading settings: built-in defaults, then the optional TOML file, then `GRAPHHOOK__…`
//! environment variables, then validation.

use std::path::Path;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};

use super::{ConfigError, Mode, Settings};

/// Where settings come from, lowest priority first.
pub struct Sources<'a> {
    pub file: Option<&'a Path>,
    /// Read `GRAPHHOOK__…` variables from the process environment.
    pub environment: bool,
    /// Forces the mode (the `dev` subcommand forces development).
    pub force_mode: Option<Mode>,
}

impl Settings {
    /// Loads and validates settings.
    pub fn load(sources: Sources<'_>) -> Result<Self, ConfigError> {
        Self::load_needing(sources, None)
    }

    /// [`Settings::load`] for a command that uses only the production secrets in `needed`.
    pub fn load_needing(
        sources: Sources<'_>,
        needed: Option<&[&str]>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(file) = sources.file {
            if !file.exists() {
                return Err(ConfigError::new(
                    "config file",
                    format!("{} does not exist", file.display()),
                ));
            }
            figment = figment.merge(Toml::file(file));
        }
        if sources.environment {
            // An empty variable counts as unset, so a deployment tool that always passes a
            // variable (compose's `${VAR:-}`) leaves the default or the production check in
            // charge instead of setting an empty value.
            let empty: Vec<String> = std::env::vars_os()
                .filter_map(|(name, value)| {
                    let name = name.into_string().ok()?;
                    let rest = name.strip_prefix("GRAPHHOOK__")?;
                    value.is_empty().then(|| rest.to_ascii_uppercase())
                })
                .collect();
            figment = figment.merge(
                Env::prefixed("GRAPHHOOK__")
                    .filter(move |key| !empty.contains(&key.as_str().to_ascii_uppercase()))
                    .split("__"),
            );
        }
        if let Some(mode) = sources.force_mode {
            figment = figment.merge(Serialized::default("mode", mode));
        }
        let settings: Settings = figment.extract().map_err(|e| {
            let key = if e.path.is_empty() {
                "settings".to_owned()
            } else {
                e.path.join(".")
            };
            ConfigError {
                key,
                message: e.kind.to_string(),
            }
        })?;
        settings.validate_needing(needed)?;
        Ok(settings)
    }
}
