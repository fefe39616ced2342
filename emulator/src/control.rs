//! The control API under `/_emulator` (a path Microsoft never serves): set up tenants, their
//! users and consent, revoke consent or a user's sessions, require interaction, seed, look at
//! and act on subscriptions, count the calls made to Graph's subscription API and the refresh
//! grants, change behaviour switches and the app registration, make changes happen and inspect
//! deliveries. The consent and sign-in pages' forms post here too.

mod deliveries;
mod directory;
mod seed;
mod sessions;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::{
    config::Behaviour,
    crypto::CertInfo,
    graph::body as graph_json,
    notify::lifecycle,
    shared::Data,
    state::{AppSecret, Ended, calls::CallStats, is_consumers, refresh::RefreshStats},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_emulator")
            .service(web::resource("/state").route(web::get().to(state)))
            // The consent page's form posts here.
            .service(web::resource("/consent/decide").route(web::post().to(crate::entra::decide)))
            // The sign-in page's form posts here.
            .service(
                web::resource("/sign-in/decide")
                    .route(web::post().to(crate::entra::sign_in_decide)),
            )
            .service(
                web::resource("/tenants")
                    .route(web::get().to(tenants))
                    .route(web::post().to(add_tenant)),
            )
            .service(
                web::resource("/tenants/{id}/consent")
                    .route(web::post().to(grant_consent))
                    .route(web::delete().to(revoke_consent)),
            )
            .service(
                web::resource("/tenants/{id}/service-principal")
                    .route(web::post().to(service_principal)),
            )
            .service(
                web::resource("/subscriptions")
                    .app_data(seed::json_config())
                    .route(web::get().to(subscriptions))
                    .route(web::post().to(seed::seed)),
            )
            .service(
                web::resource("/subscriptions/{id}").route(web::delete().to(remove_subscription)),
            )
            .service(
                web::resource("/subscriptions/{id}/expire")
                    .route(web::post().to(expire_subscription)),
            )
            .service(
                web::resource("/behaviour")
                    .route(web::get().to(behaviour))
                    .route(web::patch().to(set_behaviour)),
            )
            .service(
                web::resource("/calls")
                    .route(web::get().to(calls))
                    .route(web::delete().to(reset_calls)),
            )
            .service(web::resource("/app/secrets").route(web::post().to(add_secret)))
            .service(web::resource("/app/certificates").route(web::post().to(add_certificate)))
            .service(web::resource("/app/redirect-uris").route(web::post().to(add_redirect_uri)))
            .configure(directory::configure)
            .configure(sessions::configure)
            .configure(deliveries::configure),
    );
}

fn not_found(what: &str) -> HttpResponse {
    HttpResponse::NotFound().json(json!({"error": format!("{what} not found")}))
}

fn bad_request(message: impl Into<String>) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": message.into()}))
}

async fn state(shared: Data) -> HttpResponse {
    let world = shared.world();
    HttpResponse::Ok().json(json!({
        "baseUrl": shared.base_url,
        "now": shared.clock.now(),
        "app": world.app,
        "tenants": world.tenants.values().collect::<Vec<_>>(),
        "subscriptions": world.subscriptions.values().collect::<Vec<_>>(),
        "behaviour": world.behaviour,
        "tokenRequests": world.token_requests,
    }))
}

async fn tenants(shared: Data) -> HttpResponse {
    HttpResponse::Ok().json(shared.world().tenants.values().collect::<Vec<_>>())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    id: Option<Uuid>,
    domain: Option<String>,
    display_name: Option<String>,
}

async fn add_tenant(shared: Data, body: web::Json<NewTenant>) -> HttpResponse {
    let body = body.into_inner();
    let id = body.id.unwrap_or_else(Uuid::new_v4);
    let short = id.simple().to_string();
    let domain = body
        .domain
        .unwrap_or_else(|| format!("tenant{}.onmicrosoft.com", &short[..8]));
    let name = body
        .display_name
        .unwrap_or_else(|| domain.split('.').next().unwrap_or("tenant").to_owned());
    let mut world = shared.world();
    if world
        .tenants
        .values()
        .any(|t| t.id != id && t.domain.eq_ignore_ascii_case(&domain))
    {
        return bad_request(format!("domain {domain} belongs to another tenant"));
    }
    let tenant = world.add_tenant(id, domain, name).clone();
    HttpResponse::Created().json(tenant)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Grant {
    /// Defaults to every role the app requests.
    roles: Option<Vec<String>>,
    /// Delegated permissions granted tenant-wide; defaults to the app's, as they are now.
    delegated_permissions: Option<Vec<String>>,
    /// Defaults to now.
    granted_at: Option<DateTime<Utc>>,
}

async fn grant_consent(
    shared: Data,
    id: web::Path<Uuid>,
    body: Option<web::Json<Grant>>,
) -> HttpResponse {
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    if is_consumers(*id) {
        return bad_request(NOT_AN_ORGANIZATION);
    }
    let now = shared.clock.now();
    let mut world = shared.world();
    let roles = body.roles.unwrap_or_else(|| world.app.roles.clone());
    let delegated = body
        .delegated_permissions
        .unwrap_or_else(|| world.app.delegated_permissions.clone());
    if !world.grant_consent_with(*id, roles, delegated, body.granted_at.unwrap_or(now)) {
        return not_found("tenant");
    }
    if let Some(t) = world.tenants.get_mut(&id) {
        t.revoked_at = None;
    }
    HttpResponse::Ok().json(&world.tenants[&*id])
}

#[derive(Deserialize)]
struct RevokeQuery {
    /// `service_principal` (default): the app is removed from the tenant, tokens fail with
    /// AADSTS700016. `grants`: the app stays, tokens come without roles.
    mode: Option<String>,
}

async fn revoke_consent(
    shared: Data,
    id: web::Path<Uuid>,
    query: web::Query<RevokeQuery>,
) -> HttpResponse {
    let keep = match query.mode.as_deref() {
        None | Some("service_principal") => false,
        Some("grants") => true,
        Some(other) => {
            return bad_request(format!(
                "unknown mode {other}; use service_principal or grants"
            ));
        }
    };
    let now = shared.clock.now();
    let mut world = shared.world();
    if !world.revoke_consent(*id, keep, now) {
        return not_found("tenant");
    }
    // §4: an admin revoking the app's permission challenges every subscription.
    if !lifecycle::consent_revoked(&mut world, *id, now).is_empty() {
        shared.wake.notify_one();
    }
    HttpResponse::Ok().json(&world.tenants[&*id])
}

/// Why the consumers tenant gets no consent and no service principal.
const NOT_AN_ORGANIZATION: &str = "the consumers tenant (personal Microsoft accounts) is not an organization: admin consent and service principals are not possible there";

async fn service_principal(shared: Data, id: web::Path<Uuid>) -> HttpResponse {
    if is_consumers(*id) {
        return bad_request(NOT_AN_ORGANIZATION);
    }
    let mut world = shared.world();
    if !world.create_service_principal(*id) {
        return not_found("tenant");
    }
    HttpResponse::Ok().json(&world.tenants[&*id])
}

async fn subscriptions(shared: Data) -> HttpResponse {
    let now = shared.clock.now();
    let mut world = shared.world();
    world.purge_expired(now);
    let all: Vec<_> = world
        .subscriptions
        .values()
        .map(|s| json!({"subscription": graph_json::subscription(s), "state": s}))
        .collect();
    HttpResponse::Ok().json(all)
}

async fn remove_subscription(shared: Data, id: web::Path<Uuid>) -> HttpResponse {
    match shared.world().remove_subscription(*id, Ended::Deleted) {
        Some(_) => HttpResponse::NoContent().finish(),
        None => not_found("subscription"),
    }
}

/// Expires a subscription now, as if its time had run out: Graph then deletes it.
async fn expire_subscription(shared: Data, id: web::Path<Uuid>) -> HttpResponse {
    let now = shared.clock.now();
    let mut world = shared.world();
    match world.subscriptions.get_mut(&id) {
        Some(s) => {
            s.expiration_date_time = now;
            world.purge_expired(now);
            HttpResponse::NoContent().finish()
        }
        None => not_found("subscription"),
    }
}

/// Calls that reached Graph's subscription API: `{"total", "throttled", "byOperation",
/// "byStatus"}`, plus the token endpoint's refresh-token grants: `refresh_token_grants`,
/// `refresh_token_grants_succeeded` and `refresh_token_grants_by_user` (by object id).
async fn calls(shared: Data) -> HttpResponse {
    let world = shared.world();
    let mut stats = world.call_stats.to_json();
    if let (Some(map), serde_json::Value::Object(refresh)) =
        (stats.as_object_mut(), world.refresh_stats.to_json())
    {
        map.extend(refresh);
    }
    HttpResponse::Ok().json(stats)
}

async fn reset_calls(shared: Data) -> HttpResponse {
    let mut world = shared.world();
    world.call_stats = CallStats::default();
    world.refresh_stats = RefreshStats::default();
    HttpResponse::NoContent().finish()
}

async fn behaviour(shared: Data) -> HttpResponse {
    HttpResponse::Ok().json(&shared.world().behaviour)
}

/// Merges the given switches into the current behaviour.
async fn set_behaviour(shared: Data, body: web::Json<serde_json::Value>) -> HttpResponse {
    let mut world = shared.world();
    let mut current = match serde_json::to_value(&world.behaviour) {
        Ok(v) => v,
        Err(e) => return bad_request(e.to_string()),
    };
    let (Some(target), Some(patch)) = (current.as_object_mut(), body.as_object()) else {
        return bad_request("expected a JSON object");
    };
    for (k, v) in patch {
        if !target.contains_key(k) {
            return bad_request(format!("unknown behaviour switch {k}"));
        }
        target.insert(k.clone(), v.clone());
    }
    match serde_json::from_value::<Behaviour>(current) {
        Ok(behaviour) => {
            world.behaviour = behaviour;
            HttpResponse::Ok().json(&world.behaviour)
        }
        Err(e) => bad_request(e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSecret {
    value: String,
    expires_at: Option<DateTime<Utc>>,
}

async fn add_secret(shared: Data, body: web::Json<NewSecret>) -> HttpResponse {
    let body = body.into_inner();
    let secret = AppSecret::new(body.value, body.expires_at);
    let shown = json!({"id": secret.id, "hint": secret.hint, "expires_at": secret.expires_at});
    shared.world().app.secrets.push(secret);
    HttpResponse::Created().json(shown)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCertificate {
    /// PEM, or base64 DER.
    certificate: String,
}

async fn add_certificate(shared: Data, body: web::Json<NewCertificate>) -> HttpResponse {
    match CertInfo::from_text(&body.certificate) {
        Ok(cert) => {
            let thumbprint = cert.thumbprint.clone();
            shared.world().app.certificates.push(cert);
            HttpResponse::Created().json(json!({"thumbprint": thumbprint}))
        }
        Err(e) => bad_request(e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRedirect {
    uri: String,
}

async fn add_redirect_uri(shared: Data, body: web::Json<NewRedirect>) -> HttpResponse {
    if url::Url::parse(&body.uri).is_err() {
        return bad_request("not an absolute URL");
    }
    let mut world = shared.world();
    if !world.app.redirect_uris.contains(&body.uri) {
        world.app.redirect_uris.push(body.uri.clone());
    }
    HttpResponse::Created().json(&world.app.redirect_uris)
}
