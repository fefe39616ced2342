//! The token endpoint's authorization-code grant: the second half of a sign-in
//! ([`super::authorize`]). The tenant segment may be `organizations`, `common` or the user's
//! tenant; the client authenticates as for client credentials. The code must exist, be unused
//! (any attempt that reaches it uses it up, so a wrong PKCE verifier also burns it), be unexpired,
//! belong to this client and tenant and come with the same `redirect_uri`, and the
//! `code_verifier` must answer the PKCE challenge when the authorize request sent one. The
//! answer holds a delegated Graph access token and, when `openid` was asked for, an ID token.

use std::collections::HashMap;

use actix_web::HttpResponse;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{
    authorize::Audience,
    client_auth,
    scopes::Scopes,
    token::token_ok,
    user_tokens::{SignedIn, issue_delegated_access_token, issue_id_token},
};
use crate::{http::entra_error, server::Shared, state::AuthCode};

pub fn redeem(
    shared: &Shared,
    segment: &str,
    form: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> HttpResponse {
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let missing = |name: &str| {
        entra_error(
            now,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{name}'."),
        )
    };
    let audience = if matches!(
        segment.to_ascii_lowercase().as_str(),
        "organizations" | "common"
    ) {
        Audience::AnyTenant
    } else {
        match shared.world().find_tenant(segment) {
            Some(t) => Audience::Tenant(t.id),
            None => {
                return entra_error(
                    now,
                    "invalid_request",
                    90002,
                    &format!(
                        "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                    ),
                );
            }
        }
    };
    let Some(client_id) = field("client_id") else {
        return missing("client_id");
    };
    let (app_id, app_name) = {
        let world = shared.world();
        (world.app.client_id, world.app.display_name.clone())
    };
    if Uuid::parse_str(client_id).ok() != Some(app_id) {
        return entra_error(
            now,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{segment}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        );
    }
    let acr = match client_auth::authenticate(shared, form, segment, client_id, now) {
        Ok(acr) => acr,
        Err(response) => return response,
    };
    let Some(code) = field("code") else {
        return missing("code");
    };
    let Some(redirect_uri) = field("redirect_uri") else {
        return missing("redirect_uri");
    };
    let grant = match take(shared, code, now) {
        Ok(grant) => grant,
        Err(response) => return response,
    };
    let invalid = |code: u32, message: &str| entra_error(now, "invalid_grant", code, message);
    if now >= grant.expires_at {
        return invalid(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        );
    }
    if grant.client_id != app_id || !audience.allows(grant.tenant_id) {
        return invalid(
            70000,
            "The provided value for the 'code' parameter is not valid. The code was issued to another client or for another tenant.",
        );
    }
    if grant.redirect_uri != redirect_uri {
        return invalid(
            50011,
            &format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URI '{}' the authorization code was requested with.",
                grant.redirect_uri
            ),
        );
    }
    if let Some((challenge, method)) = &grant.code_challenge {
        let Some(verifier) = field("code_verifier") else {
            return invalid(
                50148,
                "The code_verifier is required because a code_challenge was supplied in the authorization request.",
            );
        };
        if !method.verifies(challenge, verifier) {
            return invalid(
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            );
        }
    }
    tokens(shared, &grant, &app_name, acr, now)
}

/// Looks the code up and uses it up.
fn take(shared: &Shared, code: &str, now: DateTime<Utc>) -> Result<AuthCode, HttpResponse> {
    let mut world = shared.world();
    let Some(grant) = world.auth_codes.get_mut(code) else {
        return Err(entra_error(
            now,
            "invalid_grant",
            70000,
            "The provided value for the 'code' parameter is not valid.",
        ));
    };
    if grant.redeemed {
        return Err(entra_error(
            now,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    grant.redeemed = true;
    Ok(grant.clone())
}

fn tokens(
    shared: &Shared,
    grant: &AuthCode,
    app_name: &str,
    acr: &str,
    now: DateTime<Utc>,
) -> HttpResponse {
    let (user, wids, lifetime_secs) = {
        let world = shared.world();
        (
            world.user(grant.tenant_id, grant.user_id).cloned(),
            world.app.emits_wids(),
            world.behaviour.token_lifetime_secs,
        )
    };
    let Some(user) = user else {
        return entra_error(
            now,
            "invalid_grant",
            70000,
            "The provided value for the 'code' parameter is not valid. The user no longer exists.",
        );
    };
    let scopes = Scopes::parse(&grant.scope).unwrap_or_default();
    let granted = scopes.granted();
    let signed_in = SignedIn {
        tenant: grant.tenant_id,
        user: &user,
        app_id: grant.client_id,
        app_name,
        credential: acr,
        scp: &granted,
        nonce: grant.nonce.as_deref(),
        email: scopes.has("email"),
        wids,
        now,
    };
    let issued = issue_delegated_access_token(
        &shared.key,
        &signed_in,
        Duration::seconds(lifetime_secs as i64),
    )
    .and_then(|access| {
        let id = scopes
            .has("openid")
            .then(|| issue_id_token(&shared.key, &shared.base_url, &signed_in))
            .transpose()?;
        Ok((access, id))
    });
    let (access_token, id_token) = match issued {
        Ok(tokens) => tokens,
        Err(e) => return HttpResponse::InternalServerError().body(e.to_string()),
    };
    let mut body = json!({
        "token_type": "Bearer",
        "scope": granted,
        "expires_in": lifetime_secs,
        "ext_expires_in": lifetime_secs,
        "access_token": access_token,
    });
    if let (Some(id_token), Some(map)) = (id_token, body.as_object_mut()) {
        map.insert("id_token".into(), json!(id_token));
    }
    token_ok(body)
}
