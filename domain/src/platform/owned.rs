//! Tenant-scoped finders: a table whose rows belong to a tenant says so once (its
//! [`TenantOwned`] impl, beside the module that owns it), and every read of one row or one page
//! of rows goes through [`find`] or [`page`], which take the tenant id and a typed id
//! ([`RowId`]) that names the table. The modules that own a table re-export them under their
//! own names (`endpoints::find`, `subscriptions::list`). Another tenant's row is
//! `NotFound`, exactly like a row that does not exist.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};

use super::{
    error::{DomainError, DomainResult},
    ids::{RowId, TenantId},
    paging::oldest_first,
};

/// A table of rows that belong to one tenant each, found by a UUIDv7 id.
pub trait TenantOwned: EntityTrait {
    /// What a missing row is called in `NotFound`.
    const NAME: &'static str;
    /// The `tenant_id` column.
    const TENANT_ID: Self::Column;
    /// The `id` column.
    const ID: Self::Column;
    /// The rows a tenant still sees (e.g. not deleted); all of them unless said otherwise.
    fn visible(query: Select<Self>) -> Select<Self> {
        query
    }
}

/// The rows of `tenant` that it still sees.
pub fn of_tenant<E: TenantOwned>(tenant: TenantId) -> Select<E> {
    E::visible(E::find().filter(E::TENANT_ID.eq(tenant.uuid())))
}

/// The tenant's row `id` (in the table its type names), or `NotFound` (also for another
/// tenant's).
pub async fn find<I, C>(db: &C, tenant: TenantId, id: I) -> DomainResult<Model<I>>
where
    I: RowId<Table: TenantOwned>,
    C: ConnectionTrait,
{
    of_tenant::<I::Table>(tenant)
        .filter(I::Table::ID.eq(id.into()))
        .one(db)
        .await?
        .ok_or(DomainError::NotFound(I::Table::NAME))
}

/// A page of the tenant's rows (in the table the ids' type names), oldest first, after
/// `after`; `limit` is kept between 1 and 200.
pub async fn page<I, C>(
    db: &C,
    tenant: TenantId,
    after: Option<I>,
    limit: u64,
) -> DomainResult<Vec<Model<I>>>
where
    I: RowId<Table: TenantOwned>,
    C: ConnectionTrait,
{
    let rows = of_tenant::<I::Table>(tenant);
    Ok(oldest_first(db, rows, I::Table::ID, after.map(Into::into), limit).await?)
}

/// The row an id of type `I` names.
type Model<I> = <<I as RowId>::Table as EntityTrait>::Model;
