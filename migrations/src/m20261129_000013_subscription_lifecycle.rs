//! Subscription upkeep: when each subscription is next renewed (or what other action is due),
//! the lease a worker holds while acting on it, and the history of lifecycle actions.

sql_migration! {
    up: r#"
ALTER TABLE subscriptions
    ADD COLUMN renew_at          timestamptz,
    ADD COLUMN last_renewed_at   timestamptz,
    ADD COLUMN due_action        text NOT NULL DEFAULT 'renew'
        CHECK (due_action IN ('renew', 'reauthorize', 'recreate', 'resume')),
    ADD COLUMN due_at            timestamptz,
    ADD COLUMN action_version    integer NOT NULL DEFAULT 0,
    ADD COLUMN failures          integer NOT NULL DEFAULT 0,
    ADD COLUMN lease_token       uuid,
    ADD COLUMN lease_until       timestamptz,
    ADD COLUMN expiry_warned_at  timestamptz;
UPDATE subscriptions
   SET renew_at = created_at + (expires_at - created_at) * 0.6,
       due_at   = created_at + (expires_at - created_at) * 0.6
 WHERE expires_at IS NOT NULL;
CREATE INDEX subscriptions_due_idx ON subscriptions (due_at) WHERE status = 'active';
CREATE INDEX subscriptions_tenant_due_idx ON subscriptions (tenant_id, due_at) WHERE status = 'active';
CREATE INDEX subscriptions_leased_idx ON subscriptions (tenant_id) WHERE lease_token IS NOT NULL;

-- Graph throttled the tenant (429): its upkeep waits until then.
CREATE TABLE graph_throttles (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    until     timestamptz NOT NULL
);

CREATE TABLE subscription_actions (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subscription_id uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    action          text NOT NULL,
    trigger         text NOT NULL,
    outcome         text NOT NULL,
    graph_id        text,
    detail          text,
    created_at      timestamptz NOT NULL
);
CREATE INDEX subscription_actions_subscription_idx ON subscription_actions (subscription_id, id);
CREATE INDEX subscription_actions_created_idx ON subscription_actions (created_at);
"#,
    down: r#"
DROP TABLE graph_throttles;
DROP TABLE subscription_actions;
DROP INDEX subscriptions_leased_idx;
DROP INDEX subscriptions_tenant_due_idx;
DROP INDEX subscriptions_due_idx;
ALTER TABLE subscriptions
    DROP COLUMN renew_at,
    DROP COLUMN last_renewed_at,
    DROP COLUMN due_action,
    DROP COLUMN due_at,
    DROP COLUMN action_version,
    DROP COLUMN failures,
    DROP COLUMN lease_token,
    DROP COLUMN lease_until,
    DROP COLUMN expiry_warned_at;
"#,
}
