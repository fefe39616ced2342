//! A small TCP proxy a test puts between the app and Postgres or Redis, to simulate an outage
//! that only this test sees: `cut()` drops every connection and refuses new ones; `stall()`
//! keeps connections open but stops forwarding (a server that hangs); `restore()` ends either.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::{AbortHandle, JoinHandle},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Open,
    Stalled,
    Cut,
}

struct Connection {
    upstream_local: SocketAddr,
    task: AbortHandle,
}

struct Shared {
    mode: watch::Sender<Mode>,
    connections: Mutex<Vec<Connection>>,
    held: Mutex<Vec<TcpStream>>,
}

pub struct TcpProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

async fn until(rx: &mut watch::Receiver<Mode>, done: impl Fn(Mode) -> bool) {
    loop {
        if done(*rx.borrow_and_update()) {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

impl TcpProxy {
    /// Listens on 127.0.0.1:0 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            mode: watch::Sender::new(Mode::Open),
            connections: Mutex::new(Vec::new()),
            held: Mutex::new(Vec::new()),
        });
        let accept_shared = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                match *accept_shared.mode.borrow() {
                    Mode::Cut => continue,
                    Mode::Stalled => {
                        accept_shared
                            .held
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(inbound);
                        continue;
                    }
                    Mode::Open => {}
                }
                let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let Ok(upstream_local) = outbound.local_addr() else {
                    continue;
                };
                let mut mode = accept_shared.mode.subscribe();
                let task = tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = until(&mut mode, |m| m != Mode::Open) => {
                            // Stalled: keep both sockets open, forward nothing, until the
                            // stall ends; then (or when cut) drop them.
                            until(&mut mode, |m| m != Mode::Stalled).await;
                        }
                    }
                });
                let mut connections = accept_shared
                    .connections
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                connections.retain(|c| !c.task.is_finished());
                connections.push(Connection {
                    upstream_local,
                    task: task.abort_handle(),
                });
            }
        });
        Ok(Self {
            addr,
            shared,
            accept,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every live connection and refuses new ones.
    pub fn cut(&self) {
        self.shared.mode.send_replace(Mode::Cut);
        self.drop_held();
    }

    /// Keeps every connection open but forwards nothing, and accepts new connections without
    /// ever answering: a server that hangs rather than refuses.
    pub fn stall(&self) {
        self.shared.mode.send_replace(Mode::Stalled);
    }

    /// Forwards new connections again; connections that were stalled are dropped.
    pub fn restore(&self) {
        self.shared.mode.send_replace(Mode::Open);
        self.drop_held();
    }

    /// Drops the connections held open while stalled.
    fn drop_held(&self) {
        self.shared
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The local addresses of the live upstream connections: how the server sees this proxy's
    /// clients (e.g. for Redis `CLIENT KILL ADDR`).
    pub fn upstream_addrs(&self) -> Vec<SocketAddr> {
        let mut connections = self
            .shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections.retain(|c| !c.task.is_finished());
        connections.iter().map(|c| c.upstream_local).collect()
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
        for connection in self
            .shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            connection.task.abort();
        }
    }
}
