//! Request bodies that must be JSON objects, and bodies that may be left out.
//!
//! serde accepts a JSON array for a struct (its fields in order), so `[]` passed for a body
//! whose fields all have defaults; [`Object`] accepts an object only. [`OptionalJson`] is for
//! routes whose body is optional: no body at all means the defaults, but a body that is present
//! must be a JSON object sent as `application/json`, with the same errors as any other body.
//! (actix's `Option<Json<T>>` turns every error into `None`, so a garbled body silently meant
//! the defaults.)

use std::{fmt, marker::PhantomData};

use actix_web::{
    FromRequest, HttpMessage, HttpRequest, dev::Payload, error::JsonPayloadError, mime, web,
};
use futures::future::LocalBoxFuture;
use serde::{
    Deserialize, Deserializer,
    de::{DeserializeOwned, MapAccess, Visitor, value::MapAccessDeserializer},
};

use crate::error::json_error;

/// A body that must be a JSON object.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<T> Object<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
    }
}

/// An optional JSON object body: `None` when the request has no body.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> Option<T> {
        self.0
    }
}

/// The body of an operation that takes none: nothing, or `{}`. Anything else is refused as a
/// body with an unknown field would be, rather than ignored.
pub type NoBody = OptionalJson<Nothing>;

/// No member at all.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

fn is_json(req: &HttpRequest) -> bool {
    matches!(
        req.mime_type(),
        Ok(Some(m)) if m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON)
    )
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let bytes = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let bytes = bytes.await?;
            if bytes.is_empty() {
                return Ok(Self(None));
            }
            if !is_json(&req) {
                return Err(json_error(JsonPayloadError::ContentType, &req));
            }
            serde_json::from_slice::<Object<T>>(&bytes)
                .map(|body| Self(Some(body.0)))
                .map_err(|e| json_error(JsonPayloadError::Deserialize(e), &req))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct AllDefault {
        #[serde(default)]
        n: u64,
        name: Option<String>,
    }

    #[test]
    fn only_an_object_is_an_object() {
        let parse = |text: &str| serde_json::from_str::<Object<AllDefault>>(text);
        for text in ["[]", "[5]", "7", "\"x\"", "null", "true"] {
            let error = parse(text).expect_err(text);
            assert!(error.is_data(), "{text}: {error}");
            assert!(error.to_string().contains("a JSON object"), "{error}");
        }
        assert_eq!(parse("{}").unwrap().0, AllDefault::default());
        assert_eq!(
            parse(r#"{"n": 3, "name": "a"}"#).unwrap().0,
            AllDefault {
                n: 3,
                name: Some("a".into())
            }
        );
        let unknown = parse(r#"{"m": 1}"#).unwrap_err().to_string();
        assert!(unknown.contains("unknown field `m`"), "{unknown}");
        let wrong = parse(r#"{"n": "x"}"#).unwrap_err().to_string();
        assert!(wrong.contains("invalid type"), "{wrong}");
    }
}
