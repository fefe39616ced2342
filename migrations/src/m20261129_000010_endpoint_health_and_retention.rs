//! When an endpoint started failing without a success since (auto-disable), and the indexes
//! retention walks: old payloads, old attempts, old published operational events.

sql_migration! {
    up: r#"
ALTER TABLE endpoints ADD COLUMN failing_since timestamptz;
CREATE INDEX messages_payload_age_idx ON messages (created_at) WHERE payload IS NOT NULL;
CREATE INDEX attempts_age_idx ON attempts (created_at);
CREATE INDEX operational_events_age_idx ON operational_events (created_at) WHERE delivered_at IS NOT NULL;
"#,
    down: r#"
DROP INDEX operational_events_age_idx;
DROP INDEX attempts_age_idx;
DROP INDEX messages_payload_age_idx;
ALTER TABLE endpoints DROP COLUMN failing_since;
"#,
}
