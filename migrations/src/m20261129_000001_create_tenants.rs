//! Tenants: one row per customer Microsoft 365 tenant, unique by its Entra tenant id.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
CREATE TABLE tenants (
    id              uuid PRIMARY KEY,
    entra_tenant_id uuid NOT NULL,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status          text NOT NULL
                    CHECK (status IN ('pending', 'active', 'consent_revoked', 'suspended')),
    status_reason   text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX tenants_entra_tenant_id_key ON tenants (entra_tenant_id);
CREATE INDEX tenants_status_idx ON tenants (status, created_at);
"#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE tenants")
            .await?;
        Ok(())
    }
}
