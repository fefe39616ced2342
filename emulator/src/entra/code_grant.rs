//! The token endpoint's authorization-code grant: the second half of a sign-in
//! ([`super::authorize`]). The tenant segment may be `organizations`, `common` or the user's
//! tenant; the client authenticates as for client credentials. The code must exist, be unused
//! (any attempt that reaches it uses it up, so a wrong PKCE verifier also burns it), be unexpired,
//! belong to this client and tenant and come with the same `redirect_uri`, and the
//! `code_verifier` must answer the PKCE challenge when the authorize request sent one. The
//! answer holds a delegated Graph access token, an ID token when `openid` was asked for and a
//! refresh token when `offline_access` was ([`answer`], shared with the refresh grant).

use actix_web::HttpResponse;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{
    client_auth::{self, TokenRequest},
    scopes::Scopes,
    token_ok,
    user_tokens::{SignedIn, issue_delegated_access_token, issue_id_token},
};
use crate::{
    http::entra_error,
    shared::Shared,
    state::{AuthCode, DelegatedGrant, RefreshToken, User, refresh::new_refresh_token},
};

pub fn redeem(request: &TokenRequest<'_>) -> HttpResponse {
    let (shared, now) = (request.shared, request.now);
    let client = match client_auth::user_grant_client(request) {
        Ok(client) => client,
        Err(response) => return response,
    };
    let Some(code) = request.field("code") else {
        return request.missing("code");
    };
    let Some(redirect_uri) = request.field("redirect_uri") else {
        return request.missing("redirect_uri");
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
    if grant.delegated.client_id != client.app_id
        || !client.audience.allows(grant.delegated.tenant_id)
    {
        return invalid(
            70000,
            "The provided value for the 'code' parameter is not valid.",
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
        let Some(verifier) = request.field("code_verifier") else {
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
    tokens(shared, &grant, &client.app_name, client.acr, now)
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
    // An interactive sign-in satisfies whatever interaction the user's refreshes needed.
    let user = {
        let mut world = shared.world();
        match world.user_mut(
            grant.delegated.tenant_id,
            &grant.delegated.user_id.to_string(),
        ) {
            Some(user) => {
                user.interaction_required = None;
                Some(user.clone())
            }
            None => None,
        }
    };
    let Some(user) = user else {
        return entra_error(
            now,
            "invalid_grant",
            70000,
            "The provided value for the 'code' parameter is not valid.",
        );
    };
    answer(
        shared,
        &Issue {
            grant: &grant.delegated,
            user: &user,
            app_name,
            acr,
            scp: &grant.delegated.granted,
            nonce: grant.nonce.as_deref(),
            now,
        },
    )
}

/// What a token answer for a signed-in user is made of.
pub(super) struct Issue<'a> {
    /// The grant the tokens are issued under, which a new refresh token keeps. Its `scope` as
    /// sent decides, by its OpenID Connect scopes, the ID token, the `email` claim and the
    /// refresh token.
    pub grant: &'a DelegatedGrant,
    pub user: &'a User,
    pub app_name: &'a str,
    /// `appidacr`.
    pub acr: &'a str,
    /// The Graph permissions this access token carries.
    pub scp: &'a [String],
    pub nonce: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// The token response: `token_type`, `scope`, `expires_in`, `ext_expires_in`,
/// `access_token`, plus `refresh_token` (with `offline_access`) and `id_token` (with `openid`).
pub(super) fn answer(shared: &Shared, issue: &Issue<'_>) -> HttpResponse {
    let (wids, lifetime_secs, generation) = {
        let world = shared.world();
        (
            world.app.emits_wids(),
            world.behaviour.token_lifetime_secs,
            issue.user.session_generation,
        )
    };
    let scopes = Scopes::parse(&issue.grant.scope).unwrap_or_default();
    let granted = scopes.granted(issue.scp);
    let signed_in = SignedIn {
        tenant: issue.grant.tenant_id,
        user: issue.user,
        app_id: issue.grant.client_id,
        app_name: issue.app_name,
        credential: issue.acr,
        scp: &granted,
        nonce: issue.nonce,
        email: scopes.has("email"),
        wids,
        now: issue.now,
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
    let Some(map) = body.as_object_mut() else {
        return HttpResponse::InternalServerError().finish();
    };
    if scopes.has("offline_access") {
        let refresh_token = match new_refresh_token() {
            Ok(token) => token,
            Err(e) => return HttpResponse::InternalServerError().body(e.to_string()),
        };
        let grant = RefreshToken {
            delegated: issue.grant.clone(),
            issued_at: issue.now,
            generation,
            used: false,
        };
        shared
            .world()
            .store_refresh_token(refresh_token.clone(), grant, issue.now);
        map.insert("refresh_token".into(), json!(refresh_token));
    }
    if let Some(id_token) = id_token {
        map.insert("id_token".into(), json!(id_token));
    }
    token_ok(body)
}
