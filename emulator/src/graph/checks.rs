//! The rules a subscription must satisfy (§1.1, §6, §7): lifetime, URLs, certificate,
//! duplicates, quotas, Exchange's access policy, and that the mailbox or OneDrive a resource
//! names belongs to a user of the tenant's directory.
//!
//! Unknown users (behaviour `unknown_users`, default `refuse`). An app-only create on
//! `users/{id or UPN}/messages|events|contacts|mailFolders…|contactFolders…` or
//! `users/{id}/drive/root` naming a user the tenant's directory does not have answers
//! 404 `ExtensionError` "Operation: Create; Exception: [Status Code: NotFound; Reason: The
//! requested user '{user}@{tenant id}' is invalid.]": the form graph-protocol.md §7.2 records
//! for a mailbox owner Graph cannot find (we chose it over `ResourceNotFound`, which §7.2 keeps
//! for unknown subscription ids). `accept` creates them, as the emulator used to. Add users
//! with `POST /_emulator/tenants/{id}/users`.
//!
//! Removed mailbox owners (`DELETE /_emulator/tenants/{id}/users/{user}`): the subscriptions
//! stay (a list still shows them, as observed), but GET answers 500 `ExtensionError` "There was
//! an error processing a storage extension." (§1.2; 500 is the status observed with that
//! message, OneDrive/onedrive-api-docs#869, graph-protocol.md gives none), and DELETE, PATCH
//! and reauthorize answer 404 `ExtensionError` "Operation: Delete; Exception: [Status Code:
//! NotFound; Reason: The requested user '{user}@{tenant id}' is invalid.]" (§7.2; `Update` or
//! `Reauthorize` for the others). They go when they expire.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    auth::Caller,
    errors::{bad_request, error, extension_error, forbidden},
};
use crate::{
    config::{HttpUrls, UnknownUsers},
    crypto::CertInfo,
    rules::{self, Kind, LifetimeError, Resource},
    shared::Shared,
    state::calls::Operation,
};

/// Checks an expiration against the resource's maximum; returns the one to store.
pub fn check_expiration(
    req: &HttpRequest,
    shared: &Shared,
    kind: Kind,
    rich: bool,
    requested: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, HttpResponse> {
    let policy = shared.world().behaviour.lifetime_policy;
    rules::allowed_expiration(kind, rich, requested, now, policy).map_err(|e| match e {
        LifetimeError::Past => bad_request(req, shared, &e.message()),
        LifetimeError::TooLong { .. } => error(
            req,
            shared,
            StatusCode::BAD_REQUEST,
            "ExtensionError",
            &e.message(),
        ),
    })
}

/// Exchange application access policy (§6.2): an Outlook subscription on a mailbox the app is
/// kept out of is refused, whatever the operation.
pub fn check_mailbox_access(
    req: &HttpRequest,
    shared: &Shared,
    mailbox: Option<&str>,
    operation: Operation,
) -> Result<(), HttpResponse> {
    if shared.world().behaviour.blocks_mailbox(mailbox) {
        return Err(forbidden(req, shared, operation.graph_name()));
    }
    Ok(())
}

/// The user whose mailbox or OneDrive a resource names (`users/{id or UPN}/…`), as written.
pub fn named_user(parsed: &Resource) -> Option<&str> {
    let by_user = parsed.segments.first().is_some_and(|s| s == "users");
    let drive =
        parsed.kind == Kind::DriveItem && parsed.segments.get(2).is_some_and(|s| s == "drive");
    (by_user && (parsed.kind.is_outlook() || drive))
        .then(|| parsed.segments.get(1).map(String::as_str))
        .flatten()
}

/// 404 `ExtensionError`: the user named in the resource is not (or no longer) in the tenant.
pub fn user_invalid(
    req: &HttpRequest,
    shared: &Shared,
    operation: Operation,
    user: &str,
    tenant: Uuid,
) -> HttpResponse {
    extension_error(
        req,
        shared,
        StatusCode::NOT_FOUND,
        operation.graph_name(),
        &format!("The requested user '{user}@{tenant}' is invalid."),
    )
}

/// Refuses a create on the mailbox or OneDrive of a user the tenant does not have, unless
/// `unknown_users = "accept"`.
pub fn check_user_exists(
    req: &HttpRequest,
    shared: &Shared,
    tenant: Uuid,
    parsed: &Resource,
) -> Result<(), HttpResponse> {
    let Some(user) = named_user(parsed) else {
        return Ok(());
    };
    let refused = {
        let world = shared.world();
        world.behaviour.unknown_users == UnknownUsers::Refuse && !world.has_user(tenant, user)
    };
    if refused {
        return Err(user_invalid(req, shared, Operation::Create, user, tenant));
    }
    Ok(())
}

/// Checks a notification or lifecycle URL: absolute, https (http only where configured).
pub fn check_url(
    req: &HttpRequest,
    shared: &Shared,
    name: &str,
    value: &str,
) -> Result<(), HttpResponse> {
    let Ok(url) = url::Url::parse(value) else {
        return Err(bad_request(
            req,
            shared,
            &format!("The {name} is not a valid absolute URL."),
        ));
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let allowed = match url.scheme() {
        "https" => true,
        "http" => match shared.world().behaviour.http_notification_urls {
            HttpUrls::Any => true,
            HttpUrls::Loopback => loopback,
            HttpUrls::Never => false,
        },
        _ => false,
    };
    if !allowed {
        return Err(bad_request(
            req,
            shared,
            &format!("Invalid {name}: only https URLs are supported."),
        ));
    }
    Ok(())
}

pub fn check_certificate(
    req: &HttpRequest,
    shared: &Shared,
    value: &str,
) -> Result<(), HttpResponse> {
    match CertInfo::from_text(value) {
        Ok(cert) if (2048..=4096).contains(&cert.key_bits()) => Ok(()),
        Ok(_) => Err(bad_request(
            req,
            shared,
            "The encryptionCertificate key must be RSA with 2048 to 4096 bits.",
        )),
        Err(e) => Err(bad_request(
            req,
            shared,
            &format!(
                "The encryptionCertificate is not a valid base64-encoded X.509 certificate: {e}."
            ),
        )),
    }
}

fn same_change_types(a: &str, b: &str) -> bool {
    let mut x: Vec<&str> = a.split(',').map(str::trim).collect();
    let mut y: Vec<&str> = b.split(',').map(str::trim).collect();
    x.sort_unstable();
    y.sort_unstable();
    x == y
}

fn normalized(resource: &str) -> String {
    resource.trim().trim_start_matches('/').to_lowercase()
}

pub fn check_duplicates_and_quotas(
    req: &HttpRequest,
    shared: &Shared,
    caller: &Caller,
    resource: &str,
    change_type: &str,
    kind: Kind,
    mailbox: Option<&str>,
) -> Result<(), HttpResponse> {
    let world = shared.world();
    let behaviour = world.behaviour.clone();
    if behaviour.reject_duplicates
        && let Some(existing) = world.subscriptions.values().find(|s| {
            s.tenant_id == caller.tenant
                && s.application_id == caller.app_id
                && s.delegated_user == caller.user_id()
                && normalized(&s.resource) == normalized(resource)
                && same_change_types(&s.change_type, change_type)
        })
    {
        let id = existing.id;
        drop(world);
        return Err(error(
            req,
            shared,
            StatusCode::CONFLICT,
            "Conflict",
            &format!("Subscription Id {id} already exists for the requested combination"),
        ));
    }
    let quota = |limited: &str, limit: usize| {
        extension_error(
            req,
            shared,
            StatusCode::FORBIDDEN,
            "Create",
            &format!("Maximum number of subscriptions {limited} ({limit}) has been reached"),
        )
    };
    if kind.is_directory() {
        let in_tenant = world
            .subscriptions
            .values()
            .filter(|s| s.tenant_id == caller.tenant && s.kind.is_directory());
        let per_tenant = in_tenant.clone().count();
        let per_app = in_tenant
            .filter(|s| s.application_id == caller.app_id)
            .count();
        if per_app >= behaviour.directory_quota_per_app {
            drop(world);
            return Err(quota(
                "for directory resources per application per tenant",
                behaviour.directory_quota_per_app,
            ));
        }
        if per_tenant >= behaviour.directory_quota_per_tenant {
            drop(world);
            return Err(quota(
                "for directory resources per tenant",
                behaviour.directory_quota_per_tenant,
            ));
        }
    }
    if let Some(mailbox) = mailbox {
        let count = world
            .subscriptions
            .values()
            .filter(|s| s.tenant_id == caller.tenant && s.mailbox.as_deref() == Some(mailbox))
            .count();
        if count >= behaviour.mailbox_quota {
            drop(world);
            return Err(quota("per mailbox", behaviour.mailbox_quota));
        }
    }
    Ok(())
}
