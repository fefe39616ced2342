//! The audit log: who did what to which tenant resource, for operators and tenants to read.

sql_migration! {
    up: r#"
CREATE TABLE audit_log (
    id          uuid PRIMARY KEY,
    tenant_id   uuid REFERENCES tenants (id) ON DELETE SET NULL,
    actor_kind  text NOT NULL CHECK (actor_kind IN ('operator', 'tenant', 'system')),
    actor_id    text,
    action      text NOT NULL,
    target_kind text,
    target_id   text,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id  text,
    created_at  timestamptz NOT NULL
);
CREATE INDEX audit_log_tenant_created_idx ON audit_log (tenant_id, created_at DESC, id DESC);
CREATE INDEX audit_log_created_idx ON audit_log (created_at DESC, id DESC);
"#,
    down: "DROP TABLE audit_log",
}
