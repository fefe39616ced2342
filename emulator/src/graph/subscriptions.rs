//! `/subscriptions`: create, list, get, update (renew, new URL, key rotation), delete and
//! reauthorize (§1.2), with the rules of §6 and §7.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    auth::{Caller, authenticate},
    body,
    checks::{check_certificate, check_duplicates_and_quotas, check_expiration, check_url},
    throttle,
    validation::{self, Failure},
};
use crate::{
    http::{graph_error, graph_ok},
    rules,
    server::{Data, Shared},
    state::{Ended, Subscription},
};

type Reply = Result<HttpResponse, HttpResponse>;

pub(super) fn error(
    req: &HttpRequest,
    shared: &Shared,
    status: StatusCode,
    code: &str,
    message: &str,
) -> HttpResponse {
    graph_error(req, shared.clock.now(), status, code, message)
}

pub(super) fn bad_request(req: &HttpRequest, shared: &Shared, message: &str) -> HttpResponse {
    error(
        req,
        shared,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
        message,
    )
}

fn forbidden(req: &HttpRequest, shared: &Shared, operation: &str) -> HttpResponse {
    error(
        req,
        shared,
        StatusCode::FORBIDDEN,
        "ExtensionError",
        &format!("Operation: {operation}; Exception: [Status Code: Forbidden; Reason: Forbidden]"),
    )
}

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
fn admit(req: &HttpRequest, shared: &Shared) -> Result<Caller, HttpResponse> {
    let caller = authenticate(req, shared)?;
    let now = shared.clock.now();
    let mut world = shared.world();
    world.purge_expired(now);
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

fn parse_json(
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
fn parse_time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    value
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.to_utc())
}

fn string(map: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

fn validation_error(req: &HttpRequest, shared: &Shared, failure: Failure) -> HttpResponse {
    error(req, shared, failure.status, failure.code, failure.message)
}

pub async fn create(shared: Data, req: HttpRequest, bytes: web::Bytes) -> HttpResponse {
    match create_inner(&shared, &req, &bytes).await {
        Ok(response) | Err(response) => response,
    }
}

async fn create_inner(shared: &Shared, req: &HttpRequest, bytes: &[u8]) -> Reply {
    let caller = admit(req, shared)?;
    let now = shared.clock.now();
    let map = parse_json(req, shared, bytes)?;
    let required = |key: &str| {
        string(&map, key).ok_or_else(|| {
            bad_request(
                req,
                shared,
                &format!("{key} is a required property for subscription creation"),
            )
        })
    };
    let change_type = required("changeType")?;
    let notification_url = required("notificationUrl")?;
    let resource = required("resource")?;
    let expiration = parse_time(map.get("expirationDateTime")).ok_or_else(|| {
        bad_request(
            req,
            shared,
            "expirationDateTime is a required property for subscription creation",
        )
    })?;

    let Some(parsed) = rules::parse_resource(&resource) else {
        return Err(bad_request(
            req,
            shared,
            &format!("Resource '{resource}' is not supported for subscriptions."),
        ));
    };
    let kind = parsed.kind;
    if parsed.delegated_only {
        return Err(bad_request(
            req,
            shared,
            &format!(
                "Resource '{resource}' needs a signed-in user; application permissions cannot use 'me'."
            ),
        ));
    }
    let Some(roles) = kind.application_roles() else {
        return Err(bad_request(
            req,
            shared,
            &format!(
                "Subscriptions to '{resource}' are not supported with application permissions."
            ),
        ));
    };
    let unsupported = rules::unsupported_change_types(kind, &change_type);
    if !unsupported.is_empty() {
        return Err(bad_request(
            req,
            shared,
            &format!(
                "ChangeType '{}' is not supported for resource '{resource}'. Supported change types: {}.",
                unsupported.join(","),
                kind.change_types().join(",")
            ),
        ));
    }
    if !caller.has_any_role(roles) {
        return Err(forbidden(req, shared, "Create"));
    }
    let rich = map
        .get("includeResourceData")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let expiration = check_expiration(req, shared, kind, rich, expiration, now)?;
    let lifecycle_url = string(&map, "lifecycleNotificationUrl");
    if kind.is_teams() && lifecycle_url.is_none() && expiration > now + Duration::hours(1) {
        return Err(bad_request(
            req,
            shared,
            "lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour.",
        ));
    }
    let client_state = string(&map, "clientState");
    if client_state
        .as_ref()
        .is_some_and(|c| c.chars().count() > 128)
    {
        return Err(bad_request(
            req,
            shared,
            "clientState must not be longer than 128 characters.",
        ));
    }
    let certificate = string(&map, "encryptionCertificate");
    let certificate_id = string(&map, "encryptionCertificateId");
    if rich {
        let Some(cert) = &certificate else {
            return Err(bad_request(
                req,
                shared,
                "encryptionCertificate is a required property when includeResourceData is true.",
            ));
        };
        check_certificate(req, shared, cert)?;
    }
    if certificate_id
        .as_ref()
        .is_some_and(|c| c.chars().count() > 128)
    {
        return Err(bad_request(
            req,
            shared,
            "encryptionCertificateId must not be longer than 128 characters.",
        ));
    }
    let tls = string(&map, "latestSupportedTlsVersion").unwrap_or_else(|| "v1_2".to_owned());
    if !["v1_0", "v1_1", "v1_2", "v1_3"].contains(&tls.as_str()) {
        return Err(bad_request(
            req,
            shared,
            &format!("Invalid latestSupportedTlsVersion '{tls}'."),
        ));
    }
    check_url(req, shared, "notificationUrl", &notification_url)?;
    if let Some(url) = &lifecycle_url {
        check_url(req, shared, "lifecycleNotificationUrl", url)?;
    }
    check_duplicates_and_quotas(
        req,
        shared,
        &caller,
        &resource,
        &change_type,
        kind,
        parsed.mailbox.as_deref(),
    )?;

    validation::validate(shared, &notification_url)
        .await
        .map_err(|f| validation_error(req, shared, f))?;
    if let Some(url) = &lifecycle_url {
        validation::validate(shared, url)
            .await
            .map_err(|f| validation_error(req, shared, f))?;
    }

    let subscription = Subscription {
        id: Uuid::new_v4(),
        tenant_id: caller.tenant,
        application_id: caller.app_id,
        creator_id: caller.object_id,
        resource,
        kind,
        change_type,
        client_state,
        notification_url,
        lifecycle_notification_url: lifecycle_url,
        expiration_date_time: expiration,
        include_resource_data: rich,
        encryption_certificate: certificate,
        encryption_certificate_id: certificate_id,
        latest_supported_tls_version: tls,
        notification_url_app_id: string(&map, "notificationUrlAppId"),
        created_at: now,
        last_authorized_at: now,
        reauthorization_required_at: None,
        paused_from: None,
        mailbox: parsed.mailbox,
    };
    // The handshakes ran without the lock: check the duplicate rule and quotas again.
    check_duplicates_and_quotas(
        req,
        shared,
        &caller,
        &subscription.resource,
        &subscription.change_type,
        kind,
        subscription.mailbox.as_deref(),
    )?;
    let body = body::entity(&shared.base_url, &subscription);
    shared
        .world()
        .subscriptions
        .insert(subscription.id, subscription);
    Ok(graph_ok(req, StatusCode::CREATED).json(body))
}

pub async fn list(shared: Data, req: HttpRequest) -> HttpResponse {
    let caller = match admit(&req, &shared) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let world = shared.world();
    let value: Vec<Value> = world
        .subscriptions
        .values()
        .filter(|s| s.tenant_id == caller.tenant && s.application_id == caller.app_id)
        .map(body::subscription)
        .collect();
    graph_ok(&req, StatusCode::OK)
        .json(json!({"@odata.context": body::context(&shared.base_url, false), "value": value}))
}

/// The caller's subscription, or 404 (another app's or tenant's is invisible); 403 when the
/// caller no longer holds the permission the resource needs.
fn owned(
    req: &HttpRequest,
    shared: &Shared,
    caller: &Caller,
    id: &str,
    operation: &str,
) -> Result<Subscription, HttpResponse> {
    let id = Uuid::parse_str(id).map_err(|_| not_found(req, shared))?;
    let found = shared
        .world()
        .subscriptions
        .get(&id)
        .filter(|s| s.tenant_id == caller.tenant && s.application_id == caller.app_id)
        .cloned();
    let subscription = found.ok_or_else(|| not_found(req, shared))?;
    let roles = subscription.kind.application_roles().unwrap_or(&[]);
    if !caller.has_any_role(roles) {
        return Err(forbidden(req, shared, operation));
    }
    Ok(subscription)
}

pub async fn get(shared: Data, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let result = admit(&req, &shared).and_then(|caller| owned(&req, &shared, &caller, &id, "Get"));
    match result {
        Ok(s) => graph_ok(&req, StatusCode::OK).json(body::entity(&shared.base_url, &s)),
        Err(response) => response,
    }
}

pub async fn delete(shared: Data, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let result =
        admit(&req, &shared).and_then(|caller| owned(&req, &shared, &caller, &id, "Delete"));
    match result {
        Ok(s) => {
            shared.world().remove_subscription(s.id, Ended::Deleted);
            graph_ok(&req, StatusCode::NO_CONTENT).finish()
        }
        Err(response) => response,
    }
}

pub async fn reauthorize(shared: Data, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let result =
        admit(&req, &shared).and_then(|caller| owned(&req, &shared, &caller, &id, "Reauthorize"));
    match result {
        Ok(s) => {
            let now = shared.clock.now();
            if let Some(stored) = shared.world().subscriptions.get_mut(&s.id) {
                stored.reauthorized(now);
            }
            graph_ok(&req, StatusCode::NO_CONTENT).finish()
        }
        Err(response) => response,
    }
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
    match update_inner(&shared, &req, &id, &bytes).await {
        Ok(response) | Err(response) => response,
    }
}

async fn update_inner(shared: &Shared, req: &HttpRequest, id: &str, bytes: &[u8]) -> Reply {
    let caller = admit(req, shared)?;
    let now = shared.clock.now();
    let current = owned(req, shared, &caller, id, "Update")?;
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
    if !world.subscriptions.contains_key(&updated.id) {
        drop(world);
        return Err(not_found(req, shared));
    }
    let body = body::entity(&shared.base_url, &updated);
    world.subscriptions.insert(updated.id, updated);
    Ok(graph_ok(req, StatusCode::OK).json(body))
}
