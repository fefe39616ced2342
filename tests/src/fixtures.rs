//! The fixtures every suite builds on: tenants with an endpoint, messages written as ingest
//! would write them, delivery rows, and the checks that a delivery verifies.

use graphhook_domain::{
    delivery::engine::{self, NewMessage},
    platform::entities::{delivery, endpoint, message},
    platform::ids::{EndpointId, TenantId},
};
use serde_json::{Value, json};

use crate::{Receiver, TestApp, receiver::Received};

/// The emulator's default tenant (Contoso).
pub const TENANT: &str = graphhook_emulator::config::DEFAULT_TENANT_ID;
/// A second Entra tenant the emulator knows.
pub const FABRIKAM: &str = "4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b";
/// A mailbox of Contoso's directory.
pub const USER: &str = "8ee44408-0679-472c-bc2a-692812af3437";

/// How a fixture's tenant comes to be.
#[derive(Clone, Copy)]
pub enum Tenant<'a> {
    /// Contoso, through onboarding in the emulator's browser flow (as an administrator would).
    Onboarded,
    /// Written directly, as a proven consent would be; no browser.
    Direct { entra: &'a str, name: &'a str },
}

impl Tenant<'_> {
    /// Contoso, written directly.
    pub const CONTOSO: Tenant<'static> = Tenant::Direct {
        entra: TENANT,
        name: "Contoso",
    };
}

/// A tenant with one active endpoint on a receiver.
pub struct TenantWithEndpoint {
    pub key: String,
    pub tenant: TenantId,
    pub endpoint: EndpointId,
    pub secret: String,
}

/// A tenant (made as `how` says) with one active endpoint on `receiver`.
pub async fn tenant_with_endpoint(
    app: &TestApp,
    how: Tenant<'_>,
    receiver: &Receiver,
) -> TenantWithEndpoint {
    let (key, entra) = match how {
        Tenant::Onboarded => (
            app.onboard("Contoso")
                .await
                .key
                .unwrap_or_else(|| panic!("onboarding showed no key")),
            TENANT,
        ),
        Tenant::Direct { entra, name } => (app.create_tenant(entra, name).await, entra),
    };
    let (endpoint, secret) = active_endpoint(app, &key, json!({"url": receiver.url})).await;
    TenantWithEndpoint {
        tenant: tenant_id(app, entra).await,
        key,
        endpoint,
        secret,
    }
}

impl TestApp {
    /// A tenant created directly (as a proven consent would), with an API key; no browser.
    pub async fn create_tenant(&self, entra_tenant_id: &str, name: &str) -> String {
        use graphhook_domain::graph::microsoft::roles::PRODUCT_ROLES;
        let roles: Vec<&str> = PRODUCT_ROLES.iter().map(|r| r.name).collect();
        self.create_tenant_consenting(entra_tenant_id, name, &roles)
            .await
    }

    /// As [`TestApp::create_tenant`], for a consent to `roles` only.
    pub async fn create_tenant_consenting(
        &self,
        entra_tenant_id: &str,
        name: &str,
        roles: &[&str],
    ) -> String {
        use graphhook_domain::{
            platform::secret::ExposeSecret, tenancy::api_keys, tenancy::tenants,
        };
        let proof = tenants::ConsentProof {
            entra_tenant_id: entra_tenant_id
                .parse()
                .unwrap_or_else(|e| panic!("tenant id: {e}")),
            roles: roles.iter().map(|&r| r.to_owned()).collect(),
        };
        let recorded = tenants::record_consent(
            &self.db,
            &self.clock,
            &proof,
            name,
            graphhook_domain::operator::audit::Actor::system("onboarding"),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("tenant: {e}"));
        let limit = self.settings.api.max_api_keys_per_tenant;
        let key = api_keys::create(
            &self.db,
            &self.clock,
            recorded.tenant.id.into(),
            "test",
            limit,
        )
        .await
        .unwrap_or_else(|e| panic!("key: {e}"));
        key.key.expose_secret().to_owned()
    }
}

/// A tenant written directly (as a proven consent would be): its id and API key.
pub async fn direct_tenant(app: &TestApp, entra: &str, name: &str) -> (TenantId, String) {
    let key = app.create_tenant(entra, name).await;
    (tenant_id(app, entra).await, key)
}

/// Contoso written directly: its id and API key.
pub async fn direct_contoso(app: &TestApp) -> (TenantId, String) {
    direct_tenant(app, TENANT, "Contoso").await
}

/// Our id of the tenant whose Entra tenant id is `entra`.
pub async fn tenant_id(app: &TestApp, entra: &str) -> TenantId {
    app.tenants()
        .await
        .into_iter()
        .find(|t| t.entra_tenant_id.to_string() == entra)
        .unwrap_or_else(|| panic!("no tenant {entra}"))
        .id
        .into()
}

/// An endpoint created with `body` (201, active): its id and secret.
pub async fn active_endpoint(app: &TestApp, key: &str, body: Value) -> (EndpointId, String) {
    let (status, created) = app.as_tenant(key).create_endpoint(body).await;
    assert_eq!(
        (status, created["status"].as_str()),
        (201, Some("active")),
        "{created}"
    );
    let id = created["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("endpoint without id: {created}"));
    let secret = crate::client::text(&created, "secret");
    (id, secret)
}

/// Checks that `endpoint` (as the api shows it) waits for verification: the error it shows,
/// which must contain `why`.
pub fn unverified_because<'a>(endpoint: &'a Value, why: &str) -> &'a str {
    assert_eq!(endpoint["status"], "pending_verification", "{endpoint}");
    let error = endpoint["verification_error"]
        .as_str()
        .unwrap_or_else(|| panic!("no verification error: {endpoint}"));
    assert!(error.contains(why), "{why}: {endpoint}");
    error
}

/// An endpoint on `receiver` for Graph events only, with `extra` fields: its id and secret.
pub async fn graph_endpoint(
    app: &TestApp,
    key: &str,
    receiver: &Receiver,
    extra: Value,
) -> (EndpointId, String) {
    let mut body = json!({"url": receiver.url, "filter_types": ["graph.*"]});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    active_endpoint(app, key, body).await
}

/// A message of `event_type` with `data`, written as ingest writes one, for `endpoints` (or
/// every endpoint that takes it).
pub async fn write_message(
    app: &TestApp,
    tenant: TenantId,
    event_type: &str,
    data: Value,
    endpoints: Option<Vec<EndpointId>>,
) -> (message::Model, Vec<delivery::Model>) {
    let new = NewMessage {
        verbatim: Vec::new(),
        tenant,
        event_type: event_type.into(),
        data,
        endpoint_ids: endpoints,
    };
    engine::create_message(&app.services, new)
        .await
        .unwrap_or_else(|e| panic!("writing a message: {e}"))
}

/// A message of `event_type` numbered `n` for `endpoint` only: its one delivery.
pub async fn message_to(
    app: &TestApp,
    tenant: TenantId,
    endpoint: EndpointId,
    event_type: &str,
    n: u32,
) -> delivery::Model {
    let data = json!({"n": n});
    let (_, mut deliveries) =
        write_message(app, tenant, event_type, data, Some(vec![endpoint])).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    deliveries.remove(0)
}

/// A `graph.user.updated` message numbered `n` for every endpoint of `tenant`.
pub async fn message(
    app: &TestApp,
    tenant: TenantId,
    n: u32,
) -> (message::Model, Vec<delivery::Model>) {
    write_message(app, tenant, "graph.user.updated", json!({"n": n}), None).await
}

/// A delivery's row.
pub async fn delivery_row(app: &TestApp, id: uuid::Uuid) -> delivery::Model {
    use sea_orm::EntityTrait;
    delivery::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("delivery {id}: {e}"))
        .unwrap_or_else(|| panic!("no delivery {id}"))
}

/// An endpoint's row, by the id the api shows (`ep_…`).
pub async fn endpoint_row(app: &TestApp, id: &str) -> endpoint::Model {
    use sea_orm::EntityTrait;
    let id: EndpointId = id
        .parse()
        .unwrap_or_else(|e| panic!("endpoint id {id}: {e:?}"));
    endpoint::Entity::find_by_id(id.uuid())
        .one(&app.db)
        .await
        .unwrap_or_else(|e| panic!("endpoint {id}: {e}"))
        .unwrap_or_else(|| panic!("no endpoint {id}"))
}

/// Whether a request's `v1` signatures verify with `secret`, checked with the Standard Webhooks
/// reference library.
pub fn verifies_with(received: &Received, secret: &str) -> bool {
    let webhook =
        standardwebhooks::Webhook::new(secret).unwrap_or_else(|e| panic!("secret {secret}: {e}"));
    let header = |name: &str| {
        received
            .header(name)
            .unwrap_or_else(|| panic!("no {name} header"))
    };
    let timestamp: i64 = header("webhook-timestamp")
        .parse()
        .unwrap_or_else(|e| panic!("webhook-timestamp: {e}"));
    let expected = webhook
        .sign(header("webhook-id"), timestamp, &received.body)
        .unwrap_or_else(|e| panic!("signing: {e}"));
    header("webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

/// Contoso (written directly) with one endpoint on a receiver of its own.
pub struct Setup {
    pub key: String,
    pub tenant: TenantId,
    pub endpoint: String,
    pub receiver: Receiver,
}

pub async fn setup(app: &TestApp) -> Setup {
    let receiver = Receiver::start(crate::Mode::Echo);
    let fixture = tenant_with_endpoint(app, Tenant::CONTOSO, &receiver).await;
    Setup {
        key: fixture.key,
        tenant: fixture.tenant,
        endpoint: fixture.endpoint.to_string(),
        receiver,
    }
}

/// A fresh app and [`setup`], with one `graph.user.updated` message delivered: the app, the
/// setup and the message's webhook id.
pub async fn one_message_delivered() -> (TestApp, Setup, String) {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let webhook_id = send_event(&app, s.tenant, "graph.user.updated").await;
    app.drain_jobs().await;
    (app, s, webhook_id)
}

/// A message of `event_type` for every endpoint of `tenant`; its webhook id.
pub async fn send_event(app: &TestApp, tenant: TenantId, event_type: &str) -> String {
    let (message, _) = write_message(app, tenant, event_type, json!({"x": 1}), None).await;
    message.webhook_id
}

/// A fresh app and a receiver; Contoso (onboarded) with an endpoint on it and a subscription
/// with resource data to a mailbox's messages; a message with `subject` is then created at Graph
/// and delivered. Returns the app, the receiver and the API key.
pub async fn rich_message_delivered(subject: &str) -> (TestApp, Receiver, String) {
    let (app, receiver, key) = onboarded_receiving().await;
    let resource = format!("users/{USER}/messages");
    let (status, created, _) = app
        .as_tenant(&key)
        .create_subscription(
            json!({"resource": resource, "change_types": ["created"], "include_resource_data": true}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    crate::graph::change(
        &app,
        json!({"tenant": TENANT, "resource": resource, "changeType": "created",
               "properties": {"subject": subject}}),
    )
    .await;
    crate::waits::drain_until(&app, &receiver, "graph.message.created", 1).await;
    (app, receiver, key)
}

/// A fresh app and Contoso, onboarded through the browser flow: the app and Contoso's API key.
pub async fn onboarded_contoso() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let key = app
        .onboard("Contoso")
        .await
        .key
        .unwrap_or_else(|| panic!("onboarding showed no key"));
    (app, key)
}

/// A fresh app, a receiver, and a tenant (made as `how` says) with an endpoint on it.
pub async fn receiving(how: Tenant<'_>) -> (TestApp, Receiver, TenantWithEndpoint) {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(crate::Mode::Echo);
    let tenant = tenant_with_endpoint(&app, how, &receiver).await;
    (app, receiver, tenant)
}

/// A fresh app, a receiver, and Contoso (onboarded) with an endpoint on it: the app, the
/// receiver and Contoso's API key.
pub async fn onboarded_receiving() -> (TestApp, Receiver, String) {
    let (app, receiver, contoso) = receiving(Tenant::Onboarded).await;
    (app, receiver, contoso.key)
}

/// A fresh app, a receiver, and Contoso (written directly) with an endpoint on it, verified;
/// the receiver then answers as `mode`. Returns the app, the receiver and Contoso's id.
pub async fn contoso_receiving(mode: crate::Mode) -> (TestApp, Receiver, TenantId) {
    let (app, receiver, contoso) = receiving(Tenant::CONTOSO).await;
    receiver.set_mode(mode);
    (app, receiver, contoso.tenant)
}
