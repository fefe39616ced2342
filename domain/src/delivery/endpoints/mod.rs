//! Tenant endpoints: registration with URL and SSRF checks, settings within bounds, secrets
//! and custom headers encrypted at rest (secrets with rotation), ownership verification, and
//! the signed requests sent to them. Every query is scoped to the tenant.

pub mod headers;
pub mod input;
mod secrets;
mod send;

pub use input::{EndpointInput, EndpointPatch, InputError, Limits, RawEndpoint};
pub use secrets::{
    DEFAULT_GRACE_SECS, MAX_GRACE_SECS, grace_period, live_hmac_secrets, rotate,
    sealed_hmac_secrets,
};
pub use send::{Signed, send, send_signed, sign, verify};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use serde_json::json;

use crate::platform::owned::TenantOwned;
/// The tenant's endpoint (or `NotFound`, also for another tenant's), and a page of them, oldest
/// first.
pub use crate::platform::owned::{find, page as list};
use crate::{
    delivery::event_catalogue::Event,
    delivery::events,
    delivery::webhooks::{
        crypt::SecretBox,
        secrets::{HmacSecret, generate_ed25519},
    },
    platform::entities::{
        endpoint::{self, DisabledReason, EndpointStatus},
        endpoint_secret,
    },
    platform::error::{DomainError, DomainResult},
    platform::ids::{EndpointId, TenantId},
    platform::quota::{self, Quota},
    services::Services,
};

impl TenantOwned for endpoint::Entity {
    const NAME: &'static str = "endpoint";

    const TENANT_ID: endpoint::Column = endpoint::Column::TenantId;
    const ID: endpoint::Column = endpoint::Column::Id;
}

fn context(id: EndpointId) -> Vec<u8> {
    id.to_string().into_bytes()
}

/// Registers an endpoint (its URL already checked by the caller) with a generated or the
/// tenant's own secret; returns it with the secret to show once.
pub async fn create(
    services: &Services,
    tenant: TenantId,
    input: EndpointInput,
    secret: Option<HmacSecret>,
) -> DomainResult<(endpoint::Model, HmacSecret)> {
    let now = services.clock.now();
    let id = EndpointId::new();
    let secret = secret.unwrap_or_else(HmacSecret::generate);
    let sealed_headers = headers::seal(&services.secret_box, id, &input.headers);
    let ed25519 = input.ed25519.then(|| {
        services
            .secret_box
            .seal(&generate_ed25519().to_bytes(), &context(id))
    });
    let txn = services.db.begin().await?;
    let held = endpoint::Entity::find().filter(endpoint::Column::TenantId.eq(tenant.uuid()));
    let limit = services.settings.webhooks.max_endpoints_per_tenant;
    quota::reserve(&txn, tenant, Quota::Endpoints, limit, held).await?;
    let model = endpoint::ActiveModel {
        id: Set(id.uuid()),
        tenant_id: Set(tenant.uuid()),
        url: Set(input.url.to_string()),
        description: Set(input.description),
        status: Set(EndpointStatus::PendingVerification),
        disabled_reason: Set(None),
        filter_types: Set(json!(input.filter_types)),
        headers: Set(sealed_headers.0),
        headers_sealed: Set(sealed_headers.1),
        timeout_ms: Set(input.timeout_ms),
        rate_limit_per_sec: Set(input.rate_limit_per_sec),
        max_in_flight: Set(input.max_in_flight),
        ed25519_key: Set(ed25519),
        verified_at: Set(None),
        verification_error: Set(None),
        failing_since: Set(None),
        retry_schedule: Set(input.retry_schedule.map(|s| s.to_json())),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    store_secret(services, &txn, tenant, id, &secret, now).await?;
    let data = about(id, &model.url);
    let created = Event::EndpointCreated.name();
    events::record(&txn, &services.clock, tenant, Some(id), created, data).await?;
    txn.commit().await?;
    Ok((model, secret))
}

/// Keeps `secret`, sealed, as the endpoint's current signing secret from `now`.
async fn store_secret<C: ConnectionTrait>(
    services: &Services,
    db: &C,
    tenant: TenantId,
    id: EndpointId,
    secret: &HmacSecret,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    endpoint_secret::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        tenant_id: Set(tenant.uuid()),
        endpoint_id: Set(id.uuid()),
        secret: Set(services.secret_box.seal(secret.key(), &context(id))),
        created_at: Set(now),
        expires_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Records an `endpoint.*` event about the tenant's endpoint `id`.
async fn tell(
    services: &Services,
    tenant: TenantId,
    id: EndpointId,
    event_type: &str,
    data: serde_json::Value,
) -> DomainResult<()> {
    let (db, clock) = (&services.db, &services.clock);
    events::record(db, clock, tenant, Some(id), event_type, data).await
}

/// Applies a change. A new URL needs verifying again; disabling is the tenant's choice
/// (`by_tenant`); enabling returns to `active` if the endpoint was verified.
pub async fn update(
    services: &Services,
    tenant: TenantId,
    id: EndpointId,
    patch: EndpointPatch,
) -> DomainResult<(endpoint::Model, bool)> {
    let current = find(&services.db, tenant, id).await?;
    let url_changed = patch
        .url
        .as_ref()
        .is_some_and(|u| u.as_str() != current.url);
    let was_verified = current.verified_at.is_some();
    let status = current.status;
    // Headers still in plain text (written by the previous version) are sealed now too.
    let headers = match patch.headers {
        Some(headers) => Some(headers),
        None if current.headers != json!({}) => {
            Some(headers::read(&services.secret_box, &current)?)
        }
        None => None,
    };
    let mut active = current.into_active_model();
    if let Some(url) = patch.url.filter(|_| url_changed) {
        active.url = Set(url.to_string());
        active.verified_at = Set(None);
        active.verification_error = Set(None);
        if status != EndpointStatus::Disabled {
            active.status = Set(EndpointStatus::PendingVerification);
        }
    }
    if let Some(description) = patch.description {
        active.description = Set(description);
    }
    if let Some(filter_types) = patch.filter_types {
        active.filter_types = Set(json!(filter_types));
    }
    if let Some(headers) = headers {
        let (plain, sealed) = headers::seal(&services.secret_box, id, &headers);
        active.headers = Set(plain);
        active.headers_sealed = Set(sealed);
    }
    if let Some(timeout_ms) = patch.timeout_ms {
        active.timeout_ms = Set(timeout_ms);
    }
    if let Some(rate) = patch.rate_limit_per_sec {
        active.rate_limit_per_sec = Set(rate);
    }
    if let Some(max) = patch.max_in_flight {
        active.max_in_flight = Set(max);
    }
    if let Some(schedule) = patch.retry_schedule {
        active.retry_schedule = Set(schedule.map(|s| s.to_json()));
    }
    match patch.enabled {
        Some(false) => {
            active.status = Set(EndpointStatus::Disabled);
            active.disabled_reason = Set(Some(DisabledReason::ByTenant));
        }
        Some(true) if status == EndpointStatus::Disabled => {
            let verified = was_verified && !url_changed;
            active.status = Set(if verified {
                EndpointStatus::Active
            } else {
                EndpointStatus::PendingVerification
            });
            active.disabled_reason = Set(None);
            // A fresh start: the failing period that disabled it does not count again.
            active.failing_since = Set(None);
        }
        _ => {}
    }
    active.updated_at = Set(services.clock.now());
    let updated = active.update(&services.db).await?;
    let event = if patch.enabled == Some(false) {
        Event::EndpointDisabled.name()
    } else {
        Event::EndpointUpdated.name()
    };
    let mut data = about(id, &updated.url);
    if event == Event::EndpointDisabled.name() {
        data["reason"] = json!("by_tenant");
    }
    tell(services, tenant, id, event, data).await?;
    Ok((updated, url_changed))
}

/// What an endpoint's `endpoint.*` event says of it.
fn about(id: EndpointId, url: &str) -> serde_json::Value {
    json!({"endpointId": id, "url": url})
}

pub async fn delete(services: &Services, tenant: TenantId, id: EndpointId) -> DomainResult<()> {
    let endpoint = find(&services.db, tenant, id).await?;
    let deleted = endpoint::Entity::delete_many()
        .filter(endpoint::Column::Id.eq(endpoint.id))
        .filter(endpoint::Column::TenantId.eq(tenant.uuid()))
        .exec(&services.db)
        .await?;
    // Another request deleted it meanwhile: that one tells of it.
    if deleted.rows_affected == 0 {
        return Err(DomainError::NotFound("endpoint"));
    }
    let data = about(id, &endpoint.url);
    tell(services, tenant, id, Event::EndpointDeleted.name(), data).await
}

/// The endpoint's current secret (the documented read).
pub async fn current_secret(
    services: &Services,
    endpoint: &endpoint::Model,
) -> DomainResult<HmacSecret> {
    let row = endpoint_secret::Entity::find()
        .filter(endpoint_secret::Column::TenantId.eq(endpoint.tenant_id))
        .filter(endpoint_secret::Column::EndpointId.eq(endpoint.id))
        .filter(endpoint_secret::Column::ExpiresAt.is_null())
        .order_by_desc(endpoint_secret::Column::CreatedAt)
        .one(&services.db)
        .await?
        .ok_or(DomainError::NotFound("endpoint secret"))?;
    let bytes = services
        .secret_box
        .open(&row.secret, &context(endpoint.id.into()))
        .map_err(|e| DomainError::internal("decrypting an endpoint secret", e))?;
    Ok(HmacSecret::from_bytes(bytes))
}

/// The endpoint's Ed25519 key, if it signs with one.
pub fn ed25519_key(
    secret_box: &SecretBox,
    endpoint: &endpoint::Model,
) -> DomainResult<Option<ed25519_dalek::SigningKey>> {
    let Some(sealed) = &endpoint.ed25519_key else {
        return Ok(None);
    };
    let bytes = secret_box
        .open(sealed, &context(endpoint.id.into()))
        .map_err(|e| DomainError::internal("decrypting an endpoint key", e))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| DomainError::internal("endpoint key", anyhow::anyhow!("bad length")))?;
    Ok(Some(ed25519_dalek::SigningKey::from_bytes(&seed)))
}

pub fn filter_types(endpoint: &endpoint::Model) -> Vec<String> {
    serde_json::from_value(endpoint.filter_types.clone()).unwrap_or_default()
}

/// The endpoint's own retry schedule (seconds), `None` when it follows the deployment's.
pub fn retry_schedule(endpoint: &endpoint::Model) -> Option<Vec<i64>> {
    let stored = endpoint.retry_schedule.as_ref().filter(|v| !v.is_null())?;
    crate::delivery::engine::schedule::Schedule::from_json(stored)
        .ok()
        .map(|s| s.delays_secs().to_vec())
}
