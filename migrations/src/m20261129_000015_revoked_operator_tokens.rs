//! Operator tokens revoked before they expire (by their `jti`); a row can go once the token
//! would have expired anyway.

sql_migration! {
    up: r#"
CREATE TABLE revoked_operator_tokens (
    jti         text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 100),
    operator    text NOT NULL,
    revoked_by  text NOT NULL,
    revoked_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX revoked_operator_tokens_expiry_idx ON revoked_operator_tokens (expires_at);
"#,
    down: "DROP TABLE revoked_operator_tokens",
}
