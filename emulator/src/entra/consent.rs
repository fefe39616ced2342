//! Admin consent (§8.1): `/{tenant}/adminconsent` (v1) and `/{tenant}/v2.0/adminconsent` (v2,
//! `scope` required). A page lets a person pick a tenant and Accept or Cancel; the
//! `consent_mode` switch accepts or declines at once for API tests. The redirect back carries
//! `admin_consent=True` (capital T), `tenant` and `state` on success (plus `scope` on v2), and
//! `error`, `error_description`, `error_uri`, `admin_consent=True` and `state`, but no `tenant`,
//! on errors. An unregistered `redirect_uri` gets an error page, never a redirect.
//!
//! A declined consent (the page's Cancel, or `consent_mode = "auto_decline"`) redirects with
//! AADSTS65004 and the `error` that `consent_decline_error` picks among §8.1's three:
//! `access_denied` (default, what Entra really sends), `permission_denied` (the v1 docs: the
//! admin canceled the request) or `consent_required` (the v2 docs).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::redirects::{error_details, hidden, redirect, registered};
use crate::{
    config::ConsentMode,
    http::{entra_error_page, escape_html},
    shared::Data,
    state::is_consumers,
};

#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    scope: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

pub async fn start_v1(
    shared: Data,
    tenant: web::Path<String>,
    query: web::Query<ConsentQuery>,
) -> HttpResponse {
    start(shared, tenant.into_inner(), query.into_inner(), Version::V1)
}

pub async fn start_v2(
    shared: Data,
    tenant: web::Path<String>,
    query: web::Query<ConsentQuery>,
) -> HttpResponse {
    start(shared, tenant.into_inner(), query.into_inner(), Version::V2)
}

fn start(shared: Data, tenant: String, query: ConsentQuery, version: Version) -> HttpResponse {
    let now = shared.clock.now();
    let (app_id, redirect_uris, mode, auto_tenant) = {
        let world = shared.world();
        (
            world.app.client_id,
            world.app.redirect_uris.clone(),
            world.behaviour.consent_mode,
            world.behaviour.auto_accept_tenant,
        )
    };
    let client_id = query.client_id.unwrap_or_default();
    if Uuid::parse_str(&client_id).ok() != Some(app_id) {
        return entra_error_page(
            now,
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    }
    let Some(redirect_uri) = query
        .redirect_uri
        .filter(|uri| registered(&redirect_uris, uri))
    else {
        return entra_error_page(
            now,
            50011,
            &format!(
                "The redirect URI specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."
            ),
        );
    };
    let named_tenant = match named_tenant(&shared, &tenant) {
        Ok(named) => named,
        Err(page) => return page,
    };
    let state = query.state;
    let scope = query.scope;
    if version == Version::V2 && scope.as_deref().is_none_or(str::is_empty) {
        return error_redirect(
            &shared,
            &redirect_uri,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
            state.as_deref(),
        );
    }
    let flow = Flow {
        redirect_uri,
        state,
        scope: if version == Version::V2 { scope } else { None },
    };
    match mode {
        ConsentMode::AutoDecline => decline(&shared, &flow),
        ConsentMode::AutoAccept => match named_tenant
            .or(auto_tenant)
            .or_else(|| only_organization(&shared))
        {
            Some(tenant) => accept(&shared, tenant, &flow),
            None => entra_error_page(
                now,
                90002,
                "No tenant to consent in: name one in the URL or set auto_accept_tenant.",
            ),
        },
        ConsentMode::Interactive => page(&shared, named_tenant, &client_id, &flow),
    }
}

/// The tenant the URL names, `None` for `common` and `organizations`; an error page for an
/// unknown tenant or the consumers tenant, where no administrator can consent.
fn named_tenant(shared: &Data, tenant: &str) -> Result<Option<Uuid>, HttpResponse> {
    let now = shared.clock.now();
    let multi = matches!(
        tenant.to_ascii_lowercase().as_str(),
        "common" | "organizations"
    );
    if multi {
        return Ok(None);
    }
    let Some(named) = shared.world().find_tenant(tenant).map(|t| t.id) else {
        return Err(entra_error_page(
            now,
            90002,
            &format!("Tenant '{tenant}' not found."),
        ));
    };
    if is_consumers(named) {
        return Err(entra_error_page(
            now,
            90023,
            "Admin consent is not supported for the consumers tenant: personal Microsoft accounts cannot consent for an organization. Use /organizations or the organization's tenant id.",
        ));
    }
    Ok(Some(named))
}

/// The organization an auto-accepted consent goes to when the emulator holds only one.
fn only_organization(shared: &Data) -> Option<Uuid> {
    let world = shared.world();
    let mut organizations = world.tenants.keys().filter(|t| !is_consumers(**t));
    match (organizations.next(), organizations.next()) {
        (Some(only), None) => Some(*only),
        _ => None,
    }
}

struct Flow {
    redirect_uri: String,
    state: Option<String>,
    scope: Option<String>,
}

fn accept(shared: &Data, tenant: Uuid, flow: &Flow) -> HttpResponse {
    let now = shared.clock.now();
    {
        let mut world = shared.world();
        let roles = world.app.roles.clone();
        world.grant_consent(tenant, roles, now);
        if let Some(t) = world.tenants.get_mut(&tenant) {
            t.revoked_at = None;
        }
    }
    let tenant = tenant.to_string();
    let mut params = vec![("admin_consent", "True"), ("tenant", tenant.as_str())];
    if let Some(state) = &flow.state {
        params.push(("state", state));
    }
    if let Some(scope) = &flow.scope {
        params.push(("scope", scope));
    }
    redirect(&flow.redirect_uri, &params)
}

fn decline(shared: &Data, flow: &Flow) -> HttpResponse {
    let error = shared.world().behaviour.consent_decline_error;
    error_redirect(
        shared,
        &flow.redirect_uri,
        error.as_str(),
        65004,
        "User declined to consent to access the app.",
        flow.state.as_deref(),
    )
}

fn error_redirect(
    shared: &Data,
    redirect_uri: &str,
    error: &str,
    code: u32,
    message: &str,
    state: Option<&str>,
) -> HttpResponse {
    let (description, error_uri) = error_details(shared.clock.now(), code, message);
    let mut params = vec![
        ("error", error),
        ("error_description", description.as_str()),
        ("error_uri", error_uri.as_str()),
        ("admin_consent", "True"),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect(redirect_uri, &params)
}

fn page(shared: &Data, named_tenant: Option<Uuid>, client_id: &str, flow: &Flow) -> HttpResponse {
    let world = shared.world();
    let tenants: Vec<_> = world
        .tenants
        .values()
        .filter(|t| named_tenant.is_none_or(|id| id == t.id) && !is_consumers(t.id))
        .collect();
    let options: String = tenants
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "<div><input type=\"radio\" name=\"tenant\" id=\"t{i}\" value=\"{}\"{}><label for=\"t{i}\">{} ({})</label></div>",
                t.id,
                if i == 0 { " checked" } else { "" },
                escape_html(&t.display_name),
                escape_html(&t.domain)
            )
        })
        .collect();
    let roles: String = world
        .app
        .roles
        .iter()
        .map(|r| format!("<li>{}</li>", escape_html(r)))
        .collect();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Permissions requested</title></head><body><main>\
         <h1>Permissions requested</h1><p><strong>{app}</strong> (emulated Entra ID) asks for these application permissions in your organization:</p>\
         <ul>{roles}</ul>\
         <form method=\"post\" action=\"/_emulator/consent/decide\"><fieldset><legend>Organization</legend>{options}</fieldset>\
         {client}{redirect}{state}{scope}\
         <button type=\"submit\" name=\"decision\" value=\"accept\">Accept</button> \
         <button type=\"submit\" name=\"decision\" value=\"cancel\">Cancel</button></form></main></body></html>",
        app = escape_html(&world.app.display_name),
        client = hidden("client_id", client_id),
        redirect = hidden("redirect_uri", &flow.redirect_uri),
        state = flow
            .state
            .as_deref()
            .map(|s| hidden("state", s))
            .unwrap_or_default(),
        scope = flow
            .scope
            .as_deref()
            .map(|s| hidden("scope", s))
            .unwrap_or_default(),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

#[derive(Debug, Deserialize)]
pub struct Decision {
    tenant: Option<Uuid>,
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    scope: Option<String>,
    decision: String,
}

/// The consent page's form.
pub async fn decide(shared: Data, form: web::Form<Decision>) -> HttpResponse {
    let form = form.into_inner();
    let now = shared.clock.now();
    let (app_id, redirect_uris) = {
        let world = shared.world();
        (world.app.client_id, world.app.redirect_uris.clone())
    };
    if Uuid::parse_str(&form.client_id).ok() != Some(app_id)
        || !registered(&redirect_uris, &form.redirect_uri)
    {
        return entra_error_page(
            now,
            50011,
            "The redirect URI specified in the request does not match the redirect URIs configured for the application.",
        );
    }
    let flow = Flow {
        redirect_uri: form.redirect_uri,
        state: form.state,
        scope: form.scope,
    };
    if form.decision != "accept" {
        return decline(&shared, &flow);
    }
    match form
        .tenant
        .filter(|t| !is_consumers(*t) && shared.world().tenants.contains_key(t))
    {
        Some(tenant) => accept(&shared, tenant, &flow),
        None => entra_error_page(now, 90002, "Choose an organization."),
    }
}
