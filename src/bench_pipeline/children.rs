//! The api and the workers as separate OS processes: this same executable run with `api` and
//! `worker`, pointed by `GRAPHHOOK__…` variables at the benchmark's database and Redis prefix.
//! Their output goes to a file each, so a child that fails to start (or dies during the run) is
//! reported with what it said. They are killed when [`Children`] is dropped, so every way out
//! of the benchmark (an error, a panic, Ctrl-C) ends them.

use std::{
    fs::File,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;

/// How long a child may take to answer its health check (a debug build on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

struct Child {
    name: String,
    process: std::process::Child,
    log: PathBuf,
    /// Answers 200 here once it is up.
    health_url: String,
}

#[derive(Default)]
pub(super) struct Children {
    list: Vec<Child>,
    /// A child failed: its whole output stays on disk, beyond the lines the error quotes.
    keep_logs: bool,
}

/// A free loopback port, for a child to listen on (it binds it a moment later).
pub(super) fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

impl Children {
    /// Starts `graphhook [--config FILE] <subcommand>` with `env` on top of this process's
    /// environment; it is up when `health_url` answers 200 (see [`Children::wait_ready`]).
    pub fn spawn(
        &mut self,
        name: &str,
        subcommand: &str,
        config: Option<&Path>,
        env: &[(String, String)],
        health_url: String,
    ) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let log =
            std::env::temp_dir().join(format!("graphhook-bench-{}-{name}.log", std::process::id()));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut command = Command::new(exe);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        command
            .arg(subcommand)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let process = command
            .spawn()
            .with_context(|| format!("starting the {name}"))?;
        self.list.push(Child {
            name: name.to_owned(),
            process,
            log,
            health_url,
        });
        Ok(())
    }

    /// Waits until every child answers its health check; fails with the output of one that
    /// exited or did not come up in time.
    pub async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + START_TIMEOUT;
        for i in 0..self.list.len() {
            loop {
                self.check_alive()?;
                let url = &self.list[i].health_url;
                if let Ok(response) = http.get(url).send().await
                    && response.status().is_success()
                {
                    break;
                }
                if Instant::now() > deadline {
                    self.keep_logs = true;
                    let child = &self.list[i];
                    anyhow::bail!(
                        "the {} did not answer {url} within {} s; its output:\n{}",
                        child.name,
                        START_TIMEOUT.as_secs(),
                        tail(&child.log)
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// Fails with its output if a child has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for child in &mut self.list {
            if let Some(status) = child.process.try_wait()? {
                self.keep_logs = true;
                anyhow::bail!(
                    "the {} exited ({status}); its output:\n{}",
                    child.name,
                    tail(&child.log)
                );
            }
        }
        Ok(())
    }

    /// Each child's peak resident memory (VmHWM), in MiB.
    pub fn peak_rss(&self) -> Vec<(String, f64)> {
        self.list
            .iter()
            .map(|child| {
                let status =
                    std::fs::read_to_string(format!("/proc/{}/status", child.process.id()))
                        .unwrap_or_default();
                let kib = status
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<f64>().ok())
                    .unwrap_or(0.0);
                (child.name.clone(), kib / 1024.0)
            })
            .collect()
    }

    /// Kills every child and waits for it; their logs go too, unless one failed.
    pub fn stop(&mut self) {
        for mut child in self.list.drain(..) {
            let _ = child.process.kill();
            let _ = child.process.wait();
            if !self.keep_logs {
                let _ = std::fs::remove_file(&child.log);
            }
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last lines a child wrote.
fn tail(log: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(log) {
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(40);
    let shown = lines[from..].join("\n");
    if shown.is_empty() {
        format!("(nothing; log {})", log.display())
    } else {
        format!("{shown}\n(log {})", log.display())
    }
}
