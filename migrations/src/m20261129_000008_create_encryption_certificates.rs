//! encryption_certificates: the certificates Graph encrypts rich notifications with (our public
//! key in the subscription, our private key, encrypted, to decrypt); subscriptions name theirs.

sql_migration! {
    up: r#"
CREATE TABLE encryption_certificates (
    id          uuid PRIMARY KEY,
    label       text NOT NULL UNIQUE CHECK (length(label) BETWEEN 1 AND 128),
    certificate bytea NOT NULL,
    private_key bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz
);
ALTER TABLE subscriptions ADD COLUMN encryption_certificate_id text;
"#,
    down: "ALTER TABLE subscriptions DROP COLUMN encryption_certificate_id; DROP TABLE encryption_certificates",
}
