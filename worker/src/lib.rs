//! Graphhook's background work (apalis on Redis) as a library.
//!
//! `jobs` holds one module per job with a plain `run` function that tests can call directly;
//! `monitor` wires them to apalis workers with explicit queue names and the settings that keep
//! apalis-redis alive through restarts and Redis blips; `ticker` schedules periodic work once
//! per tick across any number of processes; `watchdog` restarts a lane (a queue's worker) that
//! stops making progress without dying; `http` serves the worker's `/healthz` and `/metrics`;
//! `drain` runs queued jobs deterministically for tests.

// A function longer than clippy.toml's `too-many-lines-threshold` is split into steps that
// say what they do; tests may run long.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

pub mod drain;
pub mod http;
pub mod jobs;
pub mod maintenance;
pub mod monitor;
pub mod ticker;
pub mod wake;
pub mod watchdog;

pub use monitor::WorkerProcess;
