//! `/subscriptions/…`: list, get, update (renew, new URL, key rotation), delete and
//! reauthorize (§1.2), with the rules of §6 and §7, and what every operation shares:
//! authentication and throttling, and counting each call. Create lives in `create.rs`, Graph's
//! error bodies in `errors.rs`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    auth::{Caller, authenticate},
    body,
    checks::{check_certificate, check_expiration, check_mailbox_access, check_url, user_invalid},
    errors::{bad_request, error, forbidden},
    throttle,
    validation::{self, Failure},
};
use crate::{
    http::graph_ok,
    shared::{Data, Shared},
    state::{Ended, Subscription, calls::Operation},
};

pub(super) type Reply = Result<HttpResponse, HttpResponse>;

fn not_found(req: &HttpRequest, shared: &Shared) -> HttpResponse {
    error(
        req,
        shared,
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        "The object was not found.",
    )
}

/// Authentication and throttling, common to every call.
pub(super) fn admit(req: &HttpRequest, shared: &Shared) -> Result<Caller, HttpResponse> {
    let caller = authenticate(req, shared)?;
    let now = shared.clock.now();
    let mut world = shared.world();
    world.purge_expired(now);
    if let Some(status) = world
        .behaviour
        .outage_status
        .and_then(|s| StatusCode::from_u16(s).ok())
    {
        drop(world);
        return Err(error(
            req,
            shared,
            status,
            "serviceNotAvailable",
            "The service is temporarily unavailable.",
        ));
    }
    if let Some(retry_after) = throttle::check(&mut world, caller.tenant, caller.app_id, now) {
        drop(world);
        let mut response = error(
            req,
            shared,
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests. Please retry after the time given in the Retry-After header.",
        );
        if let Ok(value) = retry_after.to_string().parse() {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        return Err(response);
    }
    Ok(caller)
}

pub(super) fn parse_json(
    req: &HttpRequest,
    shared: &Shared,
    bytes: &[u8],
) -> Result<serde_json::Map<String, Value>, HttpResponse> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(error(
            req,
            shared,
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

/// Parses Graph's DateTimeOffset (`2025-01-03T10:00:00.0000000Z`).
pub(super) fn parse_time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    value
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.to_utc())
}

pub(super) fn string(map: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

pub(super) fn validation_error(
    req: &HttpRequest,
    shared: &Shared,
    failure: Failure,
) -> HttpResponse {
    error(req, shared, failure.status, failure.code, failure.message)
}

/// Records the call in the statistics (`GET /_emulator/calls`) and passes its answer on.
pub(super) fn counted(
    shared: &Shared,
    operation: Operation,
    response: HttpResponse,
) -> HttpResponse {
    shared
        .world()
        .call_stats
        .record(operation, response.status().as_u16());
    response
}

pub async fn list(shared: Data, req: HttpRequest) -> HttpResponse {
    let response = list_inner(&shared, &req);
    counted(&shared, Operation::List, response)
}

fn list_inner(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    let caller = match admit(req, shared) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let world = shared.world();
    let value: Vec<Value> = world
        .subscriptions
        .values()
        .filter(|s| s.tenant_id == caller.tenant && s.application_id == caller.app_id)
        // A signed-in user sees their own subscriptions; the app sees all of its tenant's.
        .filter(|s| caller.delegated.is_none() || s.delegated_user == caller.user_id())
        .map(body::subscription)
        .collect();
    graph_ok(req, StatusCode::OK)
        .json(json!({"@odata.context": body::context(&shared.base_url, false), "value": value}))
}

/// The caller's subscription, or 404 (another app's or tenant's is invisible); 403 when the
/// caller no longer holds the permission the resource needs, or an access policy keeps the app
/// out of its mailbox. A delegated subscription belongs to its user: another user's token, or
/// an app-only token for anything but a GET, gets 403.
fn owned(
    req: &HttpRequest,
    shared: &Shared,
    caller: &Caller,
    id: &str,
    operation: Operation,
) -> Result<Subscription, HttpResponse> {
    let id = Uuid::parse_str(id).map_err(|_| not_found(req, shared))?;
    let found = shared
        .world()
        .subscriptions
        .get(&id)
        .filter(|s| s.tenant_id == caller.tenant && s.application_id == caller.app_id)
        .cloned();
    let subscription = found.ok_or_else(|| not_found(req, shared))?;
    let refused = || forbidden(req, shared, operation.graph_name());
    match (&caller.delegated, subscription.delegated_user) {
        (Some(who), Some(owner)) => {
            let needed = subscription.kind.delegated_scopes(who.personal);
            if who.user.id != owner || !needed.is_some_and(|n| who.has_any_scope(n)) {
                return Err(refused());
            }
            Ok(subscription)
        }
        (Some(_), None) => Err(refused()),
        (None, Some(_)) if operation != Operation::Get => Err(refused()),
        (None, Some(_)) => Ok(subscription),
        (None, None) => {
            let roles = subscription.kind.application_roles().unwrap_or(&[]);
            if !caller.has_any_role(roles) {
                return Err(refused());
            }
            check_mailbox_access(req, shared, subscription.mailbox.as_deref(), operation)?;
            Ok(subscription)
        }
    }
}

/// Authenticates, throttles and finds the caller's subscription for `operation`; a
/// subscription whose mailbox owner was removed from the directory fails as Graph's do
/// (see [`super::checks`]).
fn admit_owned(
    req: &HttpRequest,
    shared: &Shared,
    id: &str,
    operation: Operation,
) -> Result<Subscription, HttpResponse> {
    let caller = admit(req, shared)?;
    let subscription = owned(req, shared, &caller, id, operation)?;
    if let Some(mailbox) = subscription.mailbox.as_deref()
        && shared.world().was_removed(subscription.tenant_id, mailbox)
    {
        return Err(match operation {
            Operation::Get => error(
                req,
                shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                "ExtensionError",
                "There was an error processing a storage extension.",
            ),
            _ => user_invalid(req, shared, operation, mailbox, subscription.tenant_id),
        });
    }
    Ok(subscription)
}

pub async fn get(shared: Data, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let response = match admit_owned(&req, &shared, &id, Operation::Get) {
        Ok(s) => graph_ok(&req, StatusCode::OK).json(body::entity(&shared.base_url, &s)),
        Err(response) => response,
    };
    counted(&shared, Operation::Get, response)
}

pub async fn delete(shared: Data, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let response = match admit_owned(&req, &shared, &id, Operation::Delete) {
        Ok(s) => {
            shared.world().remove_subscription(s.id, Ended::Deleted);
            graph_ok(&req, StatusCode::NO_CONTENT).finish()
        }
        Err(response) => response,
    };
    counted(&shared, Operation::Delete, response)
}

pub async fn reauthorize(shared: Data, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let response = match admit_owned(&req, &shared, &id, Operation::Reauthorize) {
        Ok(s) => {
            let now = shared.clock.now();
            if let Some(stored) = shared.world().subscriptions.get_mut(&s.id) {
                stored.reauthorized(now);
                stored.reauthorizations += 1;
            }
            graph_ok(&req, StatusCode::NO_CONTENT).finish()
        }
        Err(response) => response,
    };
    counted(&shared, Operation::Reauthorize, response)
}

const PATCHABLE: [&str; 4] = [
    "expirationDateTime",
    "notificationUrl",
    "encryptionCertificate",
    "encryptionCertificateId",
];

pub async fn update(
    shared: Data,
    req: HttpRequest,
    id: web::Path<String>,
    bytes: web::Bytes,
) -> HttpResponse {
    let response = match update_inner(&shared, &req, &id, &bytes).await {
        Ok(response) | Err(response) => response,
    };
    counted(&shared, Operation::Update, response)
}

async fn update_inner(shared: &Shared, req: &HttpRequest, id: &str, bytes: &[u8]) -> Reply {
    let current = admit_owned(req, shared, id, Operation::Update)?;
    let now = shared.clock.now();
    let map = parse_json(req, shared, bytes)?;
    if let Some(key) = map
        .keys()
        .find(|k| !PATCHABLE.contains(&k.as_str()) && !k.starts_with('@'))
    {
        return Err(bad_request(
            req,
            shared,
            &format!("Property '{key}' cannot be updated on a subscription."),
        ));
    }
    let mut updated = current.clone();
    if map.contains_key("expirationDateTime") {
        let requested = parse_time(map.get("expirationDateTime")).ok_or_else(|| {
            bad_request(
                req,
                shared,
                "expirationDateTime is not a valid DateTimeOffset.",
            )
        })?;
        updated.expiration_date_time = check_expiration(
            req,
            shared,
            current.kind,
            current.include_resource_data,
            requested,
            now,
        )?;
    }
    if let Some(cert) = string(&map, "encryptionCertificate") {
        check_certificate(req, shared, &cert)?;
        updated.encryption_certificate = Some(cert);
    }
    if map.contains_key("encryptionCertificateId") {
        let cert_id = string(&map, "encryptionCertificateId");
        if cert_id.as_ref().is_some_and(|c| c.chars().count() > 128) {
            return Err(bad_request(
                req,
                shared,
                "encryptionCertificateId must not be longer than 128 characters.",
            ));
        }
        updated.encryption_certificate_id = cert_id;
    }
    if let Some(url) = string(&map, "notificationUrl")
        && url != current.notification_url
    {
        check_url(req, shared, "notificationUrl", &url)?;
        validation::validate(shared, &url)
            .await
            .map_err(|f| validation_error(req, shared, f))?;
        updated.notification_url = url;
    }
    // A renewal also reauthorizes, and answers a pending reauthorization challenge.
    updated.reauthorized(now);
    let mut world = shared.world();
    // The handshake ran without the lock: the subscription may have gone meanwhile, and calls
    // counted meanwhile must not be lost.
    let Some(stored) = world.subscriptions.get(&updated.id) else {
        drop(world);
        return Err(not_found(req, shared));
    };
    updated.renewals = stored.renewals + 1;
    updated.reauthorizations = stored.reauthorizations;
    let body = body::entity(&shared.base_url, &updated);
    world.subscriptions.insert(updated.id, updated);
    Ok(graph_ok(req, StatusCode::OK).json(body))
}
