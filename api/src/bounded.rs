//! Values a caller sends that end up in a database comparison, parsed into types that hold only
//! what Postgres can compare. Postgres refuses dates before 4713 BC (which chrono accepts) and
//! text containing NUL; without these types such a value reached the database and came back as
//! a 500. A value outside is refused where it is deserialized: 400 `invalid_query` in a query,
//! 422 `validation_failed` in a JSON body.
//!
//! Timestamps are bounded to the years 1970 to 9999 (UTC): nothing Graphhook records is older
//! than 1970, and RFC 3339 writes four-digit years.

use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Deserializer, de::Error as _};

/// The earliest and latest year a timestamp filter may name.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// An RFC 3339 timestamp within [`YEARS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn new(at: DateTime<Utc>) -> Result<Self, String> {
        if YEARS.contains(&at.year()) {
            Ok(Self(at))
        } else {
            Err(format!(
                "a timestamp must be within the years {} to {} (UTC), not {}",
                YEARS.start(),
                YEARS.end(),
                at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ))
        }
    }

    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let at = DateTime::<Utc>::deserialize(deserializer)?;
        Self::new(at).map_err(D::Error::custom)
    }
}

/// Text to filter by: any characters but NUL and the other control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterText(String);

impl FilterText {
    pub fn new(text: String) -> Result<Self, String> {
        if text.chars().any(char::is_control) {
            Err(format!(
                "a filter must not contain control characters, not {:?}",
                text.chars().take(100).collect::<String>()
            ))
        } else {
            Ok(Self(text))
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for FilterText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FilterText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Timestamp, serde_json::Error> {
        serde_json::from_value(serde_json::json!(text))
    }

    #[test]
    fn timestamps_outside_1970_to_9999_are_refused() {
        for text in [
            "-4714-11-23T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T01:00:00+02:00",
            "+10000-01-01T00:00:00Z",
        ] {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.contains("1970 to 9999"), "{text}: {error}");
        }
        for text in [
            "1970-01-01T00:00:00Z",
            "2026-01-05T09:00:00+01:00",
            "9999-12-31T23:59:59Z",
        ] {
            assert!(parse(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn filter_text_refuses_control_characters() {
        let parse = |text: &str| serde_json::from_value::<FilterText>(serde_json::json!(text));
        assert!(parse("a\u{0}b").is_err());
        assert!(parse("\n").is_err());
        assert_eq!(
            parse("graph.message.created").unwrap().into_inner(),
            "graph.message.created"
        );
        assert_eq!(parse("Contoso Ltd é").unwrap().to_string(), "Contoso Ltd é");
    }
}
