//! sea-orm entities, one file per table, mirroring the migrations. Logic on top of them lives
//! in the domain modules that own it (e.g. [`crate::operator::audit`]); every tenant-owned query goes
//! through a finder that takes the tenant id.

/// The `Relation` of a table whose `tenant_id` references `tenants`, with `on_delete` the
/// foreign key's action (`"Cascade"`, `"SetNull"`), and `Related<tenant::Entity>` through it.
// rustfmt re-indents an attribute holding a macro variable on every run.
#[rustfmt::skip]
macro_rules! belongs_to_tenant {
    ($on_delete:literal) => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::tenant::Entity",
                from = "Column::TenantId",
                to = "super::tenant::Column::Id",
                on_delete = $on_delete
            )]
            Tenant,
        }

        impl Related<super::tenant::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Tenant.def()
            }
        }
    };
}

pub mod api_key;
pub mod attempt;
pub mod audit_log;
pub mod connection;
pub mod consent;
pub mod delivery;
pub mod encryption_certificate;
pub mod endpoint;
pub mod endpoint_secret;
pub mod inbound_batch;
pub mod message;
pub mod operational_event;
pub mod subscription;
pub mod subscription_action;
pub mod tenant;
