//! The token endpoint: it authenticates the client ([`super::client_auth`]) and dispatches on
//! `grant_type`. The client-credentials grant (§8.2) lives here and issues v1-shaped RS256
//! app-only access tokens for Graph (§8.3); the authorization-code grant of a sign-in is
//! [`super::code_grant`] and the refresh-token grant [`super::refresh_grant`].

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::{
    GRAPH_APP_ID, GRAPH_AUDIENCE,
    claims::{Issued, header},
    client_auth::{self, TokenRequest},
    code_grant, refresh_grant, token_ok,
};
use crate::{
    config::{Behaviour, PropagationEffect},
    crypto::SigningKey,
    http::entra_error,
    shared::Data,
    state::ServicePrincipal,
};

/// The claims of an app-only Graph access token (v1 shape).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    #[serde(flatten)]
    pub issued: Issued,
    pub aio: String,
    pub app_displayname: String,
    pub appid: String,
    pub appidacr: String,
    pub idp: String,
    pub idtyp: String,
    pub oid: String,
    pub rh: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    pub sub: String,
    pub tenant_region_scope: String,
    pub tid: String,
    pub uti: String,
    pub ver: String,
    pub xms_tcdt: i64,
}

/// What an access token says.
pub struct Grant<'a> {
    pub tenant: Uuid,
    pub app_id: Uuid,
    pub app_name: &'a str,
    pub service_principal: Uuid,
    pub roles: Option<Vec<String>>,
    /// `appidacr`: "1" for a secret, "2" for a certificate.
    pub credential: &'a str,
    pub now: DateTime<Utc>,
    pub lifetime: Duration,
}

/// Signs an access token for Graph.
pub fn issue_access_token(
    key: &SigningKey,
    grant: Grant<'_>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let Grant {
        tenant,
        app_id,
        app_name,
        service_principal,
        roles,
        credential,
        now,
        lifetime,
    } = grant;
    let iss = format!("https://sts.windows.net/{tenant}/");
    let claims = AccessTokenClaims {
        issued: Issued::new(GRAPH_AUDIENCE, iss.clone(), now, lifetime),
        aio: Uuid::new_v4().simple().to_string(),
        app_displayname: app_name.into(),
        appid: app_id.to_string(),
        appidacr: credential.into(),
        idp: iss,
        idtyp: "app".into(),
        oid: service_principal.to_string(),
        rh: format!("0.{}.", Uuid::new_v4().simple()),
        roles,
        sub: service_principal.to_string(),
        tenant_region_scope: "WW".into(),
        tid: tenant.to_string(),
        uti: Uuid::new_v4().simple().to_string(),
        ver: "1.0".into(),
        xms_tcdt: (now - Duration::days(365)).timestamp(),
    };
    let mut header = header(key);
    header.x5t = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, &claims, &key.encoding)
}

pub async fn token(
    shared: Data,
    req: HttpRequest,
    tenant: web::Path<String>,
    form: Option<web::Form<HashMap<String, String>>>,
) -> HttpResponse {
    let now = shared.clock.now();
    let tenant = tenant.into_inner();
    *shared
        .world()
        .token_requests
        .entry(tenant.to_lowercase())
        .or_default() += 1;
    let mut form = form.map(web::Form::into_inner).unwrap_or_default();
    client_auth::merge_basic_auth(&req, &mut form);
    let request = TokenRequest {
        shared: &shared,
        segment: &tenant,
        form: &form,
        now,
    };
    match form.get("grant_type").map(String::as_str) {
        None | Some("") => entra_error(
            now,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
        Some("client_credentials") => client_credentials(&request),
        Some("authorization_code") => code_grant::redeem(&request),
        Some("refresh_token") => refresh_grant::redeem(&request),
        Some(other) => entra_error(
            now,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

/// A client-credentials `scope` must be exactly Graph's `/.default`.
fn check_app_scope(scope: &str, now: DateTime<Utc>) -> Result<(), HttpResponse> {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let graph_default = [
        format!("{GRAPH_AUDIENCE}/.default"),
        format!("{GRAPH_APP_ID}/.default"),
    ];
    if scopes.len() == 1 && !scopes[0].ends_with("/.default") {
        return Err(entra_error(
            now,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    if scopes.len() != 1
        || !graph_default
            .iter()
            .any(|d| d.eq_ignore_ascii_case(scopes[0]))
    {
        return Err(entra_error(
            now,
            "invalid_scope",
            70011,
            &format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        ));
    }
    Ok(())
}

/// The app roles the token carries: the service principal's, or while a fresh consent is
/// still propagating, what `propagation_effect` says (`Err` for a refusal).
fn app_roles(
    sp: &ServicePrincipal,
    behaviour: &Behaviour,
    now: DateTime<Utc>,
) -> Result<Option<Vec<String>>, PropagationEffect> {
    let propagating = sp
        .granted_at
        .is_some_and(|at| now < at + Duration::seconds(behaviour.consent_propagation_secs as i64));
    if propagating {
        return match behaviour.propagation_effect {
            PropagationEffect::NoRoles => Ok(None),
            refusal => Err(refusal),
        };
    }
    Ok((!sp.roles.is_empty()).then(|| sp.roles.clone()))
}

/// The client-credentials grant: an app-only token for the tenant named in the URL.
fn client_credentials(request: &TokenRequest<'_>) -> HttpResponse {
    let (shared, tenant, now) = (request.shared, request.segment, request.now);
    if matches!(
        tenant.to_ascii_lowercase().as_str(),
        "common" | "organizations" | "consumers"
    ) {
        return client_auth::tenant_not_found(now, tenant);
    }
    let Some(tenant_id) = shared.world().find_tenant(tenant).map(|t| t.id) else {
        return client_auth::tenant_not_found(now, tenant);
    };
    let Some(client_id) = request.field("client_id") else {
        return request.missing("client_id");
    };
    let (app_id, app_name) = {
        let world = shared.world();
        (world.app.client_id, world.app.display_name.clone())
    };
    let not_found = || client_auth::unknown_client(now, client_id, tenant);
    if Uuid::parse_str(client_id).ok() != Some(app_id) {
        return not_found();
    }
    let scope = request.field("scope").unwrap_or_default();
    if let Err(response) = check_app_scope(scope, now) {
        return response;
    }
    let acr = match client_auth::authenticate(request, client_id) {
        Ok(acr) => acr,
        Err(response) => return response,
    };

    let (sp, behaviour) = {
        let world = shared.world();
        let sp = world
            .tenants
            .get(&tenant_id)
            .and_then(|t| t.service_principal.clone());
        (sp, world.behaviour.clone())
    };
    let Some(sp) = sp else { return not_found() };
    let roles = match app_roles(&sp, &behaviour, now) {
        Ok(roles) => roles,
        Err(PropagationEffect::ConsentRequired) => {
            return entra_error(
                now,
                "invalid_grant",
                65001,
                &format!(
                    "The user or administrator has not consented to use the application with ID '{client_id}' named '{app_name}'. Send an interactive authorization request for this user and resource."
                ),
            );
        }
        Err(_) => return not_found(),
    };
    let lifetime = Duration::seconds(behaviour.token_lifetime_secs as i64);
    let grant = Grant {
        tenant: tenant_id,
        app_id,
        app_name: &app_name,
        service_principal: sp.object_id,
        roles,
        credential: acr,
        now,
        lifetime,
    };
    let token = match issue_access_token(&shared.key, grant) {
        Ok(token) => token,
        Err(e) => return HttpResponse::InternalServerError().body(e.to_string()),
    };
    token_ok(json!({
        "token_type": "Bearer",
        "expires_in": behaviour.token_lifetime_secs,
        "ext_expires_in": behaviour.token_lifetime_secs,
        "access_token": token,
    }))
}
