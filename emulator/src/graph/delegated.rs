//! Subscriptions created with a delegated token (§6.2, D and MSA columns): which resources a
//! signed-in user may subscribe to, with which `scp` permissions, and which path their changes
//! are matched on. Delegated subscriptions reach only the user's own mailbox (`me/…`, or
//! `users/{their id or UPN}/…`); group conversations need a work or school account with
//! `Group.Read.All` (app-only access to them is not supported at all); a personal OneDrive can
//! be watched at its root or any folder, a business one at its root only.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};

use super::{
    auth::Delegated,
    errors::{bad_request, extension_error, forbidden},
};
use crate::{
    rules::{self, Kind, Resource},
    shared::Shared,
    state::personal::personal_drive_id,
};

/// A delegated subscription's resource, checked.
pub struct Target {
    pub parsed: Resource,
    /// See [`crate::state::Subscription::match_resource`].
    pub match_resource: Option<String>,
}

/// 403 naming the delegated permissions a resource needs.
fn lacks_scope(req: &HttpRequest, shared: &Shared, needed: &[&str]) -> HttpResponse {
    extension_error(
        req,
        shared,
        StatusCode::FORBIDDEN,
        "Create",
        &format!(
            "Insufficient privileges: the token needs one of the delegated permissions {}",
            needed.join(", ")
        ),
    )
}

/// Checks a delegated create's `resource` and `changeType` for the signed-in user.
pub fn target(
    req: &HttpRequest,
    shared: &Shared,
    who: &Delegated,
    resource: &str,
    change_type: &str,
) -> Result<Target, HttpResponse> {
    let Some(mut parsed) = rules::parse_resource(resource) else {
        return Err(bad_request(
            req,
            shared,
            &format!("Resource '{resource}' is not supported for subscriptions."),
        ));
    };
    let kind = parsed.kind;
    let Some(needed) = kind.delegated_scopes(who.personal) else {
        let account = if who.personal {
            "personal Microsoft accounts"
        } else {
            "work or school accounts"
        };
        return Err(bad_request(
            req,
            shared,
            &format!("Subscriptions to '{resource}' are not supported for {account}."),
        ));
    };
    rules::check_change_types(&parsed, resource, change_type)
        .map_err(|message| bad_request(req, shared, &message))?;
    if !who.has_any_scope(needed) {
        return Err(lacks_scope(req, shared, needed));
    }
    let segments = parsed.segments.clone();
    let oid = who.user.id.to_string();
    // The segments after the owner (`me` or `users/{id}`), when the path names the user's own.
    let own_rest = |segments: &[String]| -> Result<Option<Vec<String>>, HttpResponse> {
        match segments.first().map(String::as_str) {
            Some("me") => Ok(Some(segments[1..].to_vec())),
            Some("users") if segments.len() > 2 => {
                if who.user.is_named(&segments[1]) {
                    Ok(Some(segments[2..].to_vec()))
                } else {
                    Err(forbidden(req, shared, "Create"))
                }
            }
            _ => Ok(None),
        }
    };
    let match_resource = match kind {
        Kind::Message | Kind::Event | Kind::Contact => {
            let Some(rest) = own_rest(&segments)? else {
                return Err(forbidden(req, shared, "Create"));
            };
            parsed.mailbox = Some(oid.clone());
            Some(format!("users/{oid}/{}", rest.join("/")))
        }
        Kind::DriveItem if who.personal => {
            let drive = personal_drive_id(who.user.id);
            let rest = match own_rest(&segments)? {
                // `drive/root` or `drive/items/{id}`
                Some(rest) => rest[1..].to_vec(),
                None if segments[1].eq_ignore_ascii_case(&drive) => segments[2..].to_vec(),
                None => return Err(forbidden(req, shared, "Create")),
            };
            Some(format!("drives/{drive}/{}", rest.join("/")))
        }
        Kind::DriveItem => {
            if parsed.is_drive_folder() {
                return Err(bad_request(
                    req,
                    shared,
                    &format!(
                        "Resource '{resource}' is not supported for subscriptions: OneDrive for Business and SharePoint support subscriptions to the root folder only."
                    ),
                ));
            }
            own_rest(&segments)?.map(|_| format!("users/{oid}/drive/root"))
        }
        _ => own_rest(&segments)?.map(|rest| format!("users/{oid}/{}", rest.join("/"))),
    };
    Ok(Target {
        parsed,
        match_resource,
    })
}
