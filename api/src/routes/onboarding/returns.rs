//! What both returns from Entra (the sign-in's and the consent's) do first with the signed
//! `state` they carry: check it (signature, leg, expiry, the browser's cookie), then use it up.

use actix_web::{HttpRequest, HttpResponse};
use graphhook_domain::{
    DomainError,
    tenancy::onboarding::{
        StateError,
        state::{self as onboarding_state, Phase, StateClaims},
    },
};

use super::{COOKIE, answers};
use crate::{error::ApiError, state::Services};

/// The claims of the `state` for `phase`, and the browser's cookie; or the page that refuses
/// the state (logged as `refused`), boxed: it is far larger than the claims.
pub fn verified(
    state: &Services,
    req: &HttpRequest,
    signed: Option<&str>,
    phase: Phase,
    refused: &str,
) -> Result<(StateClaims, Option<String>), Box<HttpResponse>> {
    let Some(signed) = signed else {
        return Err(Box::new(answers::state_page(&StateError::Invalid)));
    };
    let cookie = req.cookie(COOKIE).map(|c| c.value().to_owned());
    match onboarding_state::verify(
        &state.settings.onboarding_state_key(),
        state.clock.now(),
        signed,
        cookie.as_deref(),
        phase,
    ) {
        Ok(claims) => Ok((claims, cookie)),
        Err(error) => {
            tracing::warn!(%error, "{refused}");
            Err(Box::new(answers::state_page(&error)))
        }
    }
}

/// Uses the state up; `Some` page when it was used before.
pub async fn use_once(
    state: &Services,
    claims: &StateClaims,
) -> Result<Option<HttpResponse>, ApiError> {
    let fresh =
        onboarding_state::use_once(&state.redis, state.queues.prefix(), &state.clock, claims)
            .await
            .map_err(|e| DomainError::unavailable("onboarding", e))?;
    Ok((!fresh).then(|| answers::state_page(&StateError::Replayed)))
}
