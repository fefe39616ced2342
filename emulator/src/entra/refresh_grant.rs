//! The token endpoint's refresh-token grant: a new access token for a signed-in user without
//! the user. The client authenticates as for the other grants; the tenant segment may be
//! `common`, `organizations` (work and school accounts), `consumers` (personal accounts) or
//! the user's tenant. The token is refused when it was never issued (or issued to another
//! client), was already used under `strict_refresh_tokens` (AADSTS70000), has expired
//! (AADSTS700082), was revoked with the user's sessions (AADSTS50173), when the user must
//! interact first (`interaction_required`, AADSTS50076 or 53003), or when the tenant no longer
//! grants the permissions it carries (AADSTS65001). `scope` may only narrow the grant. Every
//! success rotates the refresh token; the answer is shaped as the code grant's.

use actix_web::HttpResponse;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use uuid::Uuid;

use super::{
    client_auth::{self, TokenRequest, UserGrantClient},
    code_grant::{Issue, answer},
    permissions,
    request::Audience,
    scopes::Scopes,
};
use crate::{
    http::{entra_error, entra_error_with},
    shared::Shared,
    state::{RefreshToken, User, is_consumers},
};

/// Graph's application id, which Entra names in MFA errors.
const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

pub fn redeem(request: &TokenRequest<'_>) -> HttpResponse {
    let shared = request.shared;
    shared.world().refresh_stats.total += 1;
    let response = redeem_inner(request);
    if response.status().is_success() {
        shared.world().refresh_stats.succeeded += 1;
    }
    response
}

fn invalid_grant(now: DateTime<Utc>, code: u32, message: &str) -> HttpResponse {
    entra_error(now, "invalid_grant", code, message)
}

fn redeem_inner(request: &TokenRequest<'_>) -> HttpResponse {
    let (shared, segment, now) = (request.shared, request.segment, request.now);
    let client = match client_auth::user_grant_client(request) {
        Ok(client) => client,
        Err(response) => return response,
    };
    let UserGrantClient {
        audience,
        app_id,
        app_name,
        acr,
    } = client;
    let Some(presented) = request.field("refresh_token") else {
        return request.missing("refresh_token");
    };
    let narrowed = match request.field("scope").map(Scopes::parse) {
        None => None,
        Some(Ok(scopes)) => Some(scopes),
        Some(Err(scope)) => {
            return entra_error(
                now,
                "invalid_scope",
                70011,
                &format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope '{scope}' does not exist."
                ),
            );
        }
    };
    let presented = Presented {
        token: presented,
        app_id,
        audience,
        segment,
        narrowed: narrowed.as_ref(),
    };
    let (grant, user, scp) = match check(shared, &presented, now) {
        Ok(found) => found,
        Err(response) => return response,
    };
    answer(
        shared,
        &Issue {
            grant: &grant.delegated,
            user: &user,
            app_name: &app_name,
            acr,
            scp: &scp,
            nonce: None,
            now,
        },
    )
}

/// A refresh request's token and what it is checked against.
struct Presented<'a> {
    token: &'a str,
    app_id: Uuid,
    audience: Audience,
    segment: &'a str,
    /// The request's `scope`, if any.
    narrowed: Option<&'a Scopes>,
}

/// Finds the refresh token and checks it, in Entra's order, then marks it used; counts the
/// request for its user. `Ok` has the grant, its user and the permissions the new access
/// token carries (`scope` may only narrow the grant; `.default` or none means all of it).
fn check(
    shared: &Shared,
    presented: &Presented<'_>,
    now: DateTime<Utc>,
) -> Result<(RefreshToken, User, Vec<String>), HttpResponse> {
    let Presented {
        token: presented,
        app_id,
        audience,
        segment,
        narrowed,
    } = *presented;
    let mut world = shared.world();
    let not_valid = |detail: &str| {
        invalid_grant(
            now,
            70000,
            &format!(
                "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.{detail}"
            ),
        )
    };
    let Some(grant) = world.refresh_tokens.get(presented).cloned() else {
        return Err(invalid_grant(
            now,
            9002313,
            "Invalid request. Request is malformed or invalid.",
        ));
    };
    let (tenant, user_id) = (grant.delegated.tenant_id, grant.delegated.user_id);
    *world.refresh_stats.by_user.entry(user_id).or_default() += 1;
    if grant.delegated.client_id != app_id {
        return Err(not_valid(
            " The refresh token was issued to another client.",
        ));
    }
    if !audience.allows(tenant) {
        return Err(if is_consumers(tenant) {
            invalid_grant(
                now,
                500200,
                "The refresh token belongs to a personal Microsoft account. Personal Microsoft accounts are not supported at this endpoint: use /consumers or /common.",
            )
        } else {
            not_valid(&format!(
                " The refresh token belongs to a work or school account, which cannot be used at '{segment}'."
            ))
        });
    }
    if grant.used && world.behaviour.strict_refresh_tokens {
        return Err(not_valid(""));
    }
    let lifetime = Duration::seconds(
        i64::try_from(world.behaviour.refresh_token_lifetime_secs).unwrap_or(i64::MAX / 4_000),
    );
    check_not_expired(&grant, lifetime, now)?;
    let Some(user) = world.user(tenant, user_id).cloned() else {
        return Err(not_valid(" The user no longer exists."));
    };
    check_not_revoked(&grant, &user, now)?;
    if let Some(code) = user.interaction_required {
        drop(world);
        return Err(interaction_required(now, code));
    }
    if !is_consumers(tenant)
        && permissions::lacks_admin_grant(&world, tenant, &grant.delegated.granted)
    {
        let message = permissions::consent_required(&world).message;
        return Err(invalid_grant(now, 65001, &message));
    }
    let scp = narrowed_permissions(&grant, narrowed)
        .ok_or_else(|| invalid_grant(now, 65001, &permissions::consent_required(&world).message))?;
    if let Some(stored) = world.refresh_tokens.get_mut(presented) {
        stored.used = true;
    }
    Ok((grant, user, scp))
}

/// AADSTS700082 once the refresh token has been unused for its whole lifetime.
fn check_not_expired(
    grant: &RefreshToken,
    lifetime: Duration,
    now: DateTime<Utc>,
) -> Result<(), HttpResponse> {
    if now < grant.issued_at + lifetime {
        return Ok(());
    }
    let issued = grant.issued_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let secs = lifetime.num_seconds();
    Err(invalid_grant(
        now,
        700082,
        &format!(
            "The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive for {}.{:02}:{:02}:{:02}.",
            secs / 86_400,
            secs % 86_400 / 3_600,
            secs % 3_600 / 60,
            secs % 60
        ),
    ))
}

/// AADSTS50173 when the user's sessions were revoked since the token was issued.
fn check_not_revoked(
    grant: &RefreshToken,
    user: &User,
    now: DateTime<Utc>,
) -> Result<(), HttpResponse> {
    if user.session_generation == grant.generation {
        return Ok(());
    }
    let issued = grant.issued_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let valid_from = user
        .sign_in_sessions_valid_from
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default();
    Err(invalid_grant(
        now,
        50173,
        &format!(
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{issued}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{valid_from}'."
        ),
    ))
}

/// The permissions the new access token carries: the request's `scope` may only narrow the
/// grant (`.default` or none means all of it); `None` when it asks for one not granted.
fn narrowed_permissions(grant: &RefreshToken, narrowed: Option<&Scopes>) -> Option<Vec<String>> {
    match narrowed {
        Some(scopes) if !scopes.graph().is_empty() && !scopes.asks_default() => scopes
            .graph()
            .iter()
            .map(|asked| {
                grant
                    .delegated
                    .granted
                    .iter()
                    .find(|g| g.eq_ignore_ascii_case(asked))
                    .cloned()
            })
            .collect(),
        _ => Some(grant.delegated.granted.clone()),
    }
}

/// The texts of the interactions the emulator can require, with Entra's `suberror`.
pub fn interaction(code: u32) -> Option<(String, &'static str)> {
    match code {
        50076 => Some((
            format!(
                "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{GRAPH}'."
            ),
            "basic_action",
        )),
        53003 => Some((
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.".to_owned(),
            "message_only",
        )),
        _ => None,
    }
}

/// 400 `interaction_required` with the code and Entra's `suberror`.
fn interaction_required(now: DateTime<Utc>, code: u32) -> HttpResponse {
    let (message, suberror) = interaction(code).unwrap_or_else(|| {
        (
            "The user must sign in interactively.".to_owned(),
            "basic_action",
        )
    });
    entra_error_with(
        now,
        "interaction_required",
        code,
        &message,
        &[("suberror", suberror)],
    )
}
