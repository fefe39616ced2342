use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub message_id: Uuid,
    pub endpoint_id: Uuid,
    pub status: DeliveryStatus,
    pub attempt_count: i32,
    /// When the next attempt is due; `None` when none is planned.
    pub next_attempt_at: Option<DateTimeUtc>,
    /// What the next attempt is recorded as: `scheduled`, `manual` (resend) or `recovery`.
    pub next_trigger: String,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// While a worker's attempt is in flight: until when its claim holds.
    pub claimed_until: Option<DateTimeUtc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "delivered")]
    Delivered,
    /// Failed, will retry.
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "exhausted")]
    Exhausted,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
