//! Where the onboarding sends the browser, and the cookie it carries along: the URLs of our own
//! two return addresses (both registered on the app), Entra's admin consent for one tenant, and
//! the binding cookie.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use graphhook_domain::graph::microsoft::tokens::GRAPH_SCOPE;
use uuid::Uuid;

use super::COOKIE;
use crate::{error::ApiError, state::Services};

fn base(state: &Services) -> &str {
    state.settings.api.public_base_url.trim_end_matches('/')
}

/// Where the sign-in returns.
pub fn signed_in_url(state: &Services) -> String {
    format!("{}/onboarding/signed-in", base(state))
}

/// Where admin consent returns.
pub fn callback_url(state: &Services) -> String {
    format!("{}/onboarding/callback", base(state))
}

/// The authority browsers are sent to.
pub fn browser_authority(state: &Services) -> &str {
    let microsoft = &state.settings.microsoft;
    microsoft
        .browser_authority_url
        .as_deref()
        .unwrap_or(&microsoft.authority_url)
        .trim_end_matches('/')
}

pub fn client_id(state: &Services) -> Result<&str, ApiError> {
    state
        .settings
        .microsoft
        .client_id
        .as_deref()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("microsoft.client_id is not configured")))
}

/// Admin consent (v2.0) asked of the signed-in person's own tenant, never `organizations`.
pub fn consent_url(state: &Services, tenant: Uuid, signed_state: &str) -> Result<String, ApiError> {
    let mut url = url::Url::parse(&format!(
        "{}/{tenant}/v2.0/adminconsent",
        browser_authority(state)
    ))
    .map_err(|e| ApiError::internal(anyhow::anyhow!("microsoft.authority_url: {e}")))?;
    url.query_pairs_mut()
        .append_pair("client_id", client_id(state)?)
        .append_pair("redirect_uri", &callback_url(state))
        .append_pair("scope", GRAPH_SCOPE)
        .append_pair("state", signed_state);
    Ok(url.to_string())
}

/// The binding cookie, living as long as the state it binds.
pub fn cookie(state: &Services, value: String, ttl_secs: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/onboarding")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(!state.settings.mode.is_development())
        .max_age(CookieDuration::seconds(ttl_secs))
        .finish()
}

/// Removes the binding cookie: the flow ended, one way or another.
pub fn clear_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build(COOKIE, "").path("/onboarding").finish();
    cookie.make_removal();
    cookie
}
