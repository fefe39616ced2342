//! Tenants: one row per customer Microsoft 365 tenant, unique by its Entra tenant id.

sql_migration! {
    up: r#"
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
    down: "DROP TABLE tenants",
}
