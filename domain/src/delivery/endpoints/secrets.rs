//! Secret rotation: the new secret signs from now on; old ones keep signing until their grace
//! period ends (0–7 days, default 24 h); at most 10 old secrets are kept.

use chrono::Duration;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde_json::json;

use super::{context, store_secret, tell};
use crate::{
    delivery::event_catalogue::Event,
    delivery::webhooks::secrets::HmacSecret,
    platform::entities::{endpoint, endpoint_secret},
    platform::error::{DomainError, DomainResult},
    platform::ids::{EndpointId, TenantId},
    services::Services,
};

pub const MAX_GRACE_SECS: i64 = 7 * 24 * 3600;
pub const DEFAULT_GRACE_SECS: i64 = 24 * 3600;
const MAX_OLD_SECRETS: usize = 10;

fn grace_out_of_range() -> DomainError {
    DomainError::invalid_field(
        "grace_period_secs",
        format!("grace_period_secs must be between 0 and {MAX_GRACE_SECS} (7 days)"),
    )
}

/// A grace period given in seconds, checked before it becomes a `Duration`: one cannot hold
/// every `i64` of seconds, and building it from one out of its range panics.
pub fn grace_period(secs: i64) -> DomainResult<Duration> {
    if (0..=MAX_GRACE_SECS).contains(&secs) {
        Ok(Duration::seconds(secs))
    } else {
        Err(grace_out_of_range())
    }
}

/// Every secret that signs now: the current one first, then old ones still in their grace.
pub async fn live_hmac_secrets(
    services: &Services,
    endpoint: &endpoint::Model,
) -> DomainResult<Vec<HmacSecret>> {
    let now = services.clock.now();
    let rows = endpoint_secret::Entity::find()
        .filter(endpoint_secret::Column::TenantId.eq(endpoint.tenant_id))
        .filter(endpoint_secret::Column::EndpointId.eq(endpoint.id))
        .order_by_desc(endpoint_secret::Column::CreatedAt)
        .all(&services.db)
        .await?;
    let mut live: Vec<_> = rows
        .into_iter()
        .filter(|r| r.expires_at.is_none_or(|at| at > now))
        .collect();
    // The current secret (no expiry) first.
    live.sort_by_key(|r| r.expires_at.is_some());
    live.iter()
        .map(|r| {
            services
                .secret_box
                .open(&r.secret, &context(endpoint.id.into()))
                .map(HmacSecret::from_bytes)
                .map_err(|e| DomainError::internal("decrypting an endpoint secret", e))
        })
        .collect()
}

/// Every secret of the endpoint that has not ended yet, decrypted, the current one first, each
/// with the end of its grace (the caller drops those that ended since).
pub async fn sealed_hmac_secrets<C: ConnectionTrait>(
    db: &C,
    secret_box: &crate::delivery::webhooks::crypt::SecretBox,
    endpoint: &endpoint::Model,
) -> DomainResult<Vec<(Vec<u8>, Option<chrono::DateTime<chrono::Utc>>)>> {
    let mut rows = endpoint_secret::Entity::find()
        .filter(endpoint_secret::Column::TenantId.eq(endpoint.tenant_id))
        .filter(endpoint_secret::Column::EndpointId.eq(endpoint.id))
        .order_by_desc(endpoint_secret::Column::CreatedAt)
        .all(db)
        .await?;
    rows.sort_by_key(|r| r.expires_at.is_some());
    rows.iter()
        .map(|r| {
            secret_box
                .open(&r.secret, &context(endpoint.id.into()))
                .map(|key| (key, r.expires_at))
                .map_err(|e| DomainError::internal("decrypting an endpoint secret", e))
        })
        .collect()
}

/// Rotates the endpoint's secret; returns the new one (to show once).
pub async fn rotate(
    services: &Services,
    tenant: TenantId,
    endpoint: &endpoint::Model,
    grace: Duration,
    new_secret: Option<HmacSecret>,
) -> DomainResult<HmacSecret> {
    if grace < Duration::zero() || grace.num_seconds() > MAX_GRACE_SECS {
        return Err(grace_out_of_range());
    }
    let now = services.clock.now();
    let rows = endpoint_secret::Entity::find()
        .filter(endpoint_secret::Column::TenantId.eq(tenant.uuid()))
        .filter(endpoint_secret::Column::EndpointId.eq(endpoint.id))
        .order_by_desc(endpoint_secret::Column::CreatedAt)
        .all(&services.db)
        .await?;
    for row in rows.iter().filter(|r| r.expires_at.is_none()) {
        let mut active = row.clone().into_active_model();
        active.expires_at = Set(Some(now + grace));
        active.update(&services.db).await?;
    }
    // Keep at most ten old secrets, dropping expired ones first and then the oldest.
    let mut old: Vec<_> = rows.into_iter().collect();
    old.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    for (index, row) in old.iter().enumerate() {
        let expired = row.expires_at.is_some_and(|at| at <= now);
        if expired || index >= MAX_OLD_SECRETS {
            endpoint_secret::Entity::delete_by_id(row.id)
                .exec(&services.db)
                .await?;
        }
    }
    let secret = new_secret.unwrap_or_else(HmacSecret::generate);
    let id = EndpointId::from(endpoint.id);
    store_secret(services, &services.db, tenant, id, &secret, now).await?;
    let data = json!({"endpointId": id, "secretRotated": true, "graceSecs": grace.num_seconds()});
    tell(services, tenant, id, Event::EndpointUpdated.name(), data).await?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grace_period_is_zero_to_seven_days_and_never_panics() {
        assert_eq!(grace_period(0).unwrap(), Duration::zero());
        assert_eq!(grace_period(MAX_GRACE_SECS).unwrap(), Duration::days(7));
        for secs in [
            -1,
            MAX_GRACE_SECS + 1,
            9_223_372_036_854_776,
            1 << 62,
            -(1 << 62),
            i64::MAX,
            i64::MIN,
        ] {
            let error = grace_period(secs).unwrap_err().to_string();
            assert!(error.contains("between 0 and 604800"), "{secs}: {error}");
        }
    }
}
