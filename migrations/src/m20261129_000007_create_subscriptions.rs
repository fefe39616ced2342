//! Subscriptions: the Graph subscriptions Graphhook holds for tenants.

sql_migration! {
    up: r#"
CREATE TABLE subscriptions (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    graph_id              text,
    resource              text NOT NULL CHECK (length(resource) BETWEEN 1 AND 1000),
    kind                  text NOT NULL,
    change_types          text NOT NULL,
    include_resource_data boolean NOT NULL DEFAULT false,
    client_state_hash     bytea NOT NULL CHECK (length(client_state_hash) = 32),
    endpoint_ids          jsonb CHECK (endpoint_ids IS NULL OR jsonb_typeof(endpoint_ids) = 'array'),
    status                text NOT NULL CHECK (status IN ('creating', 'active', 'paused', 'failed', 'deleted')),
    expires_at            timestamptz,
    last_error            text,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE UNIQUE INDEX subscriptions_graph_id_key ON subscriptions (graph_id) WHERE graph_id IS NOT NULL;
CREATE INDEX subscriptions_tenant_idx ON subscriptions (tenant_id, id);
CREATE INDEX subscriptions_expiry_idx ON subscriptions (expires_at) WHERE status = 'active';
"#,
    down: "DROP TABLE subscriptions",
}
