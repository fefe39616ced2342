//! An endpoint's deliveries by age, which recovery (and the history filtered by endpoint) walks.

sql_migration! {
    up: "CREATE INDEX deliveries_endpoint_idx ON deliveries (endpoint_id, created_at)",
    down: "DROP INDEX deliveries_endpoint_idx",
}
