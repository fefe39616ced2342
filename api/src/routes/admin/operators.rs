//! `GET /admin/v1/me`: who the presented operator token names, and until when;
//! `POST /admin/v1/operator-tokens/revoke`: ends a token before it expires (a leaked one, or
//! one's own at sign-out).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    DomainError,
    operator::audit,
    operator::tokens::{self, OperatorClaims},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ErrorBody},
    extractors::Operator,
    state::Services,
};

/// The operator a token names.
#[derive(Serialize, ToSchema)]
pub struct MeView {
    #[schema(example = "alice")]
    name: String,
    /// The token's id, to revoke it.
    token_id: String,
    issued_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

/// The operator the presented token names.
#[utoipa::path(
    get,
    path = "/admin/v1/me",
    operation_id = "admin_me",
    responses(
        (status = 200, description = "The operator", body = MeView),
        (status = 401, description = "Missing, expired, revoked or invalid operator token", body = ErrorBody),
    ),
)]
pub async fn me(
    operator: Operator,
    _query: web::Query<crate::pagination::NoQuery>,
) -> HttpResponse {
    HttpResponse::Ok().json(MeView {
        name: operator.name.clone(),
        token_id: operator.claims.jti.clone(),
        issued_at: DateTime::from_timestamp(operator.claims.iat, 0),
        expires_at: DateTime::from_timestamp(operator.claims.exp, 0),
    })
}

/// Which token to revoke: the token itself, or its id (`token_id` of `GET /admin/v1/me`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token_id": "0529bf0c-1206-4750-bf66-d299f7ccd379"}))]
pub struct Revoke {
    token: Option<String>,
    token_id: Option<String>,
}

/// Revokes an operator token before it expires; every later request with it gets 401.
#[utoipa::path(
    post,
    path = "/admin/v1/operator-tokens/revoke",
    operation_id = "admin_operator_tokens_revoke",
    request_body = Revoke,
    responses(
        (status = 200, description = "Revoked (or revoked already)"),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing, expired, revoked or invalid operator token", body = ErrorBody),
        (status = 422, description = "Neither a valid token nor a token id", body = ErrorBody),
    ),
)]
pub async fn revoke(
    operator: Operator,
    state: web::Data<Services>,
    body: web::Json<Revoke>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let claims = match (&body.token, &body.token_id) {
        (Some(token), None) => {
            let key = state.settings.admin_signing_key();
            match tokens::verify(&key, token, now) {
                Ok(claims) => claims,
                Err(tokens::TokenError::Expired) => {
                    return Ok(HttpResponse::Ok().json(
                        json!({"revoked": false, "reason": "the token has expired already"}),
                    ));
                }
                Err(_) => {
                    return Err(DomainError::invalid_field(
                        "token",
                        "token is not an operator token signed by this deployment",
                    )
                    .into());
                }
            }
        }
        (None, Some(id)) if tokens::valid_token_id(id.trim()) => OperatorClaims {
            sub: String::new(),
            iss: String::new(),
            aud: String::new(),
            iat: now.timestamp(),
            exp: (now + tokens::MAX_TTL).timestamp(),
            jti: id.trim().to_owned(),
        },
        _ => {
            return Err(DomainError::invalid(
                "give either token or token_id (1 to 100 characters on one line)",
            )
            .into());
        }
    };
    let revoked = tokens::revoke(&state.db, &claims, &operator.name, now).await?;
    let entry = operator
        .audit("operator_token.revoked")
        .target("operator_token", &claims.jti)
        .details(json!({"operator": claims.sub, "newly_revoked": revoked}));
    audit::record(&state.db, &state.clock, entry).await?;
    Ok(HttpResponse::Ok().json(json!({"revoked": true, "token_id": claims.jti})))
}
