//! Consents: each admin consent a tenant granted, with the application roles the token showed.

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
CREATE TABLE consents (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    granted_roles  jsonb NOT NULL DEFAULT '[]'::jsonb
                   CHECK (jsonb_typeof(granted_roles) = 'array'),
    granted_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text,
    created_at     timestamptz NOT NULL
);
CREATE INDEX consents_tenant_granted_idx ON consents (tenant_id, granted_at DESC);
"#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE consents")
            .await?;
        Ok(())
    }
}
