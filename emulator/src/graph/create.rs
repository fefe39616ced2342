//! `POST /subscriptions` (§1.2): every rule of §1.1, §6 and §7 in Graph's order, then the
//! validation handshake against each URL, then the subscription exists. A delegated token's
//! resource is checked by [`super::delegated`], an app-only token's here.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::{
    auth::Caller,
    body,
    checks::{
        check_certificate, check_duplicates_and_quotas, check_expiration, check_mailbox_access,
        check_url, check_user_exists,
    },
    delegated::{self, Target},
    errors::{bad_request, forbidden},
    subscriptions::{Reply, admit, counted, parse_json, parse_time, string, validation_error},
    validation,
};
use crate::{
    http::graph_ok,
    rules::{self, Kind},
    shared::{Data, Shared},
    state::{NewSubscription, Subscription, calls::Operation},
};

pub async fn create(shared: Data, req: HttpRequest, bytes: web::Bytes) -> HttpResponse {
    let response = match create_inner(&shared, &req, &bytes).await {
        Ok(response) | Err(response) => response,
    };
    counted(&shared, Operation::Create, response)
}

async fn create_inner(shared: &Shared, req: &HttpRequest, bytes: &[u8]) -> Reply {
    let caller = admit(req, shared)?;
    let now = shared.clock.now();
    let map = parse_json(req, shared, bytes)?;
    let Required {
        change_type,
        notification_url,
        resource,
        expiration,
    } = required(req, shared, &map)?;
    let Target {
        parsed,
        match_resource,
    } = target(req, shared, &caller, &resource, &change_type)?;
    let kind = parsed.kind;
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
    let options = options(req, shared, &map, rich)?;
    check_url(req, shared, "notificationUrl", &notification_url)?;
    if let Some(url) = &lifecycle_url {
        check_url(req, shared, "lifecycleNotificationUrl", url)?;
    }
    let duplicates_and_quotas = |resource: &str, change_type: &str, mailbox: Option<&str>| {
        check_duplicates_and_quotas(req, shared, &caller, resource, change_type, kind, mailbox)
    };
    duplicates_and_quotas(&resource, &change_type, parsed.mailbox.as_deref())?;
    for url in std::iter::once(&notification_url).chain(&lifecycle_url) {
        validation::validate(shared, url)
            .await
            .map_err(|f| validation_error(req, shared, f))?;
    }

    let new = NewSubscription {
        tenant_id: caller.tenant,
        application_id: caller.app_id,
        creator_id: caller.object_id,
        resource,
        kind,
        mailbox: parsed.mailbox,
        delegated_user: caller.user_id(),
        match_resource,
        change_type,
        notification_url,
        lifecycle_notification_url: lifecycle_url,
        client_state: options.client_state,
        expiration_date_time: expiration,
    };
    let subscription = Subscription {
        include_resource_data: rich,
        encryption_certificate: options.certificate,
        encryption_certificate_id: options.certificate_id,
        latest_supported_tls_version: options.tls,
        notification_url_app_id: string(&map, "notificationUrlAppId"),
        ..Subscription::new(new, now)
    };
    // The handshakes ran without the lock: check the duplicate rule and quotas again.
    duplicates_and_quotas(
        &subscription.resource,
        &subscription.change_type,
        subscription.mailbox.as_deref(),
    )?;
    let body = body::entity(&shared.base_url, &subscription);
    shared
        .world()
        .subscriptions
        .insert(subscription.id, subscription);
    Ok(graph_ok(req, StatusCode::CREATED).json(body))
}

/// The properties every subscription must be created with.
struct Required {
    change_type: String,
    notification_url: String,
    resource: String,
    expiration: DateTime<Utc>,
}

fn required(
    req: &HttpRequest,
    shared: &Shared,
    map: &serde_json::Map<String, Value>,
) -> Result<Required, HttpResponse> {
    let required = |key: &str| {
        string(map, key).ok_or_else(|| {
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

    Ok(Required {
        change_type,
        notification_url,
        resource,
        expiration,
    })
}

/// What the subscription watches, checked against the caller's permissions: a delegated
/// token's by [`delegated::target`], an app-only token's by its roles.
fn target(
    req: &HttpRequest,
    shared: &Shared,
    caller: &Caller,
    resource: &str,
    change_type: &str,
) -> Result<Target, HttpResponse> {
    if let Some(who) = &caller.delegated {
        return delegated::target(req, shared, who, resource, change_type);
    }
    // §6.2: application access to group conversations is not supported.
    if rules::parse_resource(resource).is_some_and(|r| r.kind == Kind::GroupConversation) {
        return Err(forbidden(req, shared, Operation::Create.graph_name()));
    }
    let parsed = rules::app_only_target(resource, change_type)
        .map_err(|message| bad_request(req, shared, &message))?;
    if !caller.has_any_role(parsed.kind.application_roles().unwrap_or(&[])) {
        return Err(forbidden(req, shared, Operation::Create.graph_name()));
    }
    check_user_exists(req, shared, caller.tenant, &parsed)?;
    check_mailbox_access(req, shared, parsed.mailbox.as_deref(), Operation::Create)?;
    Ok(Target {
        parsed,
        match_resource: None,
    })
}

/// The optional properties a subscription keeps as sent, once checked.
struct Options {
    client_state: Option<String>,
    certificate: Option<String>,
    certificate_id: Option<String>,
    tls: String,
}

fn options(
    req: &HttpRequest,
    shared: &Shared,
    map: &serde_json::Map<String, Value>,
    rich: bool,
) -> Result<Options, HttpResponse> {
    let client_state = at_most_128_characters(req, shared, map, "clientState")?;
    let certificate = string(map, "encryptionCertificate");
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
    let certificate_id = at_most_128_characters(req, shared, map, "encryptionCertificateId")?;
    let tls = string(map, "latestSupportedTlsVersion").unwrap_or_else(|| "v1_2".to_owned());
    if !["v1_0", "v1_1", "v1_2", "v1_3"].contains(&tls.as_str()) {
        return Err(bad_request(
            req,
            shared,
            &format!("Invalid latestSupportedTlsVersion '{tls}'."),
        ));
    }
    Ok(Options {
        client_state,
        certificate,
        certificate_id,
        tls,
    })
}

/// An optional string property Graph caps at 128 characters.
fn at_most_128_characters(
    req: &HttpRequest,
    shared: &Shared,
    map: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, HttpResponse> {
    let value = string(map, key);
    if value.as_ref().is_some_and(|v| v.chars().count() > 128) {
        return Err(bad_request(
            req,
            shared,
            &format!("{key} must not be longer than 128 characters."),
        ));
    }
    Ok(value)
}
