//! Custom endpoint headers are secrets as often as not (`Authorization: Bearer …`): they are
//! stored encrypted like the endpoint's signing secrets (ChaCha20-Poly1305 through
//! [`SecretBox`], bound to the endpoint and to this purpose), shown to the tenant only as names
//! with [`MASK`] for every value, and decrypted only to be sent.
//!
//! The mask reveals nothing, not even a value's length or last characters. Sent back in a
//! change it means "keep the stored value", so a client can read an endpoint, edit one header
//! and send them all back; where nothing is stored under that name it is refused.
//!
//! Rows written before headers were encrypted hold them in plain text (`headers`): they are
//! read as they are, sealed when the endpoint is next changed, and all of them when the api
//! starts ([`seal_plain`]). See the migration `m20261129_000018_encrypt_endpoint_headers`.

use std::collections::BTreeMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use serde_json::{Value, json};

use super::InputError;
use crate::{
    delivery::webhooks::crypt::SecretBox,
    platform::entities::endpoint,
    platform::error::{DomainError, DomainResult},
    platform::ids::EndpointId,
};

/// What every header value is shown as.
pub const MASK: &str = "********";

/// Header names (lower case) and values.
pub type Headers = BTreeMap<String, String>;

fn context(id: EndpointId) -> Vec<u8> {
    format!("{id}:headers").into_bytes()
}

/// The endpoint's headers, decrypted: what is sent with every request.
pub fn read(secret_box: &SecretBox, endpoint: &endpoint::Model) -> DomainResult<Headers> {
    read_columns(
        secret_box,
        endpoint.id,
        &endpoint.headers,
        endpoint.headers_sealed.as_deref(),
    )
}

/// [`read`] from the two columns alone.
fn read_columns(
    secret_box: &SecretBox,
    id: uuid::Uuid,
    headers: &Value,
    sealed: Option<&[u8]>,
) -> DomainResult<Headers> {
    let plain = plain(headers);
    // Non-empty plain text was written by the previous version, after any sealed value.
    if !plain.is_empty() {
        return Ok(plain);
    }
    let Some(sealed) = sealed else {
        return Ok(Headers::new());
    };
    let bytes = secret_box
        .open(sealed, &context(id.into()))
        .map_err(|e| DomainError::internal("decrypting an endpoint's headers", e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| DomainError::internal("an endpoint's decrypted headers", e))
}

/// The headers as the tenant sees them: every value masked.
pub fn masked(secret_box: &SecretBox, endpoint: &endpoint::Model) -> DomainResult<Headers> {
    Ok(read(secret_box, endpoint)?
        .into_keys()
        .map(|name| (name, MASK.to_owned()))
        .collect())
}

/// The two columns that store `headers`: plain text (always empty now) and the sealed value
/// (`None` without headers).
pub fn seal(secret_box: &SecretBox, id: EndpointId, headers: &Headers) -> (Value, Option<Vec<u8>>) {
    if headers.is_empty() {
        return (json!({}), None);
    }
    let bytes = serde_json::to_vec(headers).unwrap_or_default();
    (json!({}), Some(secret_box.seal(&bytes, &context(id))))
}

/// A tenant's headers with every masked value replaced by the stored one under the same
/// (lower-case) name. The mask where nothing is stored is refused: it would be sent as is.
pub fn unmask(new: Headers, stored: &Headers) -> Result<Headers, InputError> {
    let mut out = Headers::new();
    let mut unknown = Vec::new();
    for (name, value) in new {
        if value == MASK {
            match stored.get(&name) {
                Some(kept) => {
                    out.insert(name, kept.clone());
                }
                None => unknown.push(name),
            }
        } else {
            out.insert(name, value);
        }
    }
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(InputError {
            field: "headers",
            rule: Some("mask_without_value"),
            message: format!(
                "{MASK} keeps a stored value, and there is none for {}: send the value itself",
                unknown.join(", ")
            ),
        })
    }
}

fn plain(value: &Value) -> Headers {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

/// Rows per statement when sealing or unsealing every endpoint.
const BATCH: u64 = 500;

/// Encrypts the headers of every row that still holds them in plain text; returns how many.
/// Run when the api starts. A row changed meanwhile (by a process of the previous version) is
/// left for the next run: each update applies only if the plain text is still what was read.
pub async fn seal_plain<C: ConnectionTrait>(db: &C, secret_box: &SecretBox) -> DomainResult<usize> {
    let mut sealed = 0;
    let mut after = uuid::Uuid::nil();
    loop {
        let rows = endpoint::Entity::find()
            .filter(Expr::cust("headers <> '{}'::jsonb"))
            .filter(endpoint::Column::Id.gt(after))
            .order_by_asc(endpoint::Column::Id)
            .limit(BATCH)
            .all(db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(sealed);
        };
        after = last.id;
        for row in &rows {
            let (empty, value) = seal(secret_box, row.id.into(), &plain(&row.headers));
            let updated = endpoint::Entity::update_many()
                .col_expr(endpoint::Column::Headers, Expr::value(empty))
                .col_expr(endpoint::Column::HeadersSealed, Expr::value(value))
                .filter(endpoint::Column::Id.eq(row.id))
                .filter(endpoint::Column::Headers.eq(row.headers.clone()))
                .exec(db)
                .await?;
            sealed += updated.rows_affected as usize;
        }
    }
}

/// Writes every endpoint's headers back in plain text and removes the sealed values: what
/// reverting the migration that introduced them needs (SQL cannot decrypt). Returns how many.
/// It reads only the columns that migration knows, so it works whatever later migrations were
/// reverted before it.
pub async fn unseal_all<C: ConnectionTrait>(db: &C, secret_box: &SecretBox) -> DomainResult<usize> {
    let mut unsealed = 0;
    loop {
        let rows: Vec<(uuid::Uuid, Value, Option<Vec<u8>>)> = endpoint::Entity::find()
            .select_only()
            .columns([
                endpoint::Column::Id,
                endpoint::Column::Headers,
                endpoint::Column::HeadersSealed,
            ])
            .filter(endpoint::Column::HeadersSealed.is_not_null())
            .order_by_asc(endpoint::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if rows.is_empty() {
            return Ok(unsealed);
        }
        for (id, plain_headers, sealed) in &rows {
            let headers = read_columns(secret_box, *id, plain_headers, sealed.as_deref())?;
            endpoint::Entity::update_many()
                .col_expr(endpoint::Column::Headers, Expr::value(json!(headers)))
                .col_expr(
                    endpoint::Column::HeadersSealed,
                    Expr::value(None::<Vec<u8>>),
                )
                .filter(endpoint::Column::Id.eq(*id))
                .exec(db)
                .await?;
            unsealed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_keeps_a_stored_value_and_is_refused_without_one() {
        let stored = Headers::from([
            ("authorization".to_owned(), "Bearer a".to_owned()),
            ("x-team".to_owned(), "blue".to_owned()),
        ]);
        let new = Headers::from([
            ("authorization".to_owned(), MASK.to_owned()),
            ("x-team".to_owned(), "green".to_owned()),
        ]);
        assert_eq!(
            unmask(new, &stored).unwrap(),
            Headers::from([
                ("authorization".to_owned(), "Bearer a".to_owned()),
                ("x-team".to_owned(), "green".to_owned()),
            ])
        );
        let error = unmask(
            Headers::from([("x-new".to_owned(), MASK.to_owned())]),
            &stored,
        )
        .unwrap_err();
        assert_eq!(error.field, "headers");
        assert!(error.message.contains("x-new"));
        // A value that merely contains the mask is a value.
        let literal = Headers::from([("x-a".to_owned(), format!("{MASK}1"))]);
        assert_eq!(unmask(literal.clone(), &Headers::new()).unwrap(), literal);
    }
}
