//! The OpenID Connect authorize endpoint, `GET /{tenant}/oauth2/v2.0/authorize`: the start of
//! the authorization code flow (with PKCE and a nonce) an app uses to sign a person in. The
//! tenant segment is `organizations` (work and school accounts), `consumers` (personal
//! Microsoft accounts), `common` (both), a tenant GUID or a verified domain, and decides whose
//! users may sign in. Once the user is known, [`super::permissions`] decides which delegated
//! Graph permissions the code grants.
//!
//! As in Entra, a request that cannot be trusted to redirect (unknown client, unregistered
//! `redirect_uri`, unknown tenant) gets an error page; every later error is a redirect to the
//! `redirect_uri` with `error`, `error_description` (AADSTS code and trailer), `error_uri` and
//! `state`. A valid request shows the sign-in page ([`super::sign_in_page`]), or signs the
//! `auto_sign_in_user` in at once. Signing in stores a single-use authorization code and
//! redirects with `code`, `state` and `session_state`. Only `response_mode=query` is emulated.

use actix_web::{HttpResponse, web};
use chrono::Duration;
use uuid::Uuid;

use super::{
    permissions::{self, Refusal},
    redirects::{error_details, redirect, registered},
    request::{Audience, AuthorizeQuery, SignInRequest},
    scopes::Scopes,
    sign_in_page,
};
use crate::{
    http::entra_error_page,
    shared::{Data, Shared},
    state::{
        AuthCode, DelegatedGrant, User, World,
        auth_codes::{CodeChallengeMethod, new_code},
        is_consumers,
    },
};

pub async fn authorize(
    shared: Data,
    tenant: web::Path<String>,
    query: web::Query<AuthorizeQuery>,
) -> HttpResponse {
    let query = query.into_inner();
    let request = match check(&shared, &tenant, &query) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let auto_user = shared.world().behaviour.auto_sign_in_user.clone();
    match auto_user {
        Some(name) => auto_sign_in(&shared, &request, &name),
        None if query.prompt.as_deref() == Some("none") => error_redirect(
            &shared,
            &request,
            "login_required",
            50058,
            "A silent sign-in request was sent but no user is signed in. The cookies used to represent the user's session were not sent in the request to Azure AD.",
            None,
        ),
        None => sign_in_page::page(&shared, &request, query.login_hint.as_deref()),
    }
}

/// The checks an authorize request (or the sign-in page's form) must pass, in Entra's order.
pub fn check(
    shared: &Shared,
    segment: &str,
    query: &AuthorizeQuery,
) -> Result<SignInRequest, HttpResponse> {
    let (client_id, redirect_uri, audience) = check_trusted(shared, segment, query)?;
    let mut request = SignInRequest {
        segment: segment.to_owned(),
        audience,
        client_id,
        redirect_uri,
        scope: query.scope.clone().unwrap_or_default(),
        state: query.state.clone(),
        nonce: query.nonce.clone().filter(|n| !n.is_empty()),
        code_challenge: None,
    };
    let personal_allowed = shared.world().app.sign_in_audience.allows_personal();
    let checked = if audience.consumers_only() && !personal_allowed {
        Err(permissions::not_enabled_for_consumers())
    } else {
        check_response_kind(query)
            .and_then(|()| check_scope(&request.scope))
            .and_then(|()| check_code_challenge(query))
    };
    match checked {
        Ok(challenge) => {
            request.code_challenge = challenge;
            Ok(request)
        }
        Err(refusal) => Err(error_redirect(
            shared,
            &request,
            refusal.error,
            refusal.code,
            &refusal.message,
            None,
        )),
    }
}

/// The checks whose failure is an error page rather than a redirect, since the redirect could
/// not be trusted: the client, its `redirect_uri` and the tenant.
fn check_trusted(
    shared: &Shared,
    segment: &str,
    query: &AuthorizeQuery,
) -> Result<(Uuid, String, Audience), HttpResponse> {
    let now = shared.clock.now();
    let (app_id, redirect_uris) = {
        let world = shared.world();
        (world.app.client_id, world.app.redirect_uris.clone())
    };
    let client_id = query.client_id.clone().unwrap_or_default();
    if Uuid::parse_str(&client_id).ok() != Some(app_id) {
        return Err(entra_error_page(
            now,
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{segment}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    }
    let Some(redirect_uri) = query
        .redirect_uri
        .clone()
        .filter(|uri| registered(&redirect_uris, uri))
    else {
        return Err(entra_error_page(
            now,
            50011,
            &format!(
                "The redirect URI '{}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.",
                query.redirect_uri.as_deref().unwrap_or_default()
            ),
        ));
    };
    let found = Audience::of_segment(&shared.world(), segment);
    let Some(audience) = found else {
        return Err(entra_error_page(
            now,
            90002,
            &format!(
                "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    };
    Ok((app_id, redirect_uri, audience))
}

/// A refusal redirected back to the app.
fn refusal(error: &'static str, code: u32, message: impl Into<String>) -> Refusal {
    Refusal {
        error,
        code,
        message: message.into(),
    }
}

/// `response_type` must be `code` and `response_mode` (if given) `query`.
fn check_response_kind(query: &AuthorizeQuery) -> Result<(), Refusal> {
    match query.response_type.as_deref() {
        Some("code") => {}
        None | Some("") => {
            return Err(refusal(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'response_type'.",
            ));
        }
        Some(other) => {
            return Err(refusal(
                "unsupported_response_type",
                700054,
                format!(
                    "response_type '{other}' is not enabled for the application. The emulated Entra ID supports the authorization code flow (response_type=code) only."
                ),
            ));
        }
    }
    match query.response_mode.as_deref() {
        None | Some("query") => Ok(()),
        Some(other) => Err(refusal(
            "invalid_request",
            90023,
            format!(
                "The response_mode '{other}' is not supported by the emulated Entra ID, which returns the authorization response in the query string only (response_mode=query)."
            ),
        )),
    }
}

/// The scope must be present and name Graph permissions only.
fn check_scope(scope: &str) -> Result<(), Refusal> {
    if scope.trim().is_empty() {
        return Err(refusal(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        ));
    }
    match Scopes::parse(scope) {
        Ok(_) => Ok(()),
        Err(scope) => Err(refusal(
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope '{scope}' does not exist: the emulated Entra ID issues user tokens for Microsoft Graph only."
            ),
        )),
    }
}

/// The PKCE challenge, if one is sent: a known method and 43 to 128 characters.
fn check_code_challenge(
    query: &AuthorizeQuery,
) -> Result<Option<(String, CodeChallengeMethod)>, Refusal> {
    let Some(challenge) = query.code_challenge.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let method = query.code_challenge_method.as_deref().unwrap_or("plain");
    let Some(method) = CodeChallengeMethod::parse(method) else {
        return Err(refusal(
            "invalid_request",
            50149,
            "Invalid Code_Challenge_method parameter. The code_challenge_method must be 'S256' or 'plain'.",
        ));
    };
    if !(43..=128).contains(&challenge.len()) {
        return Err(refusal(
            "invalid_request",
            501491,
            "Invalid size of Code_Challenge parameter.",
        ));
    }
    Ok(Some((challenge.to_owned(), method)))
}

/// Signs in the `auto_sign_in_user`: a UPN or object id of a user the URL's tenant allows.
fn auto_sign_in(shared: &Shared, request: &SignInRequest, name: &str) -> HttpResponse {
    let now = shared.clock.now();
    let (found, app_name, tenant_name) = {
        let world = shared.world();
        let tenant_name = match request.audience {
            Audience::Tenant(id) => world.tenants.get(&id).map(|t| t.display_name.clone()),
            _ => None,
        };
        (
            world.find_user(name).map(|(t, u)| (t.id, u.clone())),
            world.app.display_name.clone(),
            tenant_name.unwrap_or_else(|| request.segment.clone()),
        )
    };
    let segment = &request.segment;
    match found {
        Some((tenant, user)) if request.audience.allows(tenant) => {
            sign_in(shared, request, tenant, &user)
        }
        Some((home, user)) if is_consumers(home) => entra_error_page(
            now,
            500200,
            &format!(
                "User account '{}' is a personal Microsoft account. Personal Microsoft accounts are not supported for this application unless explicitly invited to an organization. Try signing out and signing back in with an organizational account.",
                user.user_principal_name
            ),
        ),
        Some((_, user)) if request.audience.consumers_only() => entra_error_page(
            now,
            50034,
            &format!(
                "The user account {} does not exist in the 'consumers' directory: only personal Microsoft accounts can sign in here.",
                user.user_principal_name
            ),
        ),
        Some((home, user)) => entra_error_page(
            now,
            50020,
            &format!(
                "User account '{}' from identity provider 'https://sts.windows.net/{home}/' does not exist in tenant '{tenant_name}' and cannot access the application '{}'({app_name}) in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Azure Active Directory user account.",
                user.user_principal_name, request.client_id
            ),
        ),
        None => entra_error_page(
            now,
            50034,
            &format!(
                "The user account {name} does not exist in the '{segment}' directory. To sign into this application, the account must be added to the directory."
            ),
        ),
    }
}

/// The permissions `user` of `tenant` gets for the request, or why none.
fn admit(world: &World, request: &SignInRequest, tenant: Uuid) -> Result<Vec<String>, Refusal> {
    if is_consumers(tenant) && !world.app.sign_in_audience.allows_personal() {
        return Err(permissions::not_enabled_for_consumers());
    }
    let scopes = Scopes::parse(&request.scope).unwrap_or_default();
    permissions::decide(world, tenant, &scopes)
}

/// Issues an authorization code for `user` and redirects back with it, or redirects with the
/// error when the user cannot have what the request asks for.
pub fn sign_in(
    shared: &Shared,
    request: &SignInRequest,
    tenant: Uuid,
    user: &User,
) -> HttpResponse {
    let now = shared.clock.now();
    let admitted = admit(&shared.world(), request, tenant);
    let granted = match admitted {
        Ok(granted) => granted,
        Err(refusal) => {
            return error_redirect(
                shared,
                request,
                refusal.error,
                refusal.code,
                &refusal.message,
                None,
            );
        }
    };
    let code = match new_code() {
        Ok(code) => code,
        Err(e) => return HttpResponse::InternalServerError().body(e.to_string()),
    };
    {
        let mut world = shared.world();
        let lifetime = Duration::seconds(world.behaviour.auth_code_lifetime_secs as i64);
        let grant = AuthCode {
            delegated: DelegatedGrant {
                client_id: request.client_id,
                tenant_id: tenant,
                user_id: user.id,
                scope: request.scope.clone(),
                granted,
            },
            redirect_uri: request.redirect_uri.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            issued_at: now,
            expires_at: now + lifetime,
            redeemed: false,
        };
        world.store_auth_code(code.clone(), grant, now);
    }
    let session_state = Uuid::new_v4().to_string();
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = &request.state {
        params.push(("state", state));
    }
    params.push(("session_state", &session_state));
    redirect(&request.redirect_uri, &params)
}

/// An error redirect to the request's `redirect_uri`; `subcode` adds `error_subcode` (e.g.
/// `cancel`).
pub fn error_redirect(
    shared: &Shared,
    request: &SignInRequest,
    error: &str,
    code: u32,
    message: &str,
    subcode: Option<&str>,
) -> HttpResponse {
    let (description, error_uri) = error_details(shared.clock.now(), code, message);
    let mut params = vec![("error", error)];
    if let Some(subcode) = subcode {
        params.push(("error_subcode", subcode));
    }
    params.push(("error_description", &description));
    params.push(("error_uri", &error_uri));
    if let Some(state) = &request.state {
        params.push(("state", state));
    }
    redirect(&request.redirect_uri, &params)
}
