//! Backlogs and their recovery: exhausted deliveries written in bulk, the recover call that
//! replays them, and how many are still pending.

use graphhook_domain::{
    platform::entities::delivery::{self, DeliveryStatus},
    platform::ids::{EndpointId, TenantId},
};
use reqwest::Method;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::TestApp;

/// The event type of seeded deliveries.
pub const EVENT: &str = "graph.user.updated";

/// Asks for the recovery of the endpoint's failed and exhausted deliveries of the last hour (202);
/// returns how many.
pub async fn recover(app: &TestApp, key: &str, endpoint: EndpointId) -> u64 {
    let since = (app.clock.now() - chrono::Duration::hours(1)).to_rfc3339();
    let (status, body) = app
        .as_tenant(key)
        .call(
            Method::POST,
            &format!("/api/v1/endpoints/{endpoint}/recover"),
            Some(json!({"since": since})),
        )
        .await;
    assert_eq!(status, 202);
    body["recovered"]
        .as_u64()
        .unwrap_or_else(|| panic!("no count: {body}"))
}

/// How many of the endpoint's deliveries are pending.
pub async fn pending(app: &TestApp, endpoint: EndpointId) -> u64 {
    delivery::Entity::find()
        .filter(delivery::Column::EndpointId.eq(endpoint.uuid()))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending))
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("pending: {e}"))
}

/// `n` exhausted deliveries of `tenant` to `endpoint` (event [`EVENT`]), written in one
/// statement: what a recovery then replays.
pub async fn seed_exhausted(app: &TestApp, tenant: TenantId, endpoint: EndpointId, n: u32) {
    let now = app.clock.now().to_rfc3339();
    app.db
        .execute_unprepared(&format!(
            r#"WITH m AS (
                 INSERT INTO messages (id, tenant_id, webhook_id, event_type, payload, created_at)
                 SELECT gen_random_uuid(), '{tenant}', 'msg_replay_' || g, '{EVENT}',
                        convert_to('{{"type":"{EVENT}","data":{{"n":' || g || '}}}}', 'UTF8'),
                        '{now}'::timestamptz
                 FROM generate_series(1, {n}) g
                 RETURNING id, created_at)
               INSERT INTO deliveries (id, tenant_id, message_id, endpoint_id, status, attempt_count,
                                       next_attempt_at, next_trigger, created_at, updated_at)
               SELECT gen_random_uuid(), '{tenant}', m.id, '{endpoint}', 'exhausted', 1, NULL,
                      'scheduled', m.created_at, m.created_at
               FROM m"#,
            tenant = tenant.uuid(),
            endpoint = endpoint.uuid(),
        ))
        .await
        .unwrap_or_else(|e| panic!("seeding: {e}"));
}
