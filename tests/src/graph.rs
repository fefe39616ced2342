//! The emulator's side, as tests read and change it: what Graph holds, a change at Graph,
//! mailboxes and users of its directory, and the rows our side keeps for each subscription.

use chrono::Duration;
use graphhook_domain::{
    graph::resources,
    platform::entities::{subscription, subscription_action},
    platform::ids::SubscriptionId,
};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::TestApp;

/// The emulator's default tenant (Contoso), whose world these changes happen in.
const TENANT: &str = graphhook_emulator::config::DEFAULT_TENANT_ID;

/// A change at Graph, through the emulator's control api.
pub async fn change(app: &TestApp, body: Value) {
    app.emulator_control(Method::POST, "/changes", Some(body))
        .await;
}

/// One change of `change_type` to `resource` in Entra tenant `tenant`, at Graph.
pub async fn change_of(app: &TestApp, tenant: &str, resource: &str, change_type: &str) {
    change(
        app,
        json!({"tenant": tenant, "resource": resource, "changeType": change_type}),
    )
    .await;
}

/// The emulator's control listing of its subscriptions, one entry each.
pub async fn graph_entries(app: &TestApp) -> Vec<Value> {
    app.emulator_control(Method::GET, "/subscriptions", None)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The listing's entry for the subscription with Graph id `graph_id`.
pub async fn graph_entry(app: &TestApp, graph_id: &str) -> Option<Value> {
    graph_entries(app)
        .await
        .into_iter()
        .find(|s| s["subscription"]["id"] == graph_id)
}

/// What the emulator holds: Graph's JSON of every subscription.
pub async fn held_at_graph(app: &TestApp) -> Vec<Value> {
    graph_entries(app)
        .await
        .into_iter()
        .map(|s| s["subscription"].clone())
        .collect()
}

/// The Graph ids of every subscription the emulator holds.
pub async fn held_ids_at_graph(app: &TestApp) -> Vec<String> {
    held_at_graph(app)
        .await
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect()
}

/// Graph's JSON of the subscription to `resource`.
pub async fn graph_subscription(app: &TestApp, resource: &str) -> Option<Value> {
    held_at_graph(app)
        .await
        .into_iter()
        .find(|s| s["resource"] == resource)
}

/// The Graph id of the subscription Graph holds for `resource`, which must be there.
pub async fn graph_subscription_id(app: &TestApp, resource: &str) -> String {
    let held = graph_subscription(app, resource)
        .await
        .unwrap_or_else(|| panic!("Graph holds no subscription to {resource}"));
    crate::client::text(&held, "id")
}

/// Puts a subscription at the emulator as if the app had created it just now (expiring after
/// its kind's lifetime less Graphhook's margin, as Graphhook asks); returns its Graph id.
pub async fn seed_at_graph(
    app: &TestApp,
    resource: &str,
    change_type: &str,
    notification_url: &str,
    client_state: Option<&str>,
) -> String {
    let kind = resources::parse(resource)
        .unwrap_or_else(|e| panic!("resource {resource}: {e:?}"))
        .kind;
    let minutes =
        resources::spec(kind).max_minutes - app.settings.subscriptions.lifetime_margin_minutes;
    let expires = app.clock.now() + Duration::minutes(minutes);
    let seeded = app
        .emulator_control(
            Method::POST,
            "/subscriptions",
            Some(json!({
                "tenant": TENANT,
                "subscriptions": [{
                    "resource": resource,
                    "changeType": change_type,
                    "notificationUrl": notification_url,
                    "clientState": client_state,
                    "expirationDateTime": expires.to_rfc3339(),
                }],
            })),
        )
        .await;
    seeded["ids"][0]
        .as_str()
        .unwrap_or_else(|| panic!("seeding: {seeded}"))
        .to_owned()
}

/// The id of mailbox `n` (see [`add_mailboxes`]).
pub fn mailbox(n: usize) -> String {
    format!("{n:08x}-0679-472c-bc2a-692812af3437")
}

/// Adds Entra tenant `id` (with `domain`, and `display_name` if given) to the emulator, with
/// its seeded Global Administrator `admin@{domain}`.
pub async fn add_entra_tenant(app: &TestApp, id: &str, domain: &str, display_name: Option<&str>) {
    let mut tenant = json!({"id": id, "domain": domain});
    if let Some(name) = display_name {
        tenant["display_name"] = json!(name);
    }
    app.emulator_control(Method::POST, "/tenants", Some(tenant))
        .await;
}

/// Adds a user (`user` as the emulator takes it) to the directory of Entra tenant `tenant`.
pub async fn add_user(app: &TestApp, tenant: &str, user: Value) {
    let path = format!("/tenants/{tenant}/users");
    app.emulator_control(Method::POST, &path, Some(user)).await;
}

/// Makes `mailbox(n)` of each `n` a user of Contoso's directory: Graph refuses a subscription
/// to a mailbox it does not know.
pub async fn add_mailboxes(app: &TestApp, ns: impl IntoIterator<Item = usize>) {
    for n in ns {
        let upn = format!("mailbox{n}@contoso.onmicrosoft.com");
        let user = json!({"id": mailbox(n), "user_principal_name": upn,
                          "display_name": format!("Mailbox {n}")});
        add_user(app, TENANT, user).await;
    }
}

/// A user's object id, from the emulator's directory.
pub async fn user_id(app: &TestApp, upn: &str) -> String {
    let tenants = app.emulator_control(Method::GET, "/tenants", None).await;
    tenants
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["users"].as_array().cloned().unwrap_or_default())
        .find(|u| u["userPrincipalName"].as_str() == Some(upn))
        .and_then(|u| u["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no user {upn}: {tenants}"))
}

/// A subscription's row, by its api id.
pub async fn subscription_row(app: &TestApp, id: &str) -> subscription::Model {
    subscription_rows(app)
        .await
        .into_iter()
        .find(|s| SubscriptionId::from(s.id).to_string() == id)
        .unwrap_or_else(|| panic!("no subscription {id}"))
}

/// Every subscription row, whatever its status.
pub async fn subscription_rows(app: &TestApp) -> Vec<subscription::Model> {
    subscription::Entity::find()
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("subscriptions: {e}"))
}

/// A subscription's history: `(action, trigger, outcome)`, oldest first.
pub async fn subscription_history(app: &TestApp, id: &str) -> Vec<(String, String, String)> {
    let sub = subscription_row(app, id).await;
    subscription_action::Entity::find()
        .filter(subscription_action::Column::SubscriptionId.eq(sub.id))
        .order_by_asc(subscription_action::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("history: {e}"))
        .into_iter()
        .map(|a| (a.action, a.trigger, a.outcome))
        .collect()
}

/// Graph sends a lifecycle notification (`reauthorizationRequired`, `subscriptionRemoved`,
/// `missed`) for the subscription with Graph id `graph_id`.
pub async fn lifecycle_event(app: &TestApp, graph_id: &str, event: &str) {
    app.emulator_control(
        Method::POST,
        &format!("/subscriptions/{graph_id}/lifecycle"),
        Some(json!({ "event": event })),
    )
    .await;
}

/// The tenant `entra` consents to the app at Entra: with the product's roles when `body` is
/// `None`, or as `body` says (e.g. `{"roles": [...]}`).
pub async fn consent(app: &TestApp, entra: &str, body: Option<Value>) {
    app.emulator_control(Method::POST, &format!("/tenants/{entra}/consent"), body)
        .await;
}

/// Changes how the emulator behaves from now on (`PATCH /_emulator/behaviour`).
pub async fn behave(app: &TestApp, behaviour: Value) {
    app.emulator_control(Method::PATCH, "/behaviour", Some(behaviour))
        .await;
}

/// Changes the emulator's app registration (`PATCH /_emulator/app`).
pub async fn register_app(app: &TestApp, registration: Value) {
    app.emulator_control(Method::PATCH, "/app", Some(registration))
        .await;
}
