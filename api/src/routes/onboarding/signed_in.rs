//! `GET /onboarding/signed-in`: where Entra sends the administrator back from signing in.
//!
//! The `state` is checked (signature, leg, expiry, the browser's cookie) and used up; the code is
//! redeemed with the PKCE verifier only this browser's cookie can derive; the `id_token` is
//! validated (signature, issuer for its tenant, audience, nonce, lifetime). From then on the
//! signed-in person's `tid` and `oid` are what count: only an active Global Administrator or
//! Privileged Role Administrator goes on, to admin consent for their own tenant, with a consent
//! `state` that names them. An administrator of a tenant that is already onboarded sees that and
//! may grant consent again; nothing is created here.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use chrono::Duration;
use graphhook_domain::{
    graph::microsoft::id_token::{self, Expected},
    platform::entities::tenant::TenantStatus,
    tenancy::onboarding::{
        Person, StateError,
        state::{self as onboarding_state, Phase},
    },
    tenancy::tenants,
};
use serde::Deserialize;

use super::{
    answers, links,
    pages::{self, escape, paragraph},
    returns,
};
use crate::{error::ApiError, state::Services};

#[derive(Debug, Deserialize)]
pub struct SignedInQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    error_subcode: Option<String>,
}

pub async fn signed_in(
    state: web::Data<Services>,
    req: HttpRequest,
    query: web::Query<SignedInQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let mut response = answer(&state, &req, query).await?;
    if response.status() != StatusCode::SEE_OTHER && response.status() != StatusCode::OK {
        response
            .add_cookie(&links::clear_cookie())
            .map_err(ApiError::internal)?;
    }
    Ok(response)
}

async fn answer(
    state: &Services,
    req: &HttpRequest,
    query: SignedInQuery,
) -> Result<HttpResponse, ApiError> {
    let refused = "sign-in return refused";
    let (claims, cookie) =
        match returns::verified(state, req, query.state.as_deref(), Phase::SignIn, refused) {
            Ok(verified) => verified,
            Err(page) => return Ok(*page),
        };
    let key = state.settings.onboarding_state_key();
    let cookie = cookie.unwrap_or_default();
    if let Some(page) = returns::use_once(state, &claims).await? {
        return Ok(page);
    }
    if let Some(error) = query.error.as_deref() {
        tracing::info!(error, "the sign-in ended with an error");
        return Ok(answers::sign_in_error(
            error,
            query.error_description.as_deref().unwrap_or_default(),
            query.error_subcode.as_deref(),
        ));
    }
    let Some(code) = query
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 4096)
    else {
        return Ok(answers::state_page(&StateError::Invalid));
    };

    let signed_in = match identify(state, code, &key, &claims, &cookie).await? {
        Ok(signed_in) => signed_in,
        Err(page) => return Ok(page),
    };
    let person = signed_in.person.clone();
    if signed_in.wids.is_none() {
        tracing::error!(
            "id_tokens carry no wids claim: the app registration's groupMembershipClaims must include DirectoryRole (or All)"
        );
        return Ok(answers::roles_not_issued(&person));
    }
    if !signed_in.may_grant_application_permissions() {
        tracing::info!(tid = %person.tid, oid = %person.oid, "a non-administrator tried to onboard");
        let onboarding_url = format!(
            "{}/onboarding",
            state.settings.api.public_base_url.trim_end_matches('/')
        );
        return Ok(answers::not_an_administrator(&person, &onboarding_url));
    }

    to_consent(state, &key, &claims, cookie, &person).await
}

/// Redeems the code with the PKCE verifier only this browser can derive and validates the
/// id_token; a page that says what went wrong otherwise.
async fn identify(
    state: &Services,
    code: &str,
    key: &graphhook_domain::platform::secret::SecretString,
    claims: &onboarding_state::StateClaims,
    cookie: &str,
) -> Result<Result<id_token::SignedIn, HttpResponse>, ApiError> {
    let verifier = onboarding_state::pkce_verifier(key, claims, cookie);
    let token = match state
        .broker
        .redeem_sign_in_code(code, &links::signed_in_url(state), &verifier)
        .await
    {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, "the sign-in code could not be redeemed");
            return Ok(Err(answers::redemption_failed(&error)));
        }
    };
    let nonce = onboarding_state::nonce(key, claims, cookie);
    let authorities = [state.settings.microsoft.authority_url.clone()];
    let expected = Expected {
        client_id: links::client_id(state)?,
        authorities: &authorities,
        nonce: &nonce,
    };
    match id_token::validate_with(&state.jwks, &token, &expected, state.clock.now()).await {
        Ok(signed_in) => Ok(Ok(signed_in)),
        Err(error) => {
            tracing::warn!(%error, "an id_token was refused");
            Ok(Err(answers::sign_in_unverified(
                "Microsoft's answer could not be verified, so nothing was changed.",
                StatusCode::BAD_REQUEST,
            )))
        }
    }
}

/// Sends the administrator on to admin consent for their own tenant, with a consent `state`
/// that names them (or shows that the tenant is already onboarded).
async fn to_consent(
    state: &Services,
    key: &graphhook_domain::platform::secret::SecretString,
    claims: &onboarding_state::StateClaims,
    cookie: String,
    person: &Person,
) -> Result<HttpResponse, ApiError> {
    let ttl = Duration::seconds(state.settings.onboarding.state_ttl_secs as i64);
    let (consent_state, _) = onboarding_state::issue(
        key,
        state.clock.now(),
        ttl,
        Phase::Consent,
        &claims.company,
        &cookie,
        Some(person.clone()),
    )
    .map_err(ApiError::internal)?;
    let consent_url = links::consent_url(state, person.tid, &consent_state)?;
    let keep_cookie = links::cookie(state, cookie, ttl.num_seconds());
    match tenants::find_by_entra_id(&state.db, person.tid).await? {
        None => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, consent_url))
            .cookie(keep_cookie)
            .finish()),
        Some(tenant) => {
            let mut response = already_onboarded(person, &tenant, &consent_url);
            if tenant.status != TenantStatus::Offboarded {
                response
                    .add_cookie(&keep_cookie)
                    .map_err(ApiError::internal)?;
            }
            Ok(response)
        }
    }
}

/// An administrator of a tenant Graphhook already serves: no second first key, but consent may
/// be granted again (roles added to the app since, or revoked by mistake).
fn already_onboarded(
    person: &Person,
    tenant: &graphhook_domain::platform::entities::tenant::Model,
    consent_url: &str,
) -> HttpResponse {
    let name = escape(&tenant.name);
    let mut content = format!(
        "    <p>You are signed in as <strong>{}</strong>. Your organization is already connected to Graphhook as <strong>{name}</strong>.</p>\n",
        escape(&person.label())
    );
    if tenant.status == TenantStatus::Offboarded {
        content.push_str(&paragraph(
            "It was offboarded; its data is being removed. Contact Graphhook's operators to connect it again.",
        ));
        return pages::message(StatusCode::OK, "Already connected", &content);
    }
    content.push_str(&paragraph(
        "Your existing API keys keep working; no new key is shown. If permissions were added to Graphhook or consent was withdrawn, grant consent again:",
    ));
    content.push_str(&format!(
        "    <p><a class=\"button\" id=\"grant-again\" href=\"{}\">Grant consent again</a></p>\n",
        escape(consent_url)
    ));
    pages::message(StatusCode::OK, "Already connected", &content)
}
