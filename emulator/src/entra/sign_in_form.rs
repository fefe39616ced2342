//! The sign-in page's form, `POST /_emulator/sign-in/decide`: the request it carries in hidden
//! fields is checked again as the authorize endpoint did ([`super::authorize`]), then the
//! chosen user is signed in or, on Cancel, the app gets a redirect with `error=access_denied`
//! and `error_subcode=cancel`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::{authorize, request::AuthorizeQuery};
use crate::{http::entra_error_page, shared::Data};

#[derive(Debug, Deserialize)]
pub struct Decision {
    /// The authorize URL's tenant segment.
    tenant: String,
    /// The chosen user's object id.
    user: Option<String>,
    decision: String,
    #[serde(flatten)]
    request: AuthorizeQuery,
}

/// The sign-in page's form.
pub async fn decide(shared: Data, form: web::Form<Decision>) -> HttpResponse {
    let form = form.into_inner();
    let request = match authorize::check(&shared, &form.tenant, &form.request) {
        Ok(request) => request,
        Err(response) => return response,
    };
    if form.decision != "sign_in" {
        return authorize::error_redirect(
            &shared,
            &request,
            "access_denied",
            65004,
            "User declined to consent to access the app.",
            Some("cancel"),
        );
    }
    let chosen = {
        let world = shared.world();
        form.user
            .as_deref()
            .and_then(|id| Uuid::parse_str(id).ok())
            .and_then(|id| {
                world
                    .tenants
                    .values()
                    .filter(|t| request.audience.allows(t.id))
                    .find_map(|t| {
                        t.users
                            .iter()
                            .find(|u| u.id == id)
                            .map(|u| (t.id, u.clone()))
                    })
            })
    };
    match chosen {
        Some((tenant, user)) => authorize::sign_in(&shared, &request, tenant, &user),
        None => entra_error_page(
            shared.clock.now(),
            50034,
            &format!(
                "Choose an account: the user account does not exist in the '{}' directory.",
                form.tenant
            ),
        ),
    }
}
