//! The audit log names a third kind of actor: a Microsoft 365 administrator who signed in to
//! onboard their organization (by their Entra object id), beside operators, tenants' keys and
//! the system.

sql_migration! {
    up: r#"
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_kind_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_kind_check
    CHECK (actor_kind IN ('operator', 'tenant', 'system', 'administrator'));
"#,
    down: r#"
DELETE FROM audit_log WHERE actor_kind = 'administrator';
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_kind_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_kind_check
    CHECK (actor_kind IN ('operator', 'tenant', 'system'));
"#,
}
