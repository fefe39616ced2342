//! The benchmark's tenants, written straight into its database as onboarding and the api would
//! leave them: each tenant active, its endpoints created through the domain (secrets sealed as
//! usual) and marked verified, and one active Outlook message subscription whose `clientState`
//! the generator keeps (only its SHA-256 is stored, as for a real subscription). The
//! subscriptions are not due for upkeep, so the workers make no Graph calls for them.

use graphhook_domain::Services;
use graphhook_domain::{
    delivery::webhooks::secrets::HmacSecret,
    platform::entities::{operational_event, subscription},
    platform::ids::TenantId,
};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use sha2::{Digest, Sha256};

use super::Subscription;
use crate::bench::{active_endpoint, active_tenant, message_subscription};

/// `tenants` tenants with `per_tenant` endpoints each, the i-th endpoint (across tenants) at
/// `urls[i]`; returns the subscriptions and every endpoint's secret, in the same order.
pub(super) async fn seed(
    ctx: &Services,
    tenants: usize,
    per_tenant: usize,
    urls: &[url::Url],
) -> anyhow::Result<(Vec<Subscription>, Vec<HmacSecret>)> {
    let db = &ctx.db;
    let now = ctx.clock.now();
    let mut subscriptions = Vec::with_capacity(tenants);
    let mut secrets = Vec::with_capacity(urls.len());
    for t in 0..tenants {
        let tenant = TenantId::new();
        let entra_tenant = uuid::Uuid::new_v4();
        active_tenant(tenant.uuid(), entra_tenant, format!("Benchmark {t}"), now)
            .insert(db)
            .await?;
        let max_in_flight =
            i32::try_from(ctx.settings.webhooks.default_max_in_flight).unwrap_or(i32::MAX);
        for e in 0..per_tenant {
            let url = urls[t * per_tenant + e].clone();
            let description = format!("benchmark receiver {t}.{e}");
            let (_, secret) = active_endpoint(ctx, tenant, url, description, max_in_flight).await?;
            secrets.push(secret);
        }
        let graph_id = uuid::Uuid::new_v4().to_string();
        let client_state = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let user = uuid::Uuid::new_v4();
        subscription::ActiveModel {
            last_renewed_at: Set(Some(now)),
            ..message_subscription(
                tenant.uuid(),
                graph_id.clone(),
                format!("users/{user}/messages"),
                Sha256::digest(client_state.as_bytes()).to_vec(),
                now + chrono::Duration::days(2),
                now,
            )
        }
        .insert(db)
        .await?;
        subscriptions.push(Subscription {
            tenant: t,
            graph_id,
            client_state,
            entra_tenant,
            user,
        });
    }
    // The endpoint.created events are not part of the measurement.
    operational_event::Entity::delete_many().exec(db).await?;
    Ok((subscriptions, secrets))
}
