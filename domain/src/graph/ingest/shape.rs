//! What a checked item becomes: its event type and `data` (a lifecycle item's
//! `graph.subscription.*` event, a change's `graph.{kind}.{changeType}` with Graph's
//! `resourceData` and decrypted `content` kept as the bytes Graph sent), and its identity for
//! deduplication. Pure, so every branch is tested here; [`super::item::prepare`] does the
//! lookups, the audit entries and the decryption around it.

use serde::Deserialize;
use serde_json::{Value, json, value::RawValue};
use sha2::{Digest, Sha256};

use super::fields;
use crate::{
    delivery::event_catalogue::Event,
    platform::entities::subscription::{self, DueAction},
    platform::ids::{ConnectionId, SubscriptionId},
};

/// An event to write: its type, `data`, the members of `data` written verbatim, and the
/// upkeep action (with its trigger) a lifecycle item asks for.
#[derive(Debug)]
pub(super) struct Shaped {
    pub event_type: String,
    pub data: Value,
    pub verbatim: Vec<(&'static str, Box<RawValue>)>,
    pub action: Option<(DueAction, String)>,
}

/// A lifecycle event's event type, and the action it asks of the upkeep (`missed` asks none
/// beyond the event: the tenant resyncs).
fn lifecycle_event_type(event: &str) -> Option<(&'static str, Option<DueAction>)> {
    match event {
        "reauthorizationRequired" => Some((
            Event::SubscriptionReauthorizationRequired.name(),
            Some(DueAction::Reauthorize),
        )),
        "subscriptionRemoved" => {
            Some((Event::SubscriptionRemoved.name(), Some(DueAction::Recreate)))
        }
        "missed" => Some((Event::SubscriptionMissed.name(), None)),
        _ => None,
    }
}

/// A lifecycle item (`lifecycleEvent` set).
pub(super) fn lifecycle(
    item: &Value,
    subscription: &subscription::Model,
    event: &str,
) -> Result<Shaped, &'static str> {
    let Some((event_type, wanted)) = lifecycle_event_type(event) else {
        tracing::info!(event, "an unknown lifecycle event; ignored");
        return Err("unknown_lifecycle_event");
    };
    let expiry = item.get("subscriptionExpirationDateTime");
    Ok(Shaped {
        event_type: event_type.to_owned(),
        data: json!({
            "subscriptionId": SubscriptionId::from(subscription.id),
            "resource": subscription.resource,
            "lifecycleEvent": event,
            "tenantId": item.get("tenantId"),
            "subscriptionExpirationDateTime": expiry,
            "subscriptionExpiresAt": fields::normalized_time(expiry),
        }),
        verbatim: Vec::new(),
        action: wanted.map(|a| (a, format!("lifecycle:{event}"))),
    })
}

/// An item's `resourceData` as the bytes Graph sent.
#[derive(Deserialize)]
struct RawParts<'a> {
    #[serde(borrow, default, rename = "resourceData")]
    resource_data: Option<&'a RawValue>,
}

/// A change item. `raw`: the item as Graph wrote it; `content`: its decrypted content.
pub(super) fn change(
    item: &Value,
    raw: Option<&RawValue>,
    subscription: &subscription::Model,
    content: Option<Box<RawValue>>,
) -> Result<Shaped, &'static str> {
    let change_type = item
        .get("changeType")
        .and_then(Value::as_str)
        .filter(|c| matches!(*c, "created" | "updated" | "deleted"))
        .ok_or("malformed")?;
    let expiry = item.get("subscriptionExpirationDateTime");
    let mut data = json!({
        "subscriptionId": SubscriptionId::from(subscription.id),
        "id": item.get("id"),
        "resource": item.get("resource"),
        "resourceIds": item
            .get("resource")
            .and_then(Value::as_str)
            .and_then(fields::resource_ids),
        "changeType": change_type,
        "resourceData": item.get("resourceData"),
        "tenantId": item.get("tenantId"),
        "subscriptionExpirationDateTime": expiry,
        "subscriptionExpiresAt": fields::normalized_time(expiry),
    });
    let mut verbatim = Vec::new();
    if let Some(members) = data.as_object_mut() {
        // Graph's fields that this notification did not carry are left out.
        members.retain(|_, v| !v.is_null());
        // Graph's JSON goes on as Graph wrote it.
        let raw_resource_data = raw
            .and_then(|r| serde_json::from_str::<RawParts>(r.get()).ok())
            .and_then(|p| p.resource_data)
            .filter(|r| r.get() != "null");
        if let Some(resource_data) = raw_resource_data {
            members.shift_remove("resourceData");
            verbatim.push(("resourceData", resource_data.to_owned()));
        }
        if let Some(connection) = subscription.connection_id {
            members.insert("connectionId".into(), json!(ConnectionId::from(connection)));
        }
    }
    if let Some(content) = content {
        verbatim.push(("content", content));
    }
    Ok(Shaped {
        event_type: format!("graph.{}.{change_type}", subscription.kind),
        data,
        verbatim,
        action: None,
    })
}

/// The item's hash (over the bytes Graph sent, when known) and whether it carries an
/// identity (a notification `id`, or its resource's `@odata.etag`).
pub(super) fn identity(item: &Value, raw: Option<&RawValue>) -> (Vec<u8>, bool) {
    let hash = match raw {
        Some(raw) => Sha256::digest(raw.get().as_bytes()).to_vec(),
        None => Sha256::digest(serde_json::to_vec(item).unwrap_or_default()).to_vec(),
    };
    let named = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .is_some_and(|text| !text.is_empty())
    };
    let identified = named(item.get("id")) || named(item.pointer("/resourceData/@odata.etag"));
    (hash, identified)
}

#[cfg(test)]
mod tests;
