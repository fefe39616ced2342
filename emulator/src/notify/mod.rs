//! Changes made through the control API become change notifications (§3.2): one per changed
//! item for every subscription that hears of it, in Graph's shape, queued for delivery to the
//! subscription's notificationUrl. Delegated subscriptions (`me/messages`, a personal
//! `me/drive/root`) hear of changes to the signed-in user's own resources, whichever way the
//! change names the user (object id, UPN, or a personal user's drive id).

mod bodies;
pub mod lifecycle;
mod outlook;
pub mod rich;
pub mod shape;

use chrono::{DateTime, FixedOffset, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{
    config::{ExpirationFormat, ResourceStyle},
    delivery::{ItemRef, Pending, Topic},
    rules::{self, Kind},
    state::{Subscription, World, is_consumers, personal::personal_drive_id},
};
use shape::Target;

/// The most items one change request may make.
pub const MAX_COUNT: u32 = 10_000;

/// A change to make happen: `count` items of `resource` in `tenant` are created, updated or
/// deleted.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeRequest {
    /// The tenant's GUID or verified domain.
    pub tenant: String,
    /// A collection (`users/{id}/messages`, `users`) or one item (`users/{id}`,
    /// `users/{id}/messages/{messageId}`).
    pub resource: String,
    pub change_type: String,
    /// How many items change (on one item: how many notifications it fires).
    #[serde(default = "one")]
    pub count: u32,
    /// The item's properties (what a GET would return); `id` names the item.
    #[serde(default)]
    pub properties: Option<Map<String, Value>>,
    /// Extra copies of every notification (§3.5: duplicates happen).
    #[serde(default)]
    pub duplicates: u32,
    /// Deliver this request's notifications in reverse order (§3.5: no ordering guarantee).
    #[serde(default)]
    pub reorder: bool,
}

fn one() -> u32 {
    1
}

/// A notification a control call queued, as the control API reports it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Queued {
    pub url: String,
    #[serde(flatten)]
    pub item: ItemRef,
}

impl From<&Pending> for Queued {
    fn from(p: &Pending) -> Self {
        Self {
            url: p.url.clone(),
            item: p.into(),
        }
    }
}

/// The change type a subscriber sees: users and groups report creation as `updated` (§1.1),
/// drive roots and lists report every change as `updated`.
fn seen_as(kind: Kind, change_type: &str) -> String {
    let allowed = kind.change_types();
    if allowed.contains(&change_type) {
        change_type.to_owned()
    } else if allowed == ["updated"] || (kind.is_directory() && change_type == "created") {
        "updated".to_owned()
    } else {
        change_type.to_owned()
    }
}

/// `subscriptionExpirationDateTime` in one of Graph's formats (§3.2).
pub fn expiration(at: DateTime<Utc>, format: ExpirationFormat, seq: u64) -> String {
    let format = match format {
        ExpirationFormat::Varied => match seq % 3 {
            0 => ExpirationFormat::Millis,
            1 => ExpirationFormat::Ticks,
            _ => ExpirationFormat::LocalOffset,
        },
        other => other,
    };
    let ticks = at.nanosecond() % 1_000_000_000 / 100;
    match format {
        ExpirationFormat::Ticks => format!("{}.{ticks:07}+00:00", at.format("%Y-%m-%dT%H:%M:%S")),
        ExpirationFormat::LocalOffset => {
            let Some(offset) = FixedOffset::east_opt(5 * 3600 + 30 * 60) else {
                return at.to_rfc3339();
            };
            let local = at.with_timezone(&offset);
            format!(
                "{}.{ticks:07}{}",
                local.format("%Y-%m-%dT%H:%M:%S"),
                local.format("%:z")
            )
        }
        ExpirationFormat::Millis | ExpirationFormat::Varied => {
            at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        }
    }
}

fn resource_style(style: ResourceStyle, seq: u64) -> ResourceStyle {
    match style {
        ResourceStyle::Varied => match seq % 3 {
            0 => ResourceStyle::Normalized,
            1 => ResourceStyle::TenantQualified,
            _ => ResourceStyle::Keyed,
        },
        other => other,
    }
}

/// The optional notification `id` Outlook sends (`lsgTZMr9KwAAA` in §3.2's sample).
fn notification_id() -> String {
    let raw = Uuid::new_v4().simple().to_string();
    format!("{}AAA", &raw[..10])
}

/// A checked request.
struct Planned {
    tenant: Uuid,
    target: Target,
    /// The target as delegated subscriptions' resolved paths name it (see [`resolved`]).
    resolved: Vec<Target>,
    request: ChangeRequest,
}

/// The paths a change's target also goes by for delegated subscriptions: `users/{UPN}/…` as
/// `users/{object id}/…`, and a personal user's `users/{id}/drive/…` as
/// `drives/{drive id}/…`.
fn resolved(world: &World, tenant: Uuid, target: &Target) -> Vec<Target> {
    let original = &target.original;
    let user = original
        .first()
        .filter(|s| s.eq_ignore_ascii_case("users"))
        .and_then(|_| original.get(1))
        .and_then(|name| {
            let users = &world.tenants.get(&tenant)?.users;
            users.iter().find(|u| u.is_named(name))
        });
    let Some(user) = user else {
        return Vec::new();
    };
    let rest = original[2..].join("/");
    let mut paths = vec![format!("users/{}/{rest}", user.id)];
    if target.kind == Kind::DriveItem && is_consumers(tenant) {
        let drive = personal_drive_id(user.id);
        let below = original[3..].join("/");
        paths.push(format!("drives/{drive}/{below}"));
    }
    let mut targets: Vec<Target> = paths.iter().filter_map(|p| Target::parse(p)).collect();
    for t in &mut targets {
        t.item_id = target.item_id.clone();
    }
    targets
}

fn plan(world: &World, request: ChangeRequest) -> Result<Planned, String> {
    let tenant = world
        .find_tenant(&request.tenant)
        .map(|t| t.id)
        .ok_or_else(|| format!("tenant {} not found", request.tenant))?;
    let target = Target::parse(&request.resource).ok_or_else(|| {
        format!(
            "resource {} is not a resource Graph notifies about",
            request.resource
        )
    })?;
    if !["created", "updated", "deleted"].contains(&request.change_type.as_str()) {
        return Err(format!(
            "changeType {} is not one of created, updated, deleted",
            request.change_type
        ));
    }
    if request.count == 0 || request.count > MAX_COUNT {
        return Err(format!("count must be between 1 and {MAX_COUNT}"));
    }
    let resolved = resolved(world, tenant, &target);
    Ok(Planned {
        tenant,
        target,
        resolved,
        request,
    })
}

/// The subscriptions of a tenant that hear of a change, with their parsed resource.
fn listeners<'a>(
    world: &'a World,
    planned: &Planned,
    change_type: &str,
    now: DateTime<Utc>,
) -> Vec<&'a Subscription> {
    let hears = |s: &Subscription| match &s.match_resource {
        Some(path) => rules::parse_resource(path).is_some_and(|r| {
            std::iter::once(&planned.target)
                .chain(&planned.resolved)
                .any(|t| t.covered_by(&r))
        }),
        None => rules::parse_resource(&s.resource).is_some_and(|r| planned.target.covered_by(&r)),
    };
    world
        .subscriptions
        .values()
        .filter(|s| s.tenant_id == planned.tenant && s.expiration_date_time > now)
        .filter(|s| s.change_type.split(',').any(|c| c.trim() == change_type))
        .filter(|s| hears(s))
        .collect()
}

/// `encryptedContent` for a rich subscription (§5.2), over a plausible body of the resource.
fn encrypt(
    subscription: &Subscription,
    target: &Target,
    rendered: &shape::Rendered,
    request: &ChangeRequest,
    now: DateTime<Utc>,
) -> Option<Value> {
    if !subscription.include_resource_data {
        return None;
    }
    let certificate = subscription.encryption_certificate.as_deref()?;
    let body = bodies::resource_body(
        target,
        rendered,
        &subscription.resource,
        request.properties.as_ref(),
        now,
    );
    let certificate_id = subscription.encryption_certificate_id.as_deref();
    match rich::encrypted_content(certificate, certificate_id, body.as_bytes()) {
        Ok(content) => Some(content),
        Err(error) => {
            tracing::warn!(subscription = %subscription.id, %error, "cannot encrypt a rich notification");
            None
        }
    }
}

/// One changed item, seen by every subscription that listens.
struct Change<'a> {
    tenant: Uuid,
    target: &'a Target,
    request: &'a ChangeRequest,
    change_type: &'a str,
    id: String,
}

/// The changed item's id: the one the resource names, the one its properties give, or a new one.
fn item_id(target: &Target, request: &ChangeRequest) -> String {
    target
        .item_id
        .clone()
        .or_else(|| {
            request
                .properties
                .as_ref()
                .and_then(|p| p.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| target.new_item_id())
}

/// The notification `subscription` gets for the change, ready to queue.
fn pending(
    world: &mut World,
    change: &Change<'_>,
    subscription: &Subscription,
    now: DateTime<Utc>,
) -> Pending {
    let seq = world.delivery.next_seq();
    let style = resource_style(world.behaviour.resource_style, seq);
    let rendered = shape::render(change.target, &change.id, change.tenant, style);
    let mut item = Map::new();
    if subscription.kind.is_outlook() {
        item.insert("id".into(), json!(notification_id()));
    }
    item.insert("subscriptionId".into(), json!(subscription.id));
    item.insert(
        "subscriptionExpirationDateTime".into(),
        json!(expiration(
            subscription.expiration_date_time,
            world.behaviour.expiration_format,
            seq
        )),
    );
    if let Some(state) = &subscription.client_state {
        item.insert("clientState".into(), json!(state));
    }
    item.insert("changeType".into(), json!(change.change_type));
    item.insert("resource".into(), json!(rendered.resource));
    item.insert("tenantId".into(), json!(subscription.tenant_id));
    if let Some(content) = encrypt(subscription, change.target, &rendered, change.request, now) {
        item.insert("encryptedContent".into(), content);
    }
    item.insert("resourceData".into(), rendered.resource_data);
    Pending {
        seq,
        url: subscription.notification_url.clone(),
        subscription_id: subscription.id,
        tenant_id: subscription.tenant_id,
        app_id: subscription.application_id,
        topic: Topic::Change(change.change_type.to_owned()),
        resource: Some(rendered.resource),
        item: Value::Object(item),
        retry: 0,
        queued_at: now,
        due_at: now,
    }
}

/// Makes the changes happen: every request is checked first, then all their notifications are
/// queued at once (so the ones for one URL can share a POST). Returns those queued; those for a
/// URL in the drop state of throttling are dropped instead.
pub fn make_changes(
    world: &mut World,
    requests: Vec<ChangeRequest>,
    now: DateTime<Utc>,
) -> Result<Vec<Queued>, String> {
    let planned = requests
        .into_iter()
        .map(|r| plan(world, r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut queued = Vec::new();
    for plan in planned {
        let change_type = seen_as(plan.target.kind, &plan.request.change_type);
        let subscriptions: Vec<Subscription> = listeners(world, &plan, &change_type, now)
            .into_iter()
            .cloned()
            .collect();
        let Planned {
            tenant,
            target,
            request,
            ..
        } = plan;
        let mut items = Vec::new();
        for _ in 0..request.count {
            let change = Change {
                tenant,
                target: &target,
                request: &request,
                change_type: &change_type,
                id: item_id(&target, &request),
            };
            for subscription in &subscriptions {
                items.push(pending(world, &change, subscription, now));
            }
        }
        if request.reorder {
            items.reverse();
        }
        let originals = items.len();
        for copy in 0..request.duplicates as usize * originals {
            let mut duplicate = items[copy % originals].clone();
            duplicate.seq = world.delivery.next_seq();
            items.push(duplicate);
        }
        for item in items {
            let listed = Queued::from(&item);
            if world.delivery.enqueue(item, &world.behaviour) {
                queued.push(listed);
            }
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn expirations_come_in_graphs_three_formats() {
        let at = DateTime::parse_from_rfc3339("2019-09-18T00:52:45.9696658Z")
            .map(|t| t.to_utc())
            .unwrap_or_default();
        assert_eq!(
            expiration(at, ExpirationFormat::Millis, 0),
            "2019-09-18T00:52:45.969Z"
        );
        assert_eq!(
            expiration(at, ExpirationFormat::Ticks, 0),
            "2019-09-18T00:52:45.9696658+00:00"
        );
        assert_eq!(
            expiration(at, ExpirationFormat::LocalOffset, 0),
            "2019-09-18T06:22:45.9696658+05:30"
        );
        for seq in 0..3 {
            let text = expiration(at, ExpirationFormat::Varied, seq);
            let parsed = DateTime::parse_from_rfc3339(&text).map(|t| t.to_utc());
            assert_eq!(
                parsed.ok().map(|t| t.timestamp_millis()),
                Some(at.timestamp_millis())
            );
        }
    }

    #[test]
    fn directory_creation_is_seen_as_an_update() {
        assert_eq!(seen_as(Kind::User, "created"), "updated");
        assert_eq!(seen_as(Kind::DriveItem, "deleted"), "updated");
        assert_eq!(seen_as(Kind::Message, "created"), "created");
    }
}
