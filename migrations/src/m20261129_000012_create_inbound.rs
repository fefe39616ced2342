//! The ingest inbox: every batch Graph POSTed and we acknowledged, raw, until processed; and the
//! items already turned into events, by subscription and item hash, which is how a re-delivery
//! of the same item (by Graph, or by processing a batch twice) is recognised.

sql_migration! {
    up: r#"
CREATE TABLE inbound_batches (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('notifications', 'lifecycle')),
    body         bytea NOT NULL,
    received_at  timestamptz NOT NULL,
    processed_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX inbound_batches_pending_idx ON inbound_batches (received_at) WHERE processed_at IS NULL;
CREATE INDEX inbound_batches_processed_idx ON inbound_batches (processed_at) WHERE processed_at IS NOT NULL;

CREATE TABLE inbound_items (
    subscription_id uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    item_hash       bytea NOT NULL,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (subscription_id, item_hash)
);
CREATE INDEX inbound_items_age_idx ON inbound_items (received_at);
"#,
    down: "DROP TABLE inbound_items; DROP TABLE inbound_batches",
}
