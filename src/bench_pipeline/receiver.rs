//! The tenants' receivers: one listener per endpoint (its own port, so the sender's connection
//! pool sees separate endpoints, as it would across tenants' hosts), all served by one
//! actix-web server. Each webhook's Standard Webhooks signature is checked with its endpoint's
//! secret by the reference verifier (the `standardwebhooks` crate, not our signing code), then
//! its arrival is written to the ledger; each accepted TCP connection is counted per endpoint.

use std::{
    any::Any,
    collections::HashMap,
    net::TcpListener,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use actix_web::{HttpRequest, HttpResponse, HttpServer, dev::Extensions, web};
use anyhow::Context;
use graphhook_domain::delivery::webhooks::secrets::HmacSecret;

use super::{EVENT_TYPE, ledger::Ledger, load::seq_of};

/// The listeners, bound before the endpoints are created (their URLs need the ports).
pub(super) struct Listeners {
    listeners: Vec<TcpListener>,
    pub ports: Vec<u16>,
}

impl Listeners {
    pub fn bind(count: usize) -> anyhow::Result<Self> {
        let mut listeners = Vec::with_capacity(count);
        let mut ports = Vec::with_capacity(count);
        for _ in 0..count {
            let listener = TcpListener::bind("127.0.0.1:0").context("binding a receiver")?;
            ports.push(listener.local_addr()?.port());
            listeners.push(listener);
        }
        Ok(Self { listeners, ports })
    }
}

/// Which endpoint a connection came in on (stored with the connection).
#[derive(Clone, Copy)]
struct Endpoint(usize);

struct Shared {
    ledger: Arc<Ledger>,
    verifiers: Vec<standardwebhooks::Webhook>,
}

pub(super) struct Receivers {
    /// TCP connections accepted, per endpoint.
    connections: Arc<Vec<AtomicU64>>,
    handle: actix_web::dev::ServerHandle,
}

impl Receivers {
    /// Serves `listeners`, the i-th verifying with `secrets[i]`.
    pub fn start(
        listeners: Listeners,
        secrets: &[HmacSecret],
        ledger: Arc<Ledger>,
    ) -> anyhow::Result<Self> {
        let verifiers = secrets
            .iter()
            .map(|s| standardwebhooks::Webhook::new(&s.expose()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("an endpoint secret the verifier refuses: {e:?}"))?;
        let shared = web::Data::new(Shared { ledger, verifiers });
        let by_port: Arc<HashMap<u16, usize>> = Arc::new(
            listeners
                .ports
                .iter()
                .enumerate()
                .map(|(i, port)| (*port, i))
                .collect(),
        );
        let connections: Arc<Vec<AtomicU64>> =
            Arc::new(listeners.ports.iter().map(|_| AtomicU64::new(0)).collect());
        let counted = connections.clone();
        let mut server = HttpServer::new(move || {
            actix_web::App::new()
                .app_data(shared.clone())
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(receive))
        })
        .workers(1)
        // Idle connections stay open as long as behind nginx (75 s), not actix-web's 5 s: the
        // connection counts then show how the sender pools, not how soon the receiver hangs up.
        .keep_alive(std::time::Duration::from_secs(75))
        .disable_signals()
        .on_connect(move |io: &dyn Any, extensions: &mut Extensions| {
            let port = io
                .downcast_ref::<actix_web::rt::net::TcpStream>()
                .and_then(|stream| stream.local_addr().ok())
                .map(|addr| addr.port());
            if let Some(&i) = port.and_then(|port| by_port.get(&port)) {
                counted[i].fetch_add(1, Ordering::Relaxed);
                extensions.insert(Endpoint(i));
            }
        });
        for listener in listeners.listeners {
            server = server.listen(listener)?;
        }
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            connections,
            handle,
        })
    }

    /// Connections accepted so far, per endpoint.
    pub fn connections(&self) -> Vec<u64> {
        self.connections
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let Some(&Endpoint(endpoint)) = req.conn_data::<Endpoint>() else {
        shared.ledger.unknown();
        return HttpResponse::NotFound().finish();
    };
    // The verifier takes `http` 1 headers; actix-web's are `http` 0.2.
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        if let Some(value) = req
            .headers()
            .get(name)
            .and_then(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok())
        {
            headers.insert(name, value);
        }
    }
    if shared.verifiers[endpoint].verify(&body, &headers).is_err() {
        shared.ledger.bad_signature();
        return HttpResponse::Unauthorized().finish();
    }
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
        shared.ledger.unknown();
        return HttpResponse::NoContent().finish();
    };
    let event_type = payload["type"].as_str().unwrap_or_default();
    if event_type != EVENT_TYPE {
        shared.ledger.other_type(event_type);
        return HttpResponse::NoContent().finish();
    }
    match payload["data"]["resourceData"]["id"]
        .as_str()
        .and_then(seq_of)
    {
        Some(seq) => shared.ledger.arrived(endpoint, seq, webhook_id),
        None => shared.ledger.unknown(),
    }
    HttpResponse::NoContent().finish()
}
