//! Tenant-scoped finders: a table whose rows belong to a tenant says so once (its
//! [`TenantOwned`] impl, beside the module that owns it), and every read of one row or one page
//! of rows goes through [`find`] or [`page`], which take the tenant id. Another tenant's row is
//! `NotFound`, exactly like a row that does not exist.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};

use super::{
    error::{DomainError, DomainResult},
    ids::TenantId,
    paging::oldest_first,
};

/// A table of rows that belong to one tenant each, found by a UUIDv7 id.
pub trait TenantOwned: EntityTrait {
    /// What a missing row is called in `NotFound`.
    const NAME: &'static str;
    /// The `tenant_id` column.
    fn tenant_column() -> Self::Column;
    /// The `id` column.
    fn id_column() -> Self::Column;
    /// The rows a tenant still sees (e.g. not deleted); all of them unless said otherwise.
    fn visible(query: Select<Self>) -> Select<Self> {
        query
    }
}

/// The rows of `tenant` that it still sees.
pub fn of_tenant<E: TenantOwned>(tenant: TenantId) -> Select<E> {
    E::visible(E::find().filter(E::tenant_column().eq(tenant.uuid())))
}

/// The tenant's row `id`, or `NotFound` (also for another tenant's).
pub async fn find<E: TenantOwned, C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: uuid::Uuid,
) -> DomainResult<E::Model> {
    of_tenant::<E>(tenant)
        .filter(E::id_column().eq(id))
        .one(db)
        .await?
        .ok_or(DomainError::NotFound(E::NAME))
}

/// A page of the tenant's rows, oldest first, after `after`; `limit` is kept between 1 and 200.
pub async fn page<E: TenantOwned, C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> DomainResult<Vec<E::Model>> {
    Ok(oldest_first(db, of_tenant::<E>(tenant), E::id_column(), after, limit).await?)
}
