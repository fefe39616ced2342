//! The drives a relay looks up before subscribing to a drive's root: `GET /me/drive` for a
//! signed-in user with a Files permission (a personal OneDrive's stable id) and `GET /sites/{site-id}/drive` and
//! `GET /sites/{site-id}/drives/{drive-id}` for a SharePoint site's document library (app-only
//! with a Sites or Files role). Nothing is stored: ids are derived from the user or site id
//! ([`crate::state::personal`]). A site id containing `missing` (any case) is a site that does
//! not exist, so the not-found path can be exercised.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde_json::{Value, json};

use super::auth::{Caller, authenticate};
use crate::{
    http::{graph_error, graph_ok},
    shared::Data,
    state::personal::{personal_drive_id, site_drive_id},
};

/// Roles (or delegated permissions) that may read a site's drives.
const SITE_READERS: [&str; 4] = [
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Files.Read.All",
    "Files.ReadWrite.All",
];

/// Delegated permissions that may read the signed-in user's drive.
const FILE_READERS: [&str; 4] = [
    "Files.Read",
    "Files.ReadWrite",
    "Files.Read.All",
    "Files.ReadWrite.All",
];

fn context(path: &str) -> String {
    format!("https://graph.microsoft.com/v1.0/$metadata#{path}")
}

/// `GET /me/drive`.
pub async fn my_drive(shared: Data, req: HttpRequest) -> HttpResponse {
    let now = shared.clock.now();
    let caller = match authenticate(&req, &shared) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Some(who) = caller.delegated else {
        return graph_error(
            &req,
            now,
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        );
    };
    if !who.has_any_scope(&FILE_READERS) {
        return graph_error(
            &req,
            now,
            StatusCode::FORBIDDEN,
            "accessDenied",
            "Access denied",
        );
    }
    let (id, drive_type) = if who.personal {
        (personal_drive_id(who.user.id), "personal")
    } else {
        (
            site_drive_id(&format!("personal:{}", who.user.id)),
            "business",
        )
    };
    graph_ok(&req, StatusCode::OK).json(json!({
        "@odata.context": context("drives/$entity"),
        "id": id,
        "driveType": drive_type,
        "name": "OneDrive",
        "owner": {"user": {"id": who.user.id, "displayName": who.user.display_name}},
    }))
}

fn may_read_sites(caller: &Caller) -> bool {
    match &caller.delegated {
        Some(who) => who.has_any_scope(&SITE_READERS),
        None => caller.has_any_role(&SITE_READERS),
    }
}

/// The site's document library, or Graph's error.
fn site_drive(shared: &Data, req: &HttpRequest, site: &str) -> Result<Value, HttpResponse> {
    let now = shared.clock.now();
    let caller = authenticate(req, shared)?;
    if !may_read_sites(&caller) {
        return Err(graph_error(
            req,
            now,
            StatusCode::FORBIDDEN,
            "accessDenied",
            "Access denied",
        ));
    }
    if site.to_lowercase().contains("missing") {
        return Err(graph_error(
            req,
            now,
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "Requested site could not be found",
        ));
    }
    let host = site
        .split(',')
        .next()
        .filter(|h| h.contains('.'))
        .unwrap_or("contoso.sharepoint.com");
    Ok(json!({
        "@odata.context": context("drives/$entity"),
        "id": site_drive_id(site),
        "driveType": "documentLibrary",
        "name": "Documents",
        "description": "",
        "webUrl": format!("https://{host}/Shared%20Documents"),
    }))
}

/// `GET /sites/{site-id}/drive`.
pub async fn site_default_drive(
    shared: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match site_drive(&shared, &req, &path) {
        Ok(drive) => graph_ok(&req, StatusCode::OK).json(drive),
        Err(response) => response,
    }
}

/// `GET /sites/{site-id}/drives/{drive-id}`: the site's library, or 404.
pub async fn site_drive_by_id(
    shared: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (site, drive_id) = path.into_inner();
    match site_drive(&shared, &req, &site) {
        Ok(drive) if drive["id"] == drive_id.as_str() => graph_ok(&req, StatusCode::OK).json(drive),
        Ok(_) => graph_error(
            &req,
            shared.clock.now(),
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "The resource could not be found.",
        ),
        Err(response) => response,
    }
}
