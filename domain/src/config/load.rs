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
            figment = figment.merge(Env::prefixed("GRAPHHOOK__").split("__"));
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
