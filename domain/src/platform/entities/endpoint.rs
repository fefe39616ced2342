use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub url: String,
    pub description: String,
    pub status: EndpointStatus,
    pub disabled_reason: Option<DisabledReason>,
    /// Event-type patterns (`graph.message.*`); empty means every event.
    pub filter_types: Json,
    /// Custom headers in plain text, as a JSON object: only in rows written before headers
    /// were encrypted (empty once sealed; see `endpoints::headers`).
    pub headers: Json,
    /// Custom headers sent with every request: a JSON object, encrypted. `None`: no headers.
    pub headers_sealed: Option<Vec<u8>>,
    pub timeout_ms: i32,
    pub rate_limit_per_sec: Option<i32>,
    pub max_in_flight: i32,
    /// The Ed25519 signing key, encrypted; `None` when the endpoint has no `v1a` signature.
    pub ed25519_key: Option<Vec<u8>>,
    pub verified_at: Option<DateTimeUtc>,
    pub verification_error: Option<String>,
    /// Since when every attempt has failed; `None` after a success.
    pub failing_since: Option<DateTimeUtc>,
    /// The endpoint's own retry schedule: the delays (seconds) before attempts 2, 3, …;
    /// `None`: the deployment's schedule.
    pub retry_schedule: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("endpoint::Model")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("url", &self.url)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    #[sea_orm(string_value = "pending_verification")]
    PendingVerification,
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "disabled")]
    Disabled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum DisabledReason {
    #[sea_orm(string_value = "by_tenant")]
    ByTenant,
    #[sea_orm(string_value = "failing")]
    Failing,
    #[sea_orm(string_value = "gone")]
    Gone,
}

belongs_to_tenant!("Cascade");

impl ActiveModelBehavior for ActiveModel {}
