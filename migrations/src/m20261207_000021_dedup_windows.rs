//! Items are remembered for as long as their own kind needs: one that carries an identity
//! (Graph's notification `id`, or its resource's `@odata.etag`) for Graph's retry horizon, one
//! without for a short window only, so a real second change that happens to be byte for byte
//! the same as the first (users, groups and drives have no etag) is not dropped.

sql_migration! {
    up: r#"
ALTER TABLE inbound_items ADD COLUMN remember_until timestamptz;
UPDATE inbound_items SET remember_until = received_at + interval '24 hours';
ALTER TABLE inbound_items ALTER COLUMN remember_until SET NOT NULL;
CREATE INDEX inbound_items_until_idx ON inbound_items (remember_until);
"#,
    down: r#"
DROP INDEX inbound_items_until_idx;
ALTER TABLE inbound_items DROP COLUMN remember_until;
"#,
}
