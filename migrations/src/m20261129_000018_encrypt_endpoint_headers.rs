//! Custom endpoint headers (often `Authorization: Bearer …`) are encrypted at rest like the
//! endpoint secrets, in `headers_sealed`.
//!
//! SQL cannot encrypt (the key is in the application's settings, not in the database), so
//! rows written before this migration keep their plain-text `headers` until the api starts:
//! it then encrypts every such row and empties `headers` (`endpoints::headers::seal_plain`).
//! Until then they are read as they are, so nothing is lost in between. The application
//! never writes plain text again; non-empty plain `headers` win over sealed ones, because only
//! a process of the previous version (during a rolling upgrade) could have written them.
//!
//! Down: SQL cannot decrypt either. `graphhook migrate down` writes the headers back in plain
//! text before reverting this migration; reverting it otherwise, with encrypted headers
//! present, is refused rather than losing them.

sql_migration! {
    up: r#"
ALTER TABLE endpoints ADD COLUMN headers_sealed bytea;
"#,
    down: r#"
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM endpoints WHERE headers_sealed IS NOT NULL) THEN
        RAISE EXCEPTION 'endpoints hold encrypted custom headers; revert with `graphhook migrate down`, which writes them back in plain text first';
    END IF;
END
$$;
ALTER TABLE endpoints DROP COLUMN headers_sealed;
"#,
}
