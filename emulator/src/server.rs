//! Builds and runs the emulator's HTTP server.

use std::{
    net::TcpListener,
    ops::{Deref, DerefMut},
    path::Path,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use actix_web::{App, HttpServer, dev::ServerHandle, web};
use anyhow::Context;
use graphhook_platform::Clock;

use crate::{
    config::EmulatorConfig,
    control,
    crypto::SigningKey,
    delivery, entra, graph,
    persist::{self, StateFile},
    state::World,
};

/// What every handler reaches.
pub struct Shared {
    world: Mutex<World>,
    pub clock: Clock,
    pub key: SigningKey,
    /// The base URL clients use (the "login.microsoftonline.com" and "graph.microsoft.com" of
    /// the emulator).
    pub base_url: String,
    /// For validation requests and notification POSTs: no redirects, no proxy from the
    /// environment.
    pub http: reqwest::Client,
    /// `EmulatorConfig::deliver_via`, parsed.
    pub delivery_routes: Vec<(String, String)>,
    /// Wakes the delivery loop (notifications queued, a POST ended).
    pub wake: tokio::sync::Notify,
    /// Whether the world may have changed since the state file's saver last looked.
    changed: AtomicBool,
}

/// The locked world; taking it to change it marks it changed, for the state file.
pub struct WorldGuard<'a> {
    world: MutexGuard<'a, World>,
    changed: &'a AtomicBool,
}

impl Deref for WorldGuard<'_> {
    type Target = World;

    fn deref(&self) -> &World {
        &self.world
    }
}

impl DerefMut for WorldGuard<'_> {
    fn deref_mut(&mut self) -> &mut World {
        self.changed.store(true, Ordering::Release);
        &mut self.world
    }
}

impl Shared {
    /// Where a request Graph sends to `url` really goes (`deliver_via`).
    pub fn outbound_url(&self, url: &str) -> String {
        for (from, to) in &self.delivery_routes {
            if let Some(rest) = url.strip_prefix(from.as_str()) {
                return format!("{to}{rest}");
            }
        }
        url.to_owned()
    }

    pub fn world(&self) -> WorldGuard<'_> {
        WorldGuard {
            world: self.world_unmarked(),
            changed: &self.changed,
        }
    }

    /// The world, without marking it changed. For the delivery loop, which takes it every few
    /// milliseconds and mostly changes what is not saved (queues, attempts, throttling): it
    /// calls [`Shared::mark_changed`] when it changes what is. And for the saver itself.
    pub fn world_unmarked(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn mark_changed(&self) {
        self.changed.store(true, Ordering::Release);
    }

    /// Whether the world may have changed since the last call.
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::AcqRel)
    }

    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base_url)
    }
}

pub type Data = web::Data<Shared>;

pub struct Emulator {
    config: EmulatorConfig,
    clock: Clock,
}

/// A running emulator; dropping it does not stop it, [`RunningEmulator::stop`] does.
pub struct RunningEmulator {
    pub port: u16,
    /// e.g. `http://127.0.0.1:8090`: the Entra authority and the Graph host.
    pub base_url: String,
    shared: Data,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    deliveries: tokio::task::JoinHandle<()>,
    state: Option<Saving>,
}

/// The state file and the task that saves to it.
struct Saving {
    file: Arc<StateFile>,
    saver: tokio::task::JoinHandle<()>,
}

impl Emulator {
    pub fn new(config: EmulatorConfig, clock: Clock) -> Self {
        Self { config, clock }
    }

    /// Binds `config.listen` (port 0 picks a free port) and starts serving.
    pub async fn spawn(self) -> anyhow::Result<RunningEmulator> {
        let listener = TcpListener::bind(self.config.listen)
            .with_context(|| format!("binding the emulator to {}", self.config.listen))?;
        let bound = listener.local_addr()?;
        let base_url = self.config.base_url(bound);
        graphhook_platform::tls::install_crypto_provider();
        let world = World::from_config(&self.config, self.clock.now())?;
        let delivery_routes = self.config.delivery_routes()?;
        let (file, world) = match self.config.state_file.clone() {
            Some(path) => {
                let (file, world) = StateFile::open(path, world);
                (Some(Arc::new(file)), world)
            }
            None => (None, world),
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        let shared = web::Data::new(Shared {
            world: Mutex::new(world),
            clock: self.clock,
            key: SigningKey::builtin()?,
            base_url: base_url.clone(),
            http,
            delivery_routes,
            wake: tokio::sync::Notify::new(),
            // The first round of the saver writes a missing or outdated file.
            changed: AtomicBool::new(true),
        });
        let data = shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::FormConfig::default().limit(64 * 1024))
                .app_data(web::JsonConfig::default().limit(1024 * 1024))
                .configure(control::configure)
                .configure(graph::configure)
                .configure(entra::configure)
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(2)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        let deliveries = delivery::engine::spawn(shared.clone());
        let state = file.map(|file| Saving {
            saver: persist::spawn_saver(shared.clone(), file.clone()),
            file,
        });
        tracing::info!(%base_url, "emulator listening");
        Ok(RunningEmulator {
            port: bound.port(),
            base_url,
            shared,
            handle,
            task,
            deliveries,
            state,
        })
    }
}

impl RunningEmulator {
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Runs a closure on the emulator's state (for tests and embedding).
    pub fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut self.shared.world())
    }

    /// Where the world is saved, if anywhere.
    pub fn state_file(&self) -> Option<&Path> {
        self.state.as_ref().map(|s| s.file.path())
    }

    /// Saves the world now if it differs from the state file; whether it wrote (false too
    /// without a state file).
    pub async fn save_state(&self) -> anyhow::Result<bool> {
        match &self.state {
            Some(state) => save(&self.shared, &state.file).await,
            None => Ok(false),
        }
    }

    /// Stops serving, then saves the world a last time.
    pub async fn stop(self) {
        self.deliveries.abort();
        self.handle.stop(true).await;
        let _ = self.task.await;
        final_save(&self.shared, self.state).await;
    }

    /// Serves until the server stops, then saves the world a last time.
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.task.await;
        self.deliveries.abort();
        final_save(&self.shared, self.state).await;
        result.context("emulator task")?.context("emulator server")
    }

    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }
}

async fn save(shared: &Data, file: &Arc<StateFile>) -> anyhow::Result<bool> {
    let (shared, file) = (shared.clone(), file.clone());
    tokio::task::spawn_blocking(move || file.save(&shared)).await?
}

async fn final_save(shared: &Data, state: Option<Saving>) {
    let Some(state) = state else { return };
    state.saver.abort();
    if let Err(error) = save(shared, &state.file).await {
        tracing::warn!(file = %state.file.path().display(), error = %format!("{error:#}"),
            "cannot save the emulator state on stop");
    }
}
