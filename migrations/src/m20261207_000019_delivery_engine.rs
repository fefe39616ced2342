//! The batch delivery engine: a tenant's due deliveries found in one index scan (a worker claims
//! many at once), and a retry schedule an endpoint may set for itself.

sql_migration! {
    up: r#"
CREATE INDEX deliveries_tenant_due_idx ON deliveries (tenant_id, next_attempt_at)
    WHERE status IN ('pending', 'failed');
ALTER TABLE endpoints ADD COLUMN retry_schedule jsonb;
"#,
    down: r#"
ALTER TABLE endpoints DROP COLUMN retry_schedule;
DROP INDEX deliveries_tenant_due_idx;
"#,
}
