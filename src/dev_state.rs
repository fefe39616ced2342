//! Where `graphhook dev` keeps its emulator's world across restarts (see
//! `graphhook_emulator::persist`), and when it starts that world afresh. The file lives beside
//! the database in spirit: one per database name, so that two databases never share a world,
//! and a file that outlived its database is removed before it can meet a new one (whose
//! subscriptions and tenants would otherwise disagree with it).

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use graphhook_domain::Settings;
use secrecy::ExposeSecret;

/// The emulator's state file for `dev`, or None when `emulator.persist` is off. With a new
/// database (`new_database`: no migration applied yet) a file left from before is removed
/// first, so the emulator starts a fresh world.
pub fn prepare(settings: &Settings, new_database: bool) -> anyhow::Result<Option<PathBuf>> {
    let Some(file) = state_file(settings) else {
        return Ok(None);
    };
    if discard_for_new_database(&file, new_database)? {
        tracing::info!(file = %file.display(),
            "a new database: the emulator's world saved for an earlier one was removed");
    }
    Ok(Some(file))
}

/// `emulator.state_file`, or the default for the database [`default_state_file`] names.
fn state_file(settings: &Settings) -> Option<PathBuf> {
    if !settings.emulator.persist {
        return None;
    }
    if let Some(file) = &settings.emulator.state_file {
        return Some(file.clone());
    }
    Some(default_state_file(
        &database_name(settings.database.url.expose_secret()),
        std::env::var_os("XDG_STATE_HOME"),
        std::env::var_os("HOME"),
        &std::env::temp_dir(),
    ))
}

/// `$XDG_STATE_HOME/graphhook/emulator-{database}.json`, else the same under
/// `$HOME/.local/state`, else under the temporary directory. As the XDG base directory rules
/// say, an empty or relative variable counts as unset.
pub fn default_state_file(
    database: &str,
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
    temp: &Path,
) -> PathBuf {
    let absolute = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    let base = absolute(xdg_state_home)
        .or_else(|| absolute(home).map(|home| home.join(".local").join("state")))
        .unwrap_or_else(|| temp.to_owned());
    let name: String = database
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    base.join("graphhook").join(format!("emulator-{name}.json"))
}

/// The database a `postgres://…/name` URL names (validated at start-up to name one).
fn database_name(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().trim_start_matches('/').to_owned())
        .unwrap_or_default()
}

/// Removes `file` when the database is new; whether there was one to remove.
fn discard_for_new_database(file: &Path, new_database: bool) -> std::io::Result<bool> {
    if !new_database {
        return Ok(false);
    }
    match std::fs::remove_file(file) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn the_default_file_is_named_after_the_database_under_the_state_home() {
        let temp = Path::new("/tmp");
        let file = |xdg: Option<&str>, home: Option<&str>| {
            default_state_file("graphhook", xdg.map(Into::into), home.map(Into::into), temp)
        };
        assert_eq!(
            file(Some("/xdg/state"), Some("/home/ana")),
            Path::new("/xdg/state/graphhook/emulator-graphhook.json")
        );
        for unset in [None, Some(""), Some("relative/state")] {
            assert_eq!(
                file(unset, Some("/home/ana")),
                Path::new("/home/ana/.local/state/graphhook/emulator-graphhook.json"),
                "XDG_STATE_HOME {unset:?}"
            );
        }
        assert_eq!(
            file(None, None),
            Path::new("/tmp/graphhook/emulator-graphhook.json")
        );
        assert_eq!(
            default_state_file("../odd name", None, None, temp),
            Path::new("/tmp/graphhook/emulator-.._odd_name.json"),
            "one file name, whatever the database is called"
        );
    }

    #[test]
    fn the_database_name_comes_from_the_url() {
        assert_eq!(
            database_name("postgres://postgres:secret@127.0.0.1:5432/graphhook_dev"),
            "graphhook_dev"
        );
    }

    #[test]
    fn settings_choose_the_file_or_none() {
        let mut settings = Settings::default();
        settings.emulator.state_file = Some(PathBuf::from("/srv/emulator.json"));
        assert_eq!(
            state_file(&settings).as_deref(),
            Some(Path::new("/srv/emulator.json"))
        );
        settings.emulator.persist = false;
        assert_eq!(state_file(&settings), None);
        settings.emulator.state_file = None;
        settings.emulator.persist = true;
        let derived = state_file(&settings).unwrap();
        assert!(
            derived.ends_with("graphhook/emulator-graphhook.json"),
            "{derived:?}"
        );
    }

    #[test]
    fn a_new_database_discards_the_world_saved_for_an_earlier_one() {
        let dir = std::env::temp_dir().join(format!("graphhook-dev-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("emulator-graphhook.json");
        let mut settings = Settings::default();
        settings.emulator.state_file = Some(file.clone());

        std::fs::write(&file, "{\"format\": 1}").unwrap();
        assert_eq!(prepare(&settings, false).unwrap(), Some(file.clone()));
        assert!(file.exists(), "the same database carries on with its world");

        assert_eq!(prepare(&settings, true).unwrap(), Some(file.clone()));
        assert!(!file.exists(), "a new database starts a fresh world");
        assert_eq!(
            prepare(&settings, true).unwrap(),
            Some(file.clone()),
            "nothing to discard is fine"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
