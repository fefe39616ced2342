//! The benchmark's tenants, written straight into its database as onboarding and the api would
//! leave them: each tenant active, its endpoints created through the domain (secrets sealed as
//! usual) and marked verified, and one active Outlook message subscription whose `clientState`
//! the generator keeps (only its SHA-256 is stored, as for a real subscription). The
//! subscriptions are not due for upkeep, so the workers make no Graph calls for them.

use graphhook_domain::Services;
use graphhook_domain::{
    delivery::endpoints::{self, EndpointInput},
    delivery::webhooks::secrets::HmacSecret,
    platform::entities::{
        endpoint::EndpointStatus,
        operational_event,
        subscription::{self, DueAction, SubscriptionStatus},
        tenant::{self, TenantStatus},
    },
    platform::ids::TenantId,
};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use sha2::{Digest, Sha256};

use super::Subscription;

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
        tenant::ActiveModel {
            id: Set(tenant.uuid()),
            entra_tenant_id: Set(entra_tenant),
            name: Set(format!("Benchmark {t}")),
            status: Set(TenantStatus::Active),
            status_reason: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            offboarded_at: Set(None),
        }
        .insert(db)
        .await?;
        for e in 0..per_tenant {
            let input = EndpointInput {
                url: urls[t * per_tenant + e].clone(),
                description: format!("benchmark receiver {t}.{e}"),
                filter_types: Vec::new(),
                headers: Default::default(),
                timeout_ms: 15_000,
                rate_limit_per_sec: None,
                max_in_flight: i32::try_from(ctx.settings.webhooks.default_max_in_flight)
                    .unwrap_or(i32::MAX),
                ed25519: false,
                retry_schedule: None,
            };
            let (model, secret) = endpoints::create(ctx, tenant, input, None).await?;
            let mut active = model.into_active_model();
            active.status = Set(EndpointStatus::Active);
            active.verified_at = Set(Some(now));
            active.update(db).await?;
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
            id: Set(uuid::Uuid::now_v7()),
            tenant_id: Set(tenant.uuid()),
            graph_id: Set(Some(graph_id.clone())),
            resource: Set(format!("users/{user}/messages")),
            kind: Set("message".into()),
            change_types: Set("created".into()),
            include_resource_data: Set(false),
            encryption_certificate_id: Set(None),
            client_state_hash: Set(Sha256::digest(client_state.as_bytes()).to_vec()),
            endpoint_ids: Set(None),
            status: Set(SubscriptionStatus::Active),
            expires_at: Set(Some(now + chrono::Duration::days(2))),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            renew_at: Set(None),
            last_renewed_at: Set(Some(now)),
            due_action: Set(DueAction::Renew),
            due_at: Set(None),
            action_version: Set(0),
            failures: Set(0),
            lease_token: Set(None),
            lease_until: Set(None),
            expiry_warned_at: Set(None),
            connection_id: Set(None),
            graph_tenant_id: Set(None),
            requested_resource: Set(None),
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
