//! `retry_schedule` as a request sends it: an array of whole seconds, read no further than one
//! delay past the limit, so a long array costs no more than a short one (it is then refused by
//! `check_retry_schedule`, naming the field, like a delay out of range). Anything that is not an
//! array of integers is a shape error, as for every other field.

use std::fmt;

use graphhook_domain::delivery::engine::schedule::MAX_DELAYS;
use serde::{
    Deserialize, Deserializer,
    de::{self, IgnoredAny, SeqAccess, Visitor},
};

/// The delays a request asks for, at most `MAX_DELAYS + 1` of them.
#[derive(Debug)]
pub struct Delays(Vec<i64>);

impl Delays {
    pub fn as_slice(&self) -> &[i64] {
        &self.0
    }
}

/// One delay: any integer (the range is checked with the rest of the schedule, naming the field).
struct Delay(i64);

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DelayVisitor;
        impl Visitor<'_> for DelayVisitor {
            type Value = Delay;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a retry delay in whole seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Delay, E> {
                Ok(Delay(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Delay, E> {
                // Far out of range either way.
                Ok(Delay(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }
        deserializer.deserialize_i64(DelayVisitor)
    }
}

impl<'de> Deserialize<'de> for Delays {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DelaysVisitor;
        impl<'de> Visitor<'de> for DelaysVisitor {
            type Value = Delays;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "retry_schedule as an array of 1 to {MAX_DELAYS} delays in whole seconds, or null"
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Delays, A::Error> {
                let mut delays = Vec::with_capacity(MAX_DELAYS + 1);
                while delays.len() <= MAX_DELAYS {
                    match seq.next_element::<Delay>()? {
                        Some(Delay(d)) => delays.push(d),
                        None => return Ok(Delays(delays)),
                    }
                }
                // One delay past the limit is enough to refuse the schedule; the rest is skipped.
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Delays(delays))
            }
        }
        deserializer.deserialize_seq(DelaysVisitor)
    }
}

/// For a `PATCH` field that `null` clears: present (`null` included) is `Some`, left out `None`
/// (with `#[serde(default)]`).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// For a `PATCH` field that cannot be cleared: left out is `None` (with `#[serde(default)]`), a
/// value `Some`, and `null` is refused like any value of the wrong type, never taken for "left
/// out".
pub fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Patch {
        #[serde(default, deserialize_with = "present")]
        retry_schedule: Option<Option<Delays>>,
    }

    fn patch(body: serde_json::Value) -> Result<Option<Option<Vec<i64>>>, String> {
        serde_json::from_value::<Patch>(body)
            .map(|p| p.retry_schedule.map(|d| d.map(|d| d.0)))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn absent_null_and_an_array_are_told_apart() {
        assert_eq!(patch(json!({})), Ok(None));
        assert_eq!(patch(json!({"retry_schedule": null})), Ok(Some(None)));
        assert_eq!(
            patch(json!({"retry_schedule": [10, -1, 0, 86_401]})),
            Ok(Some(Some(vec![10, -1, 0, 86_401]))),
            "ranges are checked later, naming the field"
        );
    }

    #[test]
    fn a_long_array_is_kept_only_one_past_the_limit() {
        let long: Vec<u64> = (1..=100_000).collect();
        let kept = patch(json!({ "retry_schedule": long })).unwrap();
        assert_eq!(kept.flatten().map(|d| d.len()), Some(MAX_DELAYS + 1));
        let huge = patch(json!({"retry_schedule": [u64::MAX]})).unwrap();
        assert_eq!(huge.flatten(), Some(vec![i64::MAX]));
    }

    #[test]
    fn what_is_not_an_array_of_integers_is_a_shape_error() {
        for bad in [
            json!("10,20"),
            json!(10),
            json!({"a": 1}),
            json!([1.5]),
            json!(["10"]),
            json!([null]),
            json!([[1]]),
            json!(true),
        ] {
            let error = patch(json!({ "retry_schedule": bad })).unwrap_err();
            assert!(
                error.contains("retry_schedule") || error.contains("retry delay"),
                "{bad}: {error}"
            );
        }
    }
}
