//! Crash-safe subscription creation: a subscription is a `creating` row (holding its tenant's
//! quota slot) before Graph is asked, and the reconciler finds rows stuck there by age. It also
//! compares each tenant's subscriptions at Graph with our rows now and then, and records here
//! when it last took a tenant on, so every tenant gets its turn and none more often than needed.

sql_migration! {
    up: r#"
CREATE TABLE subscription_reconciliations (
    tenant_id     uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    handed_out_at timestamptz NOT NULL
);
CREATE INDEX subscriptions_creating_idx ON subscriptions (tenant_id, created_at)
    WHERE status = 'creating';
"#,
    down: r#"
DROP INDEX subscriptions_creating_idx;
DROP TABLE subscription_reconciliations;
"#,
}
