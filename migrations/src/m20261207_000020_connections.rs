//! Delegated connections: a Microsoft user (work/school or personal account) connected to a
//! tenant, whose refresh token lets Graphhook hold subscriptions Graph allows only in a
//! signed-in user's name (group conversations, personal OneDrive, `me/…`). Tokens are sealed
//! by the application (`webhooks.encryption_key`) before they reach this table. Subscriptions
//! learn which connection they were made through, which Entra tenant Graph notifies them
//! under (personal accounts: the consumers tenant), and what the tenant asked for when Graph
//! was given something else (a SharePoint site's drive resolved to `drives/{id}/root`). The
//! audit log names a fifth kind of actor: the user who connected.

sql_migration! {
    up: r#"
CREATE TABLE connections (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account text NOT NULL CHECK (account IN ('work', 'personal')),
    status text NOT NULL CHECK (status IN ('pending', 'active', 'reauthorization_required', 'deleted')),
    scopes text NOT NULL,
    granted_scopes text,
    user_object_id uuid,
    user_tenant_id uuid,
    username text,
    display_name text,
    refresh_token bytea,
    access_token bytea,
    access_expires_at timestamptz,
    refreshed_at timestamptz,
    auth_state_hash bytea,
    auth_verifier bytea,
    auth_nonce text,
    auth_expires_at timestamptz,
    login_hint text,
    last_error text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    connected_at timestamptz
);
CREATE UNIQUE INDEX connections_auth_state_idx ON connections (auth_state_hash)
    WHERE auth_state_hash IS NOT NULL;
CREATE INDEX connections_tenant_idx ON connections (tenant_id, id);
ALTER TABLE subscriptions ADD COLUMN connection_id uuid REFERENCES connections (id);
ALTER TABLE subscriptions ADD COLUMN graph_tenant_id uuid;
ALTER TABLE subscriptions ADD COLUMN requested_resource text;
CREATE INDEX subscriptions_connection_idx ON subscriptions (connection_id)
    WHERE connection_id IS NOT NULL;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_kind_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_kind_check
    CHECK (actor_kind IN ('operator', 'tenant', 'system', 'administrator', 'user'));
"#,
    down: r#"
DELETE FROM audit_log WHERE actor_kind = 'user';
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_kind_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_kind_check
    CHECK (actor_kind IN ('operator', 'tenant', 'system', 'administrator'));
DROP INDEX subscriptions_connection_idx;
ALTER TABLE subscriptions DROP COLUMN requested_resource;
ALTER TABLE subscriptions DROP COLUMN graph_tenant_id;
ALTER TABLE subscriptions DROP COLUMN connection_id;
DROP TABLE connections;
"#,
}
