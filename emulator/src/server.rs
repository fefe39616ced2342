//! Builds and runs the emulator's HTTP server.

use std::{net::TcpListener, path::Path, sync::Arc, time::Duration};

use actix_web::{App, HttpServer, dev::ServerHandle, web};
use anyhow::Context;
use graphhook_platform::Clock;

use crate::{
    config::EmulatorConfig,
    control,
    crypto::SigningKey,
    delivery, entra, graph,
    persist::{self, StateFile},
    shared::{Data, Shared},
    state::World,
};

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
        let shared = web::Data::new(Shared::new(
            world,
            self.clock,
            SigningKey::builtin()?,
            base_url.clone(),
            http,
            delivery_routes,
        ));
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
