//! Bearer-token checks as Graph makes them: a token signed by the (emulated) Entra, for Graph's
//! audience, within its lifetime, for a tenant that exists. An app-only token speaks for the
//! app's service principal with its `roles`; a delegated token (`scp`) for a signed-in user,
//! work or school or personal (tenant `9188040d-…`).

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    http::graph_error,
    shared::Shared,
    state::{User, is_consumers},
};

/// The app and tenant a valid token speaks for.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: Uuid,
    pub app_id: Uuid,
    /// The service principal's object id, or the signed-in user's (the subscription's
    /// `creatorId`).
    pub object_id: Uuid,
    /// Application permissions (app-only tokens).
    pub roles: Vec<String>,
    /// The signed-in user of a delegated token.
    pub delegated: Option<Delegated>,
}

/// What a delegated token says about its user.
#[derive(Clone, Debug)]
pub struct Delegated {
    pub user: User,
    /// The `scp` permissions.
    pub scopes: Vec<String>,
    /// A personal Microsoft account (tenant `9188040d-…`).
    pub personal: bool,
}

impl Caller {
    pub fn has_any_role(&self, roles: &[&str]) -> bool {
        self.roles.iter().any(|r| roles.contains(&r.as_str()))
    }

    /// The signed-in user's id, for a delegated token.
    pub fn user_id(&self) -> Option<Uuid> {
        self.delegated.as_ref().map(|d| d.user.id)
    }
}

impl Delegated {
    pub fn has_any_scope(&self, scopes: &[&str]) -> bool {
        self.scopes
            .iter()
            .any(|s| scopes.iter().any(|w| w.eq_ignore_ascii_case(s)))
    }
}

/// The claims Graph reads from either kind of access token.
#[derive(Deserialize)]
struct Claims {
    aud: String,
    exp: i64,
    nbf: i64,
    tid: String,
    appid: String,
    oid: String,
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    scp: Option<String>,
}

pub fn authenticate(req: &HttpRequest, shared: &Shared) -> Result<Caller, HttpResponse> {
    let now = shared.clock.now();
    caller(req, shared, now).map_err(|message| {
        graph_error(
            req,
            now,
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
    })
}

/// Who the request's token names, or why it is refused.
fn caller(req: &HttpRequest, shared: &Shared, now: DateTime<Utc>) -> Result<Caller, &'static str> {
    let claims = verified_claims(bearer_token(req), shared)?;
    check_audience_and_lifetime(&claims, now)?;
    let (Ok(tenant), Ok(app_id), Ok(object_id)) = (
        Uuid::parse_str(&claims.tid),
        Uuid::parse_str(&claims.appid),
        Uuid::parse_str(&claims.oid),
    ) else {
        return Err("Access token validation failure.");
    };
    if !shared.world().tenants.contains_key(&tenant) {
        return Err("Access token validation failure. Invalid tenant.");
    }
    let delegated = match claims.scp {
        None => None,
        Some(scp) => {
            let user = shared.world().user(tenant, object_id).cloned();
            let Some(user) = user else {
                return Err("Access token validation failure. The user does not exist.");
            };
            Some(Delegated {
                user,
                scopes: scp.split_whitespace().map(str::to_owned).collect(),
                personal: is_consumers(tenant),
            })
        }
    };
    Ok(Caller {
        tenant,
        app_id,
        object_id,
        roles: claims.roles.unwrap_or_default(),
        delegated,
    })
}

/// The `Authorization: Bearer` token, empty when there is none.
fn bearer_token(req: &HttpRequest) -> &str {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .unwrap_or_default()
}

/// The token's claims once its signature verifies against the emulator's key.
fn verified_claims(token: &str, shared: &Shared) -> Result<Claims, &'static str> {
    if token.is_empty() {
        return Err("Access token is empty.");
    }
    let Ok(head) = jsonwebtoken::decode_header(token) else {
        return Err("IDX14100: JWT is not well formed, there are no dots (.).");
    };
    if head.kid.as_deref() != Some(shared.key.kid()) {
        return Err("Access token validation failure. Invalid signing key.");
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Claims>(token, &shared.key.cert.decoding_key(), &validation)
        .map(|data| data.claims)
        .map_err(|_| "Access token validation failure.")
}

/// The token must be for Graph and within its lifetime (five minutes' skew on `nbf`).
fn check_audience_and_lifetime(claims: &Claims, now: DateTime<Utc>) -> Result<(), &'static str> {
    let audiences = [
        "https://graph.microsoft.com",
        "https://graph.microsoft.com/",
        "00000003-0000-0000-c000-000000000000",
    ];
    if !audiences.contains(&claims.aud.as_str()) {
        return Err("Access token validation failure. Invalid audience.");
    }
    let ts = now.timestamp();
    if claims.exp <= ts {
        return Err("Lifetime validation failed, the token is expired.");
    }
    if claims.nbf > ts + 300 {
        return Err("Lifetime validation failed, the token is not yet valid.");
    }
    Ok(())
}
