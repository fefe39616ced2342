//! Keeps the emulator's world in a file across restarts, so that a developer's `graphhook dev`
//! (or the compose stack) carries on where it stopped: tenants and their users, consent,
//! the app registration, subscriptions, refresh tokens and authorization codes survive, and
//! Graphhook's view of them stays true. The token-signing key needs no saving: it is built in
//! ([`crate::crypto::SigningKey::builtin`]), so tokens signed before a restart still verify.
//!
//! What is not saved: the behaviour switches (the configuration sets them on every start),
//! notifications waiting for delivery or retry and the record of earlier attempts, throttling
//! windows, and the call and token counters. A process killed without stopping may lose the
//! last second of changes.
//!
//! Saving is cheap when nothing happens: taking the world to change it marks it changed
//! (`Shared::world` in the server module); at most once a second a changed world is encoded,
//! and written only when its bytes differ from the last ones written (to a temporary file in
//! the same directory, synced, then renamed over the old one). A file that cannot be read, or
//! that another format version wrote, is left for the next save to replace, and the world
//! starts from the configuration with a warning naming the file.

pub mod snapshot;

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use crate::{shared::Shared, state::World};

/// The longest a change waits before it is written.
const SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// The file a running emulator saves its world to.
pub struct StateFile {
    path: PathBuf,
    /// The bytes last written (or read at start), so an unchanged world is not written again.
    /// Held while a save runs: saves happen one at a time, in the order they encoded.
    written: Mutex<Option<Vec<u8>>>,
}

impl StateFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the saved world, started with `configured` (see [`snapshot::Snapshot::restore`]).
    /// A missing file gives `configured`; so, with a warning, does one that cannot be used.
    pub fn open(path: PathBuf, configured: World) -> (Self, World) {
        let file = |written| Self {
            path: path.clone(),
            written: Mutex::new(written),
        };
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                tracing::info!(file = %path.display(), "no emulator state file yet: a fresh world");
                return (file(None), configured);
            }
            Err(error) => {
                tracing::warn!(file = %path.display(), %error,
                    "cannot read the emulator state file: starting a fresh world, which replaces it");
                return (file(None), configured);
            }
        };
        let unusable = |configured, why: &dyn std::fmt::Display| {
            tracing::warn!(file = %path.display(), %why,
                "cannot use the emulator state file: starting a fresh world, which replaces it");
            (file(None), configured)
        };
        let saved = match snapshot::decode(&bytes) {
            Ok(saved) => saved,
            Err(why) => return unusable(configured, &why),
        };
        match saved.restore(configured) {
            Ok(world) => {
                tracing::info!(
                    file = %path.display(),
                    tenants = world.tenants.len(),
                    subscriptions = world.subscriptions.len(),
                    "emulator world restored"
                );
                (file(Some(bytes)), world)
            }
            Err((configured, why)) => unusable(configured, &why),
        }
    }

    /// Writes the world if it differs from what was last written; whether it wrote.
    pub fn save(&self, shared: &Shared) -> anyhow::Result<bool> {
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes = snapshot::encode(&shared.world_unmarked())?;
        if written.as_deref() == Some(bytes.as_slice()) {
            return Ok(false);
        }
        write_replacing(&self.path, &bytes)?;
        *written = Some(bytes);
        Ok(true)
    }
}

/// Saves the world within [`SAVE_INTERVAL`] of a change, until aborted. The first round
/// writes the file if it is missing or differs from the world just started.
pub fn spawn_saver(
    shared: crate::shared::Data,
    file: Arc<StateFile>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(SAVE_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            interval.tick().await;
            if !shared.take_changed() {
                continue;
            }
            let (s, f) = (shared.clone(), file.clone());
            let result = tokio::task::spawn_blocking(move || f.save(&s))
                .await
                .map_err(anyhow::Error::from)
                .and_then(|saved| saved);
            match result {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!(file = %file.path().display(), "emulator state saved again");
                }
                Ok(_) => {}
                Err(error) => {
                    // Tried again next round; said once.
                    shared.mark_changed();
                    if !failing {
                        tracing::warn!(file = %file.path().display(), error = %format!("{error:#}"),
                            "cannot save the emulator state; retrying every second");
                    }
                    failing = true;
                }
            }
        }
    })
}

/// Replaces `path` with `bytes` so that a reader (or a crash) sees the old file or the new
/// one, never a part: a temporary file beside it, synced, renamed over it. Readable by its
/// owner only (it holds secrets and refresh tokens).
fn write_replacing(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let temporary = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&temporary)?;
    out.write_all(bytes)?;
    out.sync_all()?;
    drop(out);
    fs::rename(&temporary, path)?;
    // The rename itself survives a crash once the directory is synced.
    #[cfg(unix)]
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}
