//! A local webhook receiver for tests: records every request and answers as told (echo the
//! verification challenge, a status, a redirect, or slowly).

use std::{
    net::TcpListener,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// How the receiver answers.
#[derive(Clone, Debug)]
pub enum Mode {
    /// 200 with `{"challenge": …}` echoed for verification requests, 204 otherwise.
    Echo,
    /// Always this status with an empty body.
    Status(u16),
    /// 302 to this URL.
    Redirect(String),
    /// Waits, then echoes.
    Slow(Duration),
    /// This status with a `Retry-After` of so many seconds.
    RetryAfter(u16, u64),
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// When the request arrived.
    pub at: std::time::Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

struct Shared {
    mode: Mutex<Option<Mode>>,
    received: Mutex<Vec<Received>>,
    /// `true` while requests are held back (recorded, not answered).
    held: tokio::sync::watch::Sender<bool>,
}

/// Serves `handler`, with `state`, for every request to a local port of its own (one worker):
/// the port. The server runs until the test ends.
pub fn serve_locally<T, H, Args>(state: web::Data<T>, handler: H) -> u16
where
    T: Send + Sync + 'static,
    H: actix_web::Handler<Args> + Clone + Send + 'static,
    Args: actix_web::FromRequest + 'static,
    H::Output: actix_web::Responder + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .default_service(web::to(handler.clone()))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap_or_else(|e| panic!("listen: {e}"))
    .run();
    tokio::spawn(server);
    port
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    pub fn start(mode: Mode) -> Self {
        let shared = Arc::new(Shared {
            mode: Mutex::new(Some(mode)),
            received: Mutex::new(Vec::new()),
            held: tokio::sync::watch::Sender::new(false),
        });
        let port = serve_locally(web::Data::from(shared.clone()), answer);
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            shared,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self
            .shared
            .mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(mode);
    }

    /// Holds back every answer from now on (requests are still recorded when they arrive).
    pub fn hold(&self) {
        self.shared.held.send_replace(true);
    }

    /// Answers the held requests and every later one.
    pub fn release(&self) {
        self.shared.held.send_replace(false);
    }

    /// How many requests arrived whose body has this event `type`.
    pub fn count(&self, event_type: &str) -> usize {
        self.received()
            .iter()
            .filter(|r| r.event_type() == event_type)
            .count()
    }

    /// Waits until `n` requests of `event_type` arrived, for at most `within`.
    pub async fn wait_for(&self, event_type: &str, n: usize, within: Duration) {
        crate::poll::poll(within, Duration::from_millis(20), || async {
            let count = self.count(event_type);
            if count >= n {
                Ok(())
            } else {
                Err(format!(
                    "{count} of {n} {event_type} requests arrived within {within:?}"
                ))
            }
        })
        .await;
    }

    /// Every request that arrived with this event `type`, in order.
    pub fn all_of(&self, event_type: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.event_type() == event_type)
            .collect()
    }

    /// The first request that arrived with this event `type`.
    pub fn first_of(&self, event_type: &str) -> Received {
        self.received()
            .into_iter()
            .find(|r| r.event_type() == event_type)
            .unwrap_or_else(|| panic!("no {event_type} arrived"))
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let received = Received {
        at: std::time::Instant::now(),
        path: req.uri().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let challenge = received.json()["data"]["challenge"].clone();
    shared
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(received);
    let mut held = shared.held.subscribe();
    let _ = held.wait_for(|held| !*held).await;
    let mode = shared
        .mode
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or(Mode::Echo);
    let echo = |challenge: Value| {
        if challenge.is_string() {
            HttpResponse::Ok().json(json!({"challenge": challenge}))
        } else {
            HttpResponse::NoContent().finish()
        }
    };
    match mode {
        Mode::Echo => echo(challenge),
        Mode::Status(status) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
                .finish()
        }
        Mode::Redirect(to) => HttpResponse::Found()
            .insert_header(("location", to))
            .finish(),
        Mode::RetryAfter(status, secs) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
                .insert_header(("retry-after", secs.to_string()))
                .finish()
        }
        Mode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            echo(challenge)
        }
    }
}
