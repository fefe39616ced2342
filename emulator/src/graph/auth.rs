//! Bearer-token checks as Graph makes them: a token signed by the (emulated) Entra, for Graph's
//! audience, within its lifetime, for a tenant that exists.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use jsonwebtoken::{Algorithm, Validation};
use uuid::Uuid;

use crate::{entra::AccessTokenClaims, http::graph_error, server::Shared};

/// The app and tenant a valid token speaks for.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: Uuid,
    pub app_id: Uuid,
    /// The service principal's object id (the subscription's `creatorId`).
    pub object_id: Uuid,
    pub roles: Vec<String>,
}

impl Caller {
    pub fn has_any_role(&self, roles: &[&str]) -> bool {
        self.roles.iter().any(|r| roles.contains(&r.as_str()))
    }
}

pub fn authenticate(req: &HttpRequest, shared: &Shared) -> Result<Caller, HttpResponse> {
    let now = shared.clock.now();
    let unauthorized = |message: &str| {
        graph_error(
            req,
            now,
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
    };
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .unwrap_or_default();
    if token.is_empty() {
        return Err(unauthorized("Access token is empty."));
    }
    let Ok(head) = jsonwebtoken::decode_header(token) else {
        return Err(unauthorized(
            "IDX14100: JWT is not well formed, there are no dots (.).",
        ));
    };
    if head.kid.as_deref() != Some(shared.key.kid()) {
        return Err(unauthorized(
            "Access token validation failure. Invalid signing key.",
        ));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let Ok(data) = jsonwebtoken::decode::<AccessTokenClaims>(
        token,
        &shared.key.cert.decoding_key(),
        &validation,
    ) else {
        return Err(unauthorized("Access token validation failure."));
    };
    let claims = data.claims;
    let audiences = [
        "https://graph.microsoft.com",
        "https://graph.microsoft.com/",
        "00000003-0000-0000-c000-000000000000",
    ];
    if !audiences.contains(&claims.aud.as_str()) {
        return Err(unauthorized(
            "Access token validation failure. Invalid audience.",
        ));
    }
    let ts = now.timestamp();
    if claims.exp <= ts {
        return Err(unauthorized(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    if claims.nbf > ts + 300 {
        return Err(unauthorized(
            "Lifetime validation failed, the token is not yet valid.",
        ));
    }
    let (Ok(tenant), Ok(app_id), Ok(object_id)) = (
        Uuid::parse_str(&claims.tid),
        Uuid::parse_str(&claims.appid),
        Uuid::parse_str(&claims.oid),
    ) else {
        return Err(unauthorized("Access token validation failure."));
    };
    if !shared.world().tenants.contains_key(&tenant) {
        return Err(unauthorized(
            "Access token validation failure. Invalid tenant.",
        ));
    }
    Ok(Caller {
        tenant,
        app_id,
        object_id,
        roles: claims.roles.unwrap_or_default(),
    })
}
