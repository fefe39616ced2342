//! A local receiver for notifications, and the control calls that make and inspect them. The
//! receiver answers Graph's validation handshake like a correct endpoint, records every other
//! POST as it arrives (query, content type, JSON body) and answers it as the test scripts:
//! a status and a delay chosen by the request's number.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::harness::{Emu, serve};

/// Chooses the answer to the n-th notification POST (from 0): status and delay in ms.
pub type Script = Arc<dyn Fn(usize) -> (u16, u64) + Send + Sync>;

#[derive(Clone, Debug)]
pub struct Received {
    pub query: String,
    pub content_type: Option<String>,
    pub body: Value,
}

pub struct Inbox {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

/// How long a test waits for something the emulator does in the background.
const PATIENCE: Duration = Duration::from_secs(15);

impl Inbox {
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` POSTs arrived; returns them all.
    pub async fn wait_for_posts(&self, n: usize) -> Vec<Received> {
        let started = std::time::Instant::now();
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{} POSTs arrived at {}, expected {n}",
                received.len(),
                self.url
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<(Script, Arc<Mutex<Vec<Received>>>)>,
) -> HttpResponse {
    let query = req.query_string().to_owned();
    if let Some(raw) = query
        .split('&')
        .find_map(|p| p.strip_prefix("validationToken="))
    {
        let token = url::form_urlencoded::parse(format!("t={raw}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        return HttpResponse::Ok().content_type("text/plain").body(token);
    }
    let number = {
        let mut received = state.1.lock().unwrap();
        received.push(Received {
            query,
            content_type: req
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        received.len() - 1
    };
    let (status, delay) = (state.0)(number);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

/// A receiver answering every notification with 202 at once.
pub fn inbox() -> Inbox {
    inbox_with(|_| (202, 0))
}

/// A receiver answering the n-th notification POST with `script(n)`.
pub fn inbox_with(script: impl Fn(usize) -> (u16, u64) + Send + Sync + 'static) -> Inbox {
    let received = Arc::new(Mutex::new(Vec::new()));
    let script: Script = Arc::new(script);
    Inbox {
        url: serve((script, received.clone()), answer),
        received,
    }
}

/// A fresh emulator whose default app subscribes a new receiver with `body(&emu, &inbox.url)`;
/// returns the emulator, the receiver and the subscription as created.
pub async fn subscribed(body: impl FnOnce(&Emu, &str) -> Value) -> (Emu, Inbox, Value) {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let inbox = inbox();
    let subscription = emu.subscribe(&token, body(&emu, &inbox.url)).await;
    (emu, inbox, subscription)
}

impl Emu {
    /// Creates a subscription, expecting 201; returns its body.
    pub async fn subscribe(&self, token: &str, body: Value) -> Value {
        let response = self.create(token, body).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        body
    }

    /// `POST /_emulator/changes`, expecting 202; returns the queued notifications.
    pub async fn change(&self, change: Value) -> Vec<Value> {
        let response = self
            .control(reqwest::Method::POST, "/changes", Some(change))
            .await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 202, "{body}");
        body["queued"].as_array().unwrap().clone()
    }

    /// `GET /_emulator/deliveries`.
    pub async fn deliveries(&self) -> Value {
        self.control(reqwest::Method::GET, "/deliveries", None)
            .await
            .json()
            .await
            .unwrap()
    }

    /// Waits until `done` holds for the deliveries; returns them.
    pub async fn wait_for_deliveries(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = std::time::Instant::now();
        loop {
            let deliveries = self.deliveries().await;
            if done(&deliveries) {
                return deliveries;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "still waiting for {what}: {deliveries:#}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The body of `POST /_emulator/changes` for one change to `resource` in `tenant`.
pub fn change_of(tenant: &str, resource: &str, change_type: &str) -> Value {
    json!({"tenant": tenant, "resource": resource, "changeType": change_type})
}

/// The number of entries in `deliveries[list]`.
pub fn count(deliveries: &Value, list: &str) -> usize {
    deliveries[list].as_array().map_or(0, Vec::len)
}
