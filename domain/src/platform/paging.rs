//! Keyset paging and search patterns, shared by every list: ids are UUIDv7, so ordering by id
//! is ordering by creation, and a page continues after the previous page's last id.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

/// Which way a history list runs. Ids are UUIDv7, so by id is by creation: `Asc` is oldest
/// first, `Desc` newest first. A cursor (the previous page's last id) continues in that
/// direction: the next page has ids above it (`Asc`) or below it (`Desc`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

impl Order {
    /// Orders `query` by `id` this way, continuing after `cursor` (the previous page's last id).
    pub fn page<Q, C>(self, query: Q, id: C, cursor: Option<uuid::Uuid>) -> Q
    where
        Q: QueryFilter + QueryOrder,
        C: ColumnTrait,
    {
        match self {
            Order::Asc => {
                let query = match cursor {
                    Some(cursor) => query.filter(id.gt(cursor)),
                    None => query,
                };
                query.order_by_asc(id)
            }
            Order::Desc => {
                let query = match cursor {
                    Some(cursor) => query.filter(id.lt(cursor)),
                    None => query,
                };
                query.order_by_desc(id)
            }
        }
    }
}

/// One page of `query`, oldest first (by `id`), after `after`; `limit` is kept between 1 and
/// 200.
pub async fn oldest_first<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    query: Select<E>,
    id: E::Column,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Vec<E::Model>, DbErr> {
    Order::Asc
        .page(query, id, after)
        .limit(limit.clamp(1, 200))
        .all(db)
        .await
}

/// `text` for a `LIKE` pattern, matched literally (Postgres's default `\` escape).
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_patterns_match_their_text_literally() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
        assert_eq!(escape_like("plain"), "plain");
    }
}
