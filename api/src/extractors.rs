//! Extractors that authenticate a caller before the handler runs.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use graphhook_domain::secret::{ExposeSecret, constant_time_eq};

use crate::{
    error::{ApiError, Code},
    request_id::RequestId,
    state::AppState,
};

/// An operator, authenticated by `Authorization: Bearer <admin token>`.
#[derive(Clone, Debug)]
pub struct Operator {
    pub request_id: Option<String>,
}

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Operator, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state is missing")))?;
    let presented = bearer_token(req).ok_or_else(|| {
        ApiError::new(
            Code::Unauthorized,
            "an operator token is required: Authorization: Bearer <token>",
        )
    })?;
    let expected = state.settings.admin_token();
    if !constant_time_eq(presented, expected.expose_secret()) {
        return Err(ApiError::new(
            Code::Unauthorized,
            "the operator token is not valid",
        ));
    }
    Ok(Operator {
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
    })
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}
