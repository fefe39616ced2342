//! What every handler of the emulator reaches: the world behind one lock (marked changed when
//! written, so the state file is saved only when it must), the clock, the signing key and
//! the outbound routes. Below the server that assembles the app and the saver that persists
//! the world, so both can name it.

use std::{
    ops::{Deref, DerefMut},
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use actix_web::web;
use graphhook_platform::Clock;

use crate::{crypto::SigningKey, state::World};

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
    /// The shared state of a starting emulator: the saver's first round writes a missing or
    /// outdated state file, so the world starts out marked changed.
    pub fn new(
        world: World,
        clock: Clock,
        key: SigningKey,
        base_url: String,
        http: reqwest::Client,
        delivery_routes: Vec<(String, String)>,
    ) -> Self {
        Self {
            world: Mutex::new(world),
            clock,
            key,
            base_url,
            http,
            delivery_routes,
            wake: tokio::sync::Notify::new(),
            changed: AtomicBool::new(true),
        }
    }

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
