//! The batch delivery engine: each endpoint's due deliveries found in one index scan (a worker
//! claims many of a tenant's at once), and a retry schedule an endpoint may set for itself.

sql_migration! {
    up: r#"
CREATE INDEX deliveries_endpoint_due_idx ON deliveries (endpoint_id, next_attempt_at)
    WHERE status IN ('pending', 'failed');
ALTER TABLE endpoints ADD COLUMN retry_schedule jsonb;
"#,
    down: r#"
ALTER TABLE endpoints DROP COLUMN retry_schedule;
DROP INDEX deliveries_endpoint_due_idx;
"#,
}
