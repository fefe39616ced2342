//! Spawns an emulator on port 0 with a manual clock, and receivers for the validation handshake.

use std::{
    net::TcpListener,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use graphhook_platform::Clock;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use uuid::Uuid;

use crate::{
    EmulatorConfig, RunningEmulator,
    config::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, HttpUrls, TenantConfig},
    server::Emulator,
};

pub const APP_CERT: &str = include_str!("../testdata/app_cert.pem");
pub const APP_KEY: &str = include_str!("../testdata/app_key.pem");
pub const OTHER_KEY: &str = include_str!("../testdata/other_key.pem");
/// A tenant whose admin has not consented.
pub const NEW_TENANT: &str = "4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b";
pub const USER: &str = "8ee44408-0679-472c-bc2a-692812af3437";

/// The scope of an app-only Graph token.
pub const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

/// A client-credentials token request's form: the default app with `secret`, asking for `scope`.
pub fn client_credentials<'a>(secret: &'a str, scope: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("client_id", DEFAULT_CLIENT_ID),
        ("scope", scope),
        ("client_secret", secret),
        ("grant_type", "client_credentials"),
    ]
}

pub struct Emu {
    pub emu: RunningEmulator,
    pub client: reqwest::Client,
    pub clock: Clock,
}

pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
        .map(|t| t.to_utc())
        .unwrap_or_default()
}

impl Emu {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(customize: impl FnOnce(&mut EmulatorConfig)) -> Self {
        Self::spawn_on(Clock::manual(start()), customize).await
    }

    /// [`Emu::spawn_with`] on a given clock (an emulator restarted where another stopped).
    pub async fn spawn_on(clock: Clock, customize: impl FnOnce(&mut EmulatorConfig)) -> Self {
        let mut config = EmulatorConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..EmulatorConfig::default()
        };
        config.tenants[0].consented_roles = Some(config.app.roles.clone());
        config.tenants.push(TenantConfig {
            id: Uuid::parse_str(NEW_TENANT).unwrap(),
            domain: "fabrikam.onmicrosoft.com".into(),
            display_name: "Fabrikam".into(),
            consented_roles: None,
            users: None,
        });
        config.app.certificates.push(APP_CERT.to_owned());
        config.behaviour.http_notification_urls = HttpUrls::Loopback;
        config.behaviour.validation_timeout_ms = 1_000;
        customize(&mut config);
        let emu = Emulator::new(config, clock.clone())
            .spawn()
            .await
            .expect("emulator starts");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { emu, client, clock }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url)
    }

    /// An unauthenticated GET of `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// The JSON body of an unauthenticated GET, whatever its status.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }

    pub async fn token_response(&self, tenant: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.client
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn secret_token_response(&self, tenant: &str) -> reqwest::Response {
        let form = client_credentials(DEFAULT_CLIENT_SECRET, GRAPH_DEFAULT);
        self.token_response(tenant, &form).await
    }

    /// An access token for the default (consented) tenant.
    pub async fn token(&self) -> String {
        self.token_for(DEFAULT_TENANT_ID).await
    }

    pub async fn token_for(&self, tenant: &str) -> String {
        let response = self.secret_token_response(tenant).await;
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let request = self
            .client
            .request(method, self.url(&format!("/_emulator{path}")));
        send_json(request, body).await
    }

    /// The body of a control call, whatever its status.
    pub async fn control_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        self.control(method, path, body).await.json().await.unwrap()
    }

    /// The status of a control call.
    pub async fn control_status(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> u16 {
        self.control(method, path, body).await.status().as_u16()
    }

    /// The status of adding `user` (the control API's fields) to `tenant`'s directory.
    pub async fn add_user(&self, tenant: &str, user: Value) -> u16 {
        let path = format!("/tenants/{tenant}/users");
        self.control_status(reqwest::Method::POST, &path, Some(user))
            .await
    }

    /// The status of a bodiless control call on `/tenants/{tenant}/{what}`.
    pub async fn tenant_call(&self, method: reqwest::Method, tenant: &str, what: &str) -> u16 {
        self.control_status(method, &format!("/tenants/{tenant}/{what}"), None)
            .await
    }

    /// `POST /_emulator/tenants/{tenant}/consent`: admin consent to the app's roles, or to
    /// `roles` only.
    pub async fn consent(&self, tenant: &str, roles: Option<&[&str]>) -> reqwest::Response {
        let path = format!("/tenants/{tenant}/consent");
        let body = roles.map(|roles| json!({ "roles": roles }));
        self.control(reqwest::Method::POST, &path, body).await
    }

    /// `PATCH /_emulator/app`: its status and JSON body (the registration, or the error; null
    /// for actix's plain-text refusal of a patch that does not deserialize).
    pub async fn patch_app(&self, patch: Value) -> (u16, Value) {
        let response = self
            .control(reqwest::Method::PATCH, "/app", Some(patch))
            .await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The status of `PATCH /_emulator/behaviour`.
    pub async fn behaviour_status(&self, patch: Value) -> u16 {
        self.control_status(reqwest::Method::PATCH, "/behaviour", Some(patch))
            .await
    }

    pub async fn behaviour(&self, patch: Value) {
        let response = self
            .control(reqwest::Method::PATCH, "/behaviour", Some(patch))
            .await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    pub async fn graph(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let request = self
            .client
            .request(method, self.url(&format!("/v1.0{path}")))
            .bearer_auth(token);
        send_json(request, body).await
    }

    /// The body of a Graph call, whatever its status.
    pub async fn graph_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        self.graph(method, path, token, body)
            .await
            .json()
            .await
            .unwrap()
    }

    /// The status of `POST /subscriptions/{id}/reauthorize`.
    pub async fn reauthorize(&self, id: &str, token: &str) -> u16 {
        let path = format!("/subscriptions/{id}/reauthorize");
        self.graph_status(reqwest::Method::POST, &path, token).await
    }

    /// The status of a Graph call without a body.
    pub async fn graph_status(&self, method: reqwest::Method, path: &str, token: &str) -> u16 {
        self.graph(method, path, token, None)
            .await
            .status()
            .as_u16()
    }

    pub async fn create(&self, token: &str, body: Value) -> reqwest::Response {
        self.graph(reqwest::Method::POST, "/subscriptions", token, Some(body))
            .await
    }

    /// The status of a subscription creation.
    pub async fn create_status(&self, token: &str, body: Value) -> u16 {
        self.create(token, body).await.status().as_u16()
    }

    /// The body of a subscription creation, whatever its status.
    pub async fn create_json(&self, token: &str, body: Value) -> Value {
        self.create(token, body).await.json().await.unwrap()
    }

    /// A subscription creation that fails, read as [`graph_error`] does.
    pub async fn create_error(&self, token: &str, body: Value) -> (u16, String, String) {
        graph_error(self.create(token, body).await).await
    }

    /// A subscription's body: its `changeType`, `notificationUrl`, `resource`, and an expiration
    /// `minutes` from now.
    pub fn subscription(
        &self,
        change_type: &str,
        url: &str,
        resource: &str,
        minutes: i64,
    ) -> Value {
        json!({
            "changeType": change_type,
            "notificationUrl": url,
            "resource": resource,
            "expirationDateTime": self.expires_in(minutes),
        })
    }

    /// An expiration `minutes` from the emulator's now, in Graph's 7-digit form.
    pub fn expires_in(&self, minutes: i64) -> String {
        format!(
            "{}.0000000Z",
            (self.clock.now() + chrono::Duration::minutes(minutes)).format("%Y-%m-%dT%H:%M:%S")
        )
    }
}

/// A message subscription created with an app token, its receiver echoing the handshake.
pub struct Subscribed {
    pub token: String,
    pub rx: Receiver,
    pub id: String,
    /// `/subscriptions/{id}`.
    pub path: String,
}

impl Emu {
    /// What a test needs to create subscriptions: an app token for the default tenant and a
    /// receiver that echoes the handshake.
    pub async fn subscriber(&self) -> (String, Receiver) {
        (self.token().await, receiver(Answer::Echo))
    }

    /// Creates a message subscription in the default tenant; panics when it has no id.
    pub async fn subscribed(&self) -> Subscribed {
        let (token, rx) = self.subscriber().await;
        let created = self
            .create_json(&token, message_subscription(self, &rx.url))
            .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let path = format!("/subscriptions/{id}");
        Subscribed {
            token,
            rx,
            id,
            path,
        }
    }
}

/// The tenant with this id in the control api's `/tenants` listing.
pub fn tenant_entry<'a>(tenants: &'a Value, id: &str) -> &'a Value {
    tenants
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap()
}

/// The key with this id in a published JWKS.
pub fn published_jwk<'a>(keys: &'a Value, kid: &str) -> &'a Value {
    keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the token's kid is published")
}

/// The RSA key of a published JWK.
pub fn jwk_decoding_key(key: &Value) -> jsonwebtoken::DecodingKey {
    jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap()
}

/// Whether a token's claims carry the app role `role`.
pub fn has_role(claims: &Value, role: &str) -> bool {
    claims["roles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == role)
}

/// The claims of a JWT, read without checking it.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A client assertion (private_key_jwt) signed with `key_pem`, naming the test app
/// certificate's thumbprint.
pub fn assertion(emu: &Emu, key_pem: &str, audience: &str, exp_in_secs: i64) -> String {
    let der = crate::crypto::pem_or_base64_to_der(APP_CERT).unwrap();
    let thumbprint = URL_SAFE_NO_PAD.encode(Sha1::digest(&der));
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t = Some(thumbprint);
    let now = emu.clock.now().timestamp();
    let claims = json!({
        "aud": audience,
        "iss": DEFAULT_CLIENT_ID,
        "sub": DEFAULT_CLIENT_ID,
        "jti": Uuid::new_v4().to_string(),
        "nbf": now,
        "exp": now + exp_in_secs,
    });
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// How a receiver answers the validation handshake.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// 200 with the form-decoded token: correct.
    Echo,
    /// 200 with the token as it appeared in the URL, still encoded.
    EchoEncoded,
    /// 202 with the decoded token.
    Accepted,
    /// Waits this long, then echoes.
    Slow(u64),
}

#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub query: String,
    pub content_type: Option<String>,
}

pub struct Receiver {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Receiver {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    req: HttpRequest,
    state: web::Data<(Answer, Arc<Mutex<Vec<Seen>>>)>,
) -> HttpResponse {
    let (mode, seen) = (state.0, state.1.clone());
    let query = req.query_string().to_owned();
    seen.lock().unwrap().push(Seen {
        method: req.method().to_string(),
        query: query.clone(),
        content_type: req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    let raw = query
        .split('&')
        .find_map(|p| p.strip_prefix("validationToken="))
        .unwrap_or_default()
        .to_owned();
    let decoded = url::form_urlencoded::parse(format!("t={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    match mode {
        Answer::Echo => HttpResponse::Ok().content_type("text/plain").body(decoded),
        Answer::EchoEncoded => HttpResponse::Ok().content_type("text/plain").body(raw),
        Answer::Accepted => HttpResponse::Accepted()
            .content_type("text/plain")
            .body(decoded),
        Answer::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            HttpResponse::Ok().content_type("text/plain").body(decoded)
        }
    }
}

/// Sends `request`, with `body` as its JSON if there is one.
async fn send_json(request: reqwest::RequestBuilder, body: Option<Value>) -> reqwest::Response {
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

/// A local endpoint that answers validation requests in the given way.
pub fn receiver(mode: Answer) -> Receiver {
    let seen = Arc::new(Mutex::new(Vec::new()));
    Receiver {
        url: serve((mode, seen.clone()), answer),
        seen,
    }
}

/// Serves `handler`, with `state` as its app data, on a port of its own; returns the
/// notification URL a test gives Graph.
pub fn serve<S, F, Args>(state: S, handler: F) -> String
where
    S: Send + Sync + 'static,
    F: actix_web::Handler<Args> + Clone + Send + 'static,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .default_service(web::to(handler.clone()))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}/graph/notifications?route=t42")
}

/// For tests whose mailboxes are made up (`users/abc/…`) or belong to another tenant's user:
/// Graph's refusal of users it cannot find (`unknown_users`) is not what they are about.
pub fn accept_unknown_users(config: &mut EmulatorConfig) {
    config.behaviour.unknown_users = crate::config::UnknownUsers::Accept;
}

/// A subscription to [`USER`]'s inbox messages at `url`, with a client state.
pub fn message_subscription(emu: &Emu, url: &str) -> Value {
    let inbox = format!("users/{USER}/mailFolders('inbox')/messages");
    let mut body = emu.subscription("created,updated", url, &inbox, 60);
    body["clientState"] = json!("secret-client-state");
    body
}

/// Checks that `response` is the Graph error `status`, `code`, `message` (§1.3).
pub async fn expect_graph_error(
    response: reqwest::Response,
    status: u16,
    code: &str,
    message: &str,
) {
    let (got, got_code, got_message) = graph_error(response).await;
    assert_eq!(
        (got, got_code.as_str(), got_message.as_str()),
        (status, code, message)
    );
}

/// Reads a Graph error, checking its §1.3 shape; returns status, code and message.
pub async fn graph_error(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        super::fixtures::shape(&body),
        super::fixtures::shape_of(super::fixtures::GRAPH_ERROR),
        "§1.3 shape: {body}"
    );
    assert_eq!(
        body["error"]["innerError"]["request-id"]
            .as_str()
            .map(str::to_owned),
        request_id
    );
    let date = body["error"]["innerError"]["date"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").is_ok()
            && date.len() == 19,
        "UTC without offset or fraction: {date}"
    );
    (
        status,
        body["error"]["code"].as_str().unwrap().to_owned(),
        body["error"]["message"].as_str().unwrap().to_owned(),
    )
}
