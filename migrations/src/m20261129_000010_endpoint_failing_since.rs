//! When an endpoint started failing without a success since, for auto-disable.

sql_migration! {
    up: "ALTER TABLE endpoints ADD COLUMN failing_since timestamptz",
    down: "ALTER TABLE endpoints DROP COLUMN failing_since",
}
