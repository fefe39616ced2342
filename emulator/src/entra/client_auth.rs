//! Client authentication at the token endpoint (§8.2), the same for every grant: a client
//! secret (in the form or HTTP Basic, RFC 6749 §2.3.1) or a certificate client assertion
//! (`private_key_jwt`), checked for signature, `x5t`, `aud`, `iss`/`sub` and time.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::{http::entra_error, server::Shared};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Adds `client_id` and `client_secret` from `Authorization: Basic` to the form, unless the
/// form has them already.
pub fn merge_basic_auth(req: &HttpRequest, form: &mut HashMap<String, String>) {
    if let Some((id, secret)) = basic_auth(req) {
        form.entry("client_id".into()).or_insert(id);
        form.entry("client_secret".into()).or_insert(secret);
    }
}

/// Checks the client's credential in the form; `Ok` carries `appidacr`: "1" for a secret, "2"
/// for a certificate.
pub fn authenticate(
    shared: &Shared,
    form: &HashMap<String, String>,
    tenant: &str,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<&'static str, HttpResponse> {
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
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
