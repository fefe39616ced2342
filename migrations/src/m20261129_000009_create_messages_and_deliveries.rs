//! messages: each event for a tenant, with its payload and `webhook-id`; deliveries: one per
//! message and endpoint, with the due time of its next attempt; attempts: every try.

sql_migration! {
    up: r#"
CREATE TABLE messages (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    webhook_id  text NOT NULL UNIQUE,
    event_type  text NOT NULL,
    payload     bytea,
    created_at  timestamptz NOT NULL
);
CREATE INDEX messages_tenant_idx ON messages (tenant_id, id);

CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message_id      uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    endpoint_id     uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'exhausted')),
    attempt_count   integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    next_trigger    text NOT NULL DEFAULT 'scheduled' CHECK (next_trigger IN ('scheduled', 'manual', 'recovery')),
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (message_id, endpoint_id)
);
CREATE INDEX deliveries_tenant_idx ON deliveries (tenant_id, id);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');

CREATE TABLE attempts (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    delivery_id      uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number           integer NOT NULL,
    trigger          text NOT NULL CHECK (trigger IN ('scheduled', 'manual', 'recovery')),
    status_code      integer,
    duration_ms      integer NOT NULL,
    response_excerpt text,
    error_class      text,
    error            text,
    created_at       timestamptz NOT NULL
);
CREATE INDEX attempts_delivery_idx ON attempts (tenant_id, delivery_id, number);
"#,
    down: "DROP TABLE attempts; DROP TABLE deliveries; DROP TABLE messages",
}
