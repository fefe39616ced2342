//! The JSON representation of a subscription, with exactly the fields of §1.2's create response.
//! Every response that carries a subscription (create, get, list, PATCH) writes
//! `expirationDateTime` the way Graph echoes it, with seven fractional digits
//! (`2016-11-20T18:23:45.9356913Z`, as in Microsoft's samples), whatever the request had.

use serde_json::{Value, json};

use crate::state::Subscription;

pub fn context(base: &str, entity: bool) -> String {
    let _ = base;
    if entity {
        "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity".to_owned()
    } else {
        "https://graph.microsoft.com/v1.0/$metadata#subscriptions".to_owned()
    }
}

/// Graph writes `expirationDateTime` as .NET's round-trip format in UTC: seven fractional
/// digits (100 ns ticks, the rest truncated) and `Z`, e.g. `2025-01-03T10:00:00.0000000Z`.
pub fn date_time(t: chrono::DateTime<chrono::Utc>) -> String {
    let ticks = chrono::Timelike::nanosecond(&t) % 1_000_000_000 / 100;
    format!("{}.{ticks:07}Z", t.format("%Y-%m-%dT%H:%M:%S"))
}

pub fn subscription(s: &Subscription) -> Value {
    json!({
        "id": s.id.to_string(),
        "resource": s.resource,
        "applicationId": s.application_id.to_string(),
        "changeType": s.change_type,
        "clientState": s.client_state,
        "notificationUrl": s.notification_url,
        "lifecycleNotificationUrl": s.lifecycle_notification_url,
        "expirationDateTime": date_time(s.expiration_date_time),
        "creatorId": s.creator_id.to_string(),
        "includeResourceData": if s.include_resource_data { Value::Bool(true) } else { Value::Null },
        "encryptionCertificate": s.encryption_certificate,
        "encryptionCertificateId": s.encryption_certificate_id,
        "latestSupportedTlsVersion": s.latest_supported_tls_version,
        "notificationQueryOptions": Value::Null,
        "notificationContentType": Value::Null,
        "notificationUrlAppId": s.notification_url_app_id,
    })
}

/// A single subscription with `@odata.context` first, as in create and get responses.
pub fn entity(base: &str, s: &Subscription) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("@odata.context".into(), Value::String(context(base, true)));
    if let Value::Object(fields) = subscription(s) {
        map.extend(fields);
    }
    Value::Object(map)
}
