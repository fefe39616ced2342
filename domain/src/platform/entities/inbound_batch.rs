use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A batch Graph POSTed and we acknowledged, kept raw until processed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbound_batches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: BatchKind,
    pub body: Vec<u8>,
    pub received_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// Which of our URLs received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum BatchKind {
    #[sea_orm(string_value = "notifications")]
    Notifications,
    #[sea_orm(string_value = "lifecycle")]
    Lifecycle,
}

impl BatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchKind::Notifications => "notifications",
            BatchKind::Lifecycle => "lifecycle",
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
