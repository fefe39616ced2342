//! `GET /onboarding` shows what Graphhook will access; `POST /onboarding/start` sends the
//! administrator to sign in with Microsoft (303), with a signed `state`, a PKCE challenge and a
//! nonce, and sets the binding cookie. Nothing is stored: the verifier and the nonce are derived
//! from the state and the cookie. Starts are limited per client address.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use chrono::Duration;
use graphhook_domain::{
    graph::ingest::guard::Verdict,
    graph::microsoft::sign_in::{self, SignInRequest},
    tenancy::onboarding::state::{self as onboarding_state, Phase},
};
use serde::Deserialize;

use super::{links, pages};
use crate::{
    error::ApiError,
    state::{ApiLocal, Services},
};

pub async fn page() -> HttpResponse {
    pages::onboarding(StatusCode::OK, None, "")
}

#[derive(Debug, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    company_name: String,
}

pub async fn start(
    state: web::Data<Services>,
    local: web::Data<ApiLocal>,
    req: HttpRequest,
    form: web::Form<StartForm>,
) -> Result<HttpResponse, ApiError> {
    let company = form.company_name.trim();
    if let Some(addr) = local.client_addr.of(&req)
        && local.onboarding_starts.check(addr) == Verdict::RateLimited
    {
        metrics::counter!("graphhook_onboarding_starts_refused_total").increment(1);
        return Ok(pages::over_the_minute_limit(pages::onboarding(
            StatusCode::TOO_MANY_REQUESTS,
            Some(
                "Too many onboardings were started from your network in the last minute. Wait a minute, then try again.",
            ),
            company,
        )));
    }
    if company.is_empty() || company.chars().count() > 200 || company.chars().any(char::is_control)
    {
        return Ok(pages::onboarding(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Enter your company name on one line (at most 200 characters)."),
            company,
        ));
    }
    let key = state.settings.onboarding_state_key();
    let ttl = Duration::seconds(state.settings.onboarding.state_ttl_secs as i64);
    let cookie = onboarding_state::new_cookie();
    let (signed, claims) = onboarding_state::issue(
        &key,
        state.clock.now(),
        ttl,
        Phase::SignIn,
        company,
        &cookie,
        None,
    )
    .map_err(ApiError::internal)?;
    let location = sign_in::authorize_url(
        links::browser_authority(&state),
        links::client_id(&state)?,
        SignInRequest {
            redirect_uri: &links::signed_in_url(&state),
            state: &signed,
            nonce: &onboarding_state::nonce(&key, &claims, &cookie),
            pkce_verifier: &onboarding_state::pkce_verifier(&key, &claims, &cookie),
        },
    )
    .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .cookie(links::cookie(&state, cookie, ttl.num_seconds()))
        .finish())
}
