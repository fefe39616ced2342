//! Client authentication at the token endpoint (§8.2), the same for every grant: a client
//! secret (in the form or HTTP Basic, RFC 6749 §2.3.1) or a certificate client assertion
//! (`private_key_jwt`), checked for signature, `x5t`, `aud`, `iss`/`sub` and time.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use uuid::Uuid;

use super::request::Audience;
use crate::{http::entra_error, shared::Shared};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Adds `client_id` and `client_secret` from `Authorization: Basic` to the form, unless the
/// form has them already.
pub fn merge_basic_auth(req: &HttpRequest, form: &mut HashMap<String, String>) {
    if let Some((id, secret)) = basic_auth(req) {
        form.entry("client_id".into()).or_insert(id);
        form.entry("client_secret".into()).or_insert(secret);
    }
}

/// A request to the token endpoint as the grants read it: the URL's tenant segment, the form
/// (with HTTP Basic credentials merged in) and when it arrived.
#[derive(Clone, Copy)]
pub struct TokenRequest<'a> {
    pub shared: &'a Shared,
    pub segment: &'a str,
    pub form: &'a HashMap<String, String>,
    pub now: DateTime<Utc>,
}

impl<'a> TokenRequest<'a> {
    /// A form field, `None` when absent or empty (Entra treats both alike).
    pub fn field(&self, name: &str) -> Option<&'a str> {
        field(self.form, name)
    }

    /// AADSTS900144: a required form field is missing.
    pub fn missing(&self, name: &str) -> HttpResponse {
        entra_error(
            self.now,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{name}'."),
        )
    }
}

fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    form.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// AADSTS90002: the tenant segment names no tenant this grant can use.
pub fn tenant_not_found(now: DateTime<Utc>, segment: &str) -> HttpResponse {
    entra_error(
        now,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
    )
}

/// AADSTS700016: `client_id` is not the registered app.
pub fn unknown_client(now: DateTime<Utc>, client_id: &str, segment: &str) -> HttpResponse {
    entra_error(
        now,
        "unauthorized_client",
        700016,
        &format!(
            "Application with identifier '{client_id}' was not found in the directory '{segment}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

/// The client of a grant on behalf of a user (authorization code, refresh token), once it has
/// proven who it is.
pub struct UserGrantClient {
    /// Which tenants the tenant segment lets the grant's user come from.
    pub audience: Audience,
    pub app_id: Uuid,
    pub app_name: String,
    /// `appidacr`.
    pub acr: &'static str,
}

/// What the user grants check first, in Entra's order: the tenant segment, `client_id`, that it
/// is the registered app, and the client's credential.
pub fn user_grant_client(request: &TokenRequest<'_>) -> Result<UserGrantClient, HttpResponse> {
    let (shared, segment, now) = (request.shared, request.segment, request.now);
    let found = Audience::of_segment(&shared.world(), segment);
    let Some(audience) = found else {
        return Err(tenant_not_found(now, segment));
    };
    let Some(client_id) = request.field("client_id") else {
        return Err(request.missing("client_id"));
    };
    let (app_id, app_name) = {
        let world = shared.world();
        (world.app.client_id, world.app.display_name.clone())
    };
    if Uuid::parse_str(client_id).ok() != Some(app_id) {
        return Err(unknown_client(now, client_id, segment));
    }
    let acr = authenticate(request, client_id)?;
    Ok(UserGrantClient {
        audience,
        app_id,
        app_name,
        acr,
    })
}

/// Checks the client's credential in the form; `Ok` carries `appidacr`: "1" for a secret, "2"
/// for a certificate.
pub fn authenticate(
    request: &TokenRequest<'_>,
    client_id: &str,
) -> Result<&'static str, HttpResponse> {
    let (shared, tenant, now) = (request.shared, request.segment, request.now);
    let field = |name: &str| request.field(name);
    let credential = match (
        field("client_secret"),
        field("client_assertion_type"),
        field("client_assertion"),
    ) {
        (_, Some(ASSERTION_TYPE), Some(assertion)) => Credential::Assertion(assertion),
        (_, Some(other), Some(_)) => {
            return Err(entra_error(
                now,
                "invalid_request",
                50027,
                &format!("The client_assertion_type '{other}' is not supported."),
            ));
        }
        (Some(secret), _, _) => Credential::Secret(secret),
        _ => {
            return Err(entra_error(
                now,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
    };
    match credential {
        Credential::Secret(secret) => check_secret(shared, secret, now).map(|()| "1"),
        Credential::Assertion(assertion) => {
            check_assertion(shared, assertion, tenant, client_id, now).map(|()| "2")
        }
    }
}

#[derive(Deserialize)]
struct AssertionClaims {
    aud: serde_json::Value,
    iss: String,
    sub: String,
    exp: i64,
    nbf: Option<i64>,
}

enum Credential<'a> {
    Secret(&'a str),
    Assertion(&'a str),
}

/// `client_id` and `client_secret` from `Authorization: Basic` (RFC 6749 §2.3.1).
fn basic_auth(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

fn check_secret(shared: &Shared, presented: &str, now: DateTime<Utc>) -> Result<(), HttpResponse> {
    let world = shared.world();
    let matching = world
        .app
        .secrets
        .iter()
        .find(|s| graphhook_platform::secret::constant_time_eq(presented, &s.value));
    match matching {
        Some(secret) if secret.expires_at.is_some_and(|at| at <= now) => Err(entra_error(
            now,
            "invalid_client",
            7000222,
            &format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app.",
                world.app.client_id
            ),
        )),
        Some(_) => Ok(()),
        None => Err(entra_error(
            now,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.",
        )),
    }
}

fn check_assertion(
    shared: &Shared,
    assertion: &str,
    tenant: &str,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), HttpResponse> {
    let invalid = |reason: &str| {
        entra_error(
            now,
            "invalid_client",
            700027,
            &format!("Client assertion failed signature validation. [Reason - {reason}]"),
        )
    };
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| invalid("The assertion is not a well-formed JWT."))?;
    let thumbprint = header
        .x5t
        .clone()
        .ok_or_else(|| invalid("The assertion header has no x5t."))?;
    let cert = {
        let world = shared.world();
        world
            .app
            .certificates
            .iter()
            .find(|c| c.thumbprint == thumbprint)
            .cloned()
    };
    let cert = cert.ok_or_else(|| {
        invalid(&format!(
            "The key was not found., Thumbprint of key used by client: '{thumbprint}'"
        ))
    })?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.algorithms = vec![Algorithm::RS256, Algorithm::PS256];
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<AssertionClaims>(
        assertion,
        &cert.decoding_key(),
        &validation,
    )
    .map_err(|_| {
        invalid("The signature of the client assertion does not match the registered certificate.")
    })?;
    let claims = data.claims;
    let audiences: Vec<String> = match &claims.aud {
        serde_json::Value::String(a) => vec![a.clone()],
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let accepted = [
        shared.token_endpoint(tenant),
        format!("{}/{tenant}/oauth2/token", shared.base_url),
        format!("{}/{tenant}/v2.0", shared.base_url),
    ];
    if !audiences
        .iter()
        .any(|a| accepted.iter().any(|ok| ok.eq_ignore_ascii_case(a)))
    {
        return Err(invalid(&format!(
            "The audience of the client assertion is not the token endpoint {}.",
            accepted[0]
        )));
    }
    if claims.iss != client_id || claims.sub != client_id {
        return Err(invalid(
            "The client assertion's iss and sub must be the client id.",
        ));
    }
    let ts = now.timestamp();
    if claims.exp <= ts || claims.nbf.is_some_and(|nbf| nbf > ts + 300) {
        return Err(entra_error(
            now,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    Ok(())
}
