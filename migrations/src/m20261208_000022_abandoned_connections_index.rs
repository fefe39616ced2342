//! The maintenance chore that removes connections nobody ever signed in to looks for pending,
//! userless ones whose sign-in link expired long ago, once a minute: a partial index keeps that
//! to the few rows it can remove instead of a scan of every connection.

sql_migration! {
    up: r#"
CREATE INDEX connections_abandoned_idx ON connections (auth_expires_at)
    WHERE status = 'pending' AND user_object_id IS NULL;
"#,
    down: r#"
DROP INDEX connections_abandoned_idx;
"#,
}
