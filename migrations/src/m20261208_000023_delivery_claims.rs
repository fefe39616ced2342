//! A delivery's claim made explicit: `claimed_until` is set while a worker's attempt is in
//! flight and cleared when it ends, so a resend or a recovery never makes a delivery due again
//! under an attempt that is still running (two attempts at once, one of them unrecorded).

sql_migration! {
    up: r#"
ALTER TABLE deliveries ADD COLUMN claimed_until timestamptz;
"#,
    down: r#"
ALTER TABLE deliveries DROP COLUMN claimed_until;
"#,
}
