//! Operational events (endpoint.created, endpoint.disabled, …) recorded for the tenant to read
//! and for delivery to its endpoints.

sql_migration! {
    up: r#"
CREATE TABLE operational_events (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    event_type  text NOT NULL,
    endpoint_id uuid,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    delivered_at timestamptz
);
CREATE INDEX operational_events_tenant_idx ON operational_events (tenant_id, created_at DESC, id DESC);
CREATE INDEX operational_events_undelivered_idx ON operational_events (created_at) WHERE delivered_at IS NULL;
"#,
    down: "DROP TABLE operational_events",
}
