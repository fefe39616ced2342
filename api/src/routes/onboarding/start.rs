//! `GET /onboarding` shows what Graphhook will access; `POST /onboarding/start` signs a `state`,
//! sets the binding cookie and sends the administrator to Microsoft's admin consent (303).

use actix_web::{
    HttpResponse,
    cookie::{Cookie, SameSite, time::Duration as CookieDuration},
    http::{StatusCode, header},
    web,
};
use chrono::Duration;
use graphhook_domain::{microsoft::tokens::GRAPH_SCOPE, onboarding};
use serde::Deserialize;

use super::{COOKIE, pages};
use crate::{error::ApiError, state::AppState};

pub async fn page() -> HttpResponse {
    pages::onboarding(StatusCode::OK, None, "")
}

#[derive(Debug, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    company_name: String,
}

/// The admin-consent URL (v2.0, `organizations`: any work or school tenant).
pub fn consent_url(state: &AppState, signed_state: &str) -> Result<String, ApiError> {
    let settings = &state.settings;
    let authority = settings
        .microsoft
        .browser_authority_url
        .as_deref()
        .unwrap_or(&settings.microsoft.authority_url);
    let client_id = settings.microsoft.client_id.as_deref().ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("microsoft.client_id is not configured"))
    })?;
    let mut url = url_parse(&format!(
        "{}/organizations/v2.0/adminconsent",
        authority.trim_end_matches('/')
    ))?;
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &callback_url(state))
        .append_pair("scope", GRAPH_SCOPE)
        .append_pair("state", signed_state);
    Ok(url.to_string())
}

fn url_parse(text: &str) -> Result<url::Url, ApiError> {
    url::Url::parse(text)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("microsoft.authority_url: {e}")))
}

pub fn callback_url(state: &AppState) -> String {
    format!(
        "{}/onboarding/callback",
        state.settings.api.public_base_url.trim_end_matches('/')
    )
}

pub async fn start(
    state: web::Data<AppState>,
    form: web::Form<StartForm>,
) -> Result<HttpResponse, ApiError> {
    let company = form.company_name.trim();
    if company.is_empty() || company.chars().count() > 200 {
        return Ok(pages::onboarding(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Enter your company name (at most 200 characters)."),
            company,
        ));
    }
    let ttl = Duration::seconds(state.settings.onboarding.state_ttl_secs as i64);
    let started = onboarding::start(
        &state.redis,
        state.queues.prefix(),
        &state.settings.onboarding_state_key(),
        &state.clock,
        ttl,
        company,
    )
    .await
    .map_err(|e| ApiError::unavailable("onboarding", e))?;
    let location = consent_url(&state, &started.state)?;
    let cookie = Cookie::build(COOKIE, started.cookie)
        .path("/onboarding")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(!state.settings.mode.is_development())
        .max_age(CookieDuration::seconds(ttl.num_seconds()))
        .finish();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .cookie(cookie)
        .finish())
}
