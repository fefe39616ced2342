//! Graphhook's schema, one migration per file, each with a working `down`.
//!
//! Migrations are plain PostgreSQL: every tenant-owned table carries `tenant_id` with a foreign
//! key and tenant-first indexes; timestamps are written by the application from its `Clock`,
//! never defaulted to the database's `now()`.

// A function longer than clippy.toml's `too-many-lines-threshold` is split into steps that
// say what they do; tests may run long.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

pub use sea_orm_migration::prelude::*;

/// A migration written as plain SQL: `up` applies it, `down` reverts it exactly. The migration's
/// name is its module's (file) name.
macro_rules! sql_migration {
    (up: $up:expr, down: $down:expr $(,)?) => {
        use sea_orm_migration::prelude::*;

        #[derive(DeriveMigrationName)]
        pub struct Migration;

        #[async_trait::async_trait]
        impl MigrationTrait for Migration {
            async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                manager.get_connection().execute_unprepared($up).await?;
                Ok(())
            }

            async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                manager.get_connection().execute_unprepared($down).await?;
                Ok(())
            }
        }
    };
}

mod m20261129_000001_create_tenants;
mod m20261129_000002_create_consents;
mod m20261129_000003_create_api_keys;
mod m20261129_000004_create_audit_log;
mod m20261129_000005_create_endpoints;
mod m20261129_000006_create_operational_events;
mod m20261129_000007_create_subscriptions;
mod m20261129_000008_create_encryption_certificates;
mod m20261129_000009_create_messages_and_deliveries;
mod m20261129_000010_endpoint_health_and_retention;
mod m20261129_000011_deliveries_by_endpoint;
mod m20261129_000012_create_inbound;
mod m20261129_000013_subscription_lifecycle;
mod m20261129_000014_tenant_offboarding;
mod m20261129_000015_revoked_operator_tokens;
mod m20261129_000016_audit_administrators;
mod m20261129_000017_subscription_reconciliation;
mod m20261129_000018_encrypt_endpoint_headers;
mod m20261207_000019_delivery_engine;
mod m20261207_000020_connections;
mod m20261207_000021_dedup_windows;
mod m20261208_000022_abandoned_connections_index;
mod m20261208_000023_delivery_claims;

/// A fingerprint of the migration sources; changes whenever a migration is added or edited.
pub const FINGERPRINT: &str = env!("GRAPHHOOK_MIGRATIONS_FINGERPRINT");

/// The migration that encrypted custom endpoint headers: reverting it needs them written back
/// in plain text first, which only the application can do (see its module).
pub const ENCRYPT_ENDPOINT_HEADERS: &str = "m20261129_000018_encrypt_endpoint_headers";

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_tenants::Migration),
            Box::new(m20261129_000002_create_consents::Migration),
            Box::new(m20261129_000003_create_api_keys::Migration),
            Box::new(m20261129_000004_create_audit_log::Migration),
            Box::new(m20261129_000005_create_endpoints::Migration),
            Box::new(m20261129_000006_create_operational_events::Migration),
            Box::new(m20261129_000007_create_subscriptions::Migration),
            Box::new(m20261129_000008_create_encryption_certificates::Migration),
            Box::new(m20261129_000009_create_messages_and_deliveries::Migration),
            Box::new(m20261129_000010_endpoint_health_and_retention::Migration),
            Box::new(m20261129_000011_deliveries_by_endpoint::Migration),
            Box::new(m20261129_000012_create_inbound::Migration),
            Box::new(m20261129_000013_subscription_lifecycle::Migration),
            Box::new(m20261129_000014_tenant_offboarding::Migration),
            Box::new(m20261129_000015_revoked_operator_tokens::Migration),
            Box::new(m20261129_000016_audit_administrators::Migration),
            Box::new(m20261129_000017_subscription_reconciliation::Migration),
            Box::new(m20261129_000018_encrypt_endpoint_headers::Migration),
            Box::new(m20261207_000019_delivery_engine::Migration),
            Box::new(m20261207_000020_connections::Migration),
            Box::new(m20261207_000021_dedup_windows::Migration),
            Box::new(m20261208_000022_abandoned_connections_index::Migration),
            Box::new(m20261208_000023_delivery_claims::Migration),
        ]
    }
}
