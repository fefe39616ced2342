//! Cursor pagination, the same for every list: `limit` (1–200, default 50) and `cursor` (the
//! previous page's `next_cursor`, the last item's id).

use graphhook_domain::DomainError;
use serde::Deserialize;

/// The query of a list that has no filter: the typed cursor and the page size (documented as
/// [`crate::annotations::PageParams`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery<Cursor> {
    pub cursor: Option<Cursor>,
    pub limit: Option<u16>,
}

impl<Cursor> PageQuery<Cursor> {
    /// The page size asked for, checked.
    pub fn limit(&self) -> Result<u64, DomainError> {
        limit(self.limit)
    }
}

/// The query of an operation that takes none: any parameter is refused (400
/// `invalid_query`), not ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoQuery {}

/// The page size asked for, checked.
pub fn limit(requested: Option<u16>) -> Result<u64, DomainError> {
    let limit = u64::from(requested.unwrap_or(50));
    if !(1..=200).contains(&limit) {
        return Err(DomainError::invalid_field(
            "limit",
            "limit must be between 1 and 200",
        ));
    }
    Ok(limit)
}

/// The cursor of the next page: the last item's id when the page is full.
pub fn next_cursor<T, Id>(rows: &[T], limit: u64, id: impl Fn(&T) -> Id) -> Option<Id> {
    (rows.len() as u64 == limit)
        .then(|| rows.last().map(id))
        .flatten()
}

/// A page of `rows` as views, and the cursor of the next page.
pub fn page<T, Id, V>(
    rows: Vec<T>,
    limit: u64,
    id: impl Fn(&T) -> Id,
    view: impl FnMut(T) -> V,
) -> (Vec<V>, Option<Id>) {
    let next_cursor = next_cursor(&rows, limit, id);
    (rows.into_iter().map(view).collect(), next_cursor)
}
