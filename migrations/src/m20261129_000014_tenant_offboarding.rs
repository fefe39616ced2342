//! Offboarded tenants: their keys are revoked and Graph subscriptions deleted at once; their
//! data is removed once `admin.offboarded_retention_days` have passed since `offboarded_at`.

sql_migration! {
    up: r#"
ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_status_check
    CHECK (status IN ('pending', 'active', 'consent_revoked', 'suspended', 'offboarded'));
ALTER TABLE tenants ADD COLUMN offboarded_at timestamptz;
CREATE INDEX tenants_offboarded_idx ON tenants (offboarded_at) WHERE offboarded_at IS NOT NULL;
"#,
    down: r#"
DROP INDEX tenants_offboarded_idx;
ALTER TABLE tenants DROP COLUMN offboarded_at;
DELETE FROM tenants WHERE status = 'offboarded';
ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_status_check
    CHECK (status IN ('pending', 'active', 'consent_revoked', 'suspended'));
"#,
}
