//! Endpoints: tenants' callback URLs with their filter, settings, status and Ed25519 key;
//! endpoint_secrets: their signing secrets, encrypted, old ones kept until their grace ends.

sql_migration! {
    up: r#"
CREATE TABLE endpoints (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                 text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description         text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    status              text NOT NULL
                        CHECK (status IN ('pending_verification', 'active', 'disabled')),
    disabled_reason     text CHECK (disabled_reason IN ('by_tenant', 'failing', 'gone')),
    filter_types        jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(filter_types) = 'array'),
    headers             jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(headers) = 'object'),
    timeout_ms          integer NOT NULL CHECK (timeout_ms BETWEEN 1000 AND 30000),
    rate_limit_per_sec  integer CHECK (rate_limit_per_sec BETWEEN 1 AND 10000),
    max_in_flight       integer NOT NULL CHECK (max_in_flight BETWEEN 1 AND 1000),
    ed25519_key         bytea,
    verified_at         timestamptz,
    verification_error  text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK ((status = 'disabled') = (disabled_reason IS NOT NULL))
);
CREATE INDEX endpoints_tenant_id_idx ON endpoints (tenant_id, id);

CREATE TABLE endpoint_secrets (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    endpoint_id uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    secret      bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz
);
CREATE INDEX endpoint_secrets_endpoint_idx ON endpoint_secrets (tenant_id, endpoint_id, created_at DESC);
"#,
    down: "DROP TABLE endpoint_secrets; DROP TABLE endpoints",
}
