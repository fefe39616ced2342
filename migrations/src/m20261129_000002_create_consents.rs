//! Consents: each admin consent a tenant granted, with the application roles the token showed.

sql_migration! {
    up: r#"
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
    down: "DROP TABLE consents",
}
