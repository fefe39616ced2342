//! Per-tenant quotas: how many endpoints, API keys, connections and subscriptions one tenant may
//! hold. A create takes the tenant's advisory lock for that kind inside its transaction, counts
//! what the tenant holds, and inserts before the transaction ends, so creates racing each other
//! cannot pass the limit together. A refusal is a 409 `quota` conflict naming the limit
//! (`details.quota: "tenant"`, as for Graph's own subscription quota `"graph"`).

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, Select, Statement,
};

use crate::{
    platform::error::{DomainError, DomainResult},
    platform::ids::TenantId,
};

/// What a quota counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quota {
    Endpoints,
    ApiKeys,
    Connections,
    Subscriptions,
}

impl Quota {
    /// The first key of the two-key advisory lock (the second is the tenant's); two-key locks
    /// never collide with one-key ones.
    fn lock(self) -> i32 {
        match self {
            Self::Endpoints => 0x454e_4450,     // "ENDP"
            Self::ApiKeys => 0x4b45_5953,       // "KEYS"
            Self::Connections => 0x434f_4e4e,   // "CONN"
            Self::Subscriptions => 0x5355_4253, // "SUBS"
        }
    }

    /// How the refusal names what is counted.
    fn noun(self) -> &'static str {
        match self {
            Self::Endpoints => "endpoints",
            Self::ApiKeys => "active API keys",
            Self::Connections => "connections",
            Self::Subscriptions => "subscriptions",
        }
    }
}

/// The tenant's half of the lock key: its id folded to 32 bits.
fn tenant_key(tenant: TenantId) -> i32 {
    let (high, low) = tenant.uuid().as_u64_pair();
    let folded = high ^ low;
    ((folded >> 32) as u32 ^ folded as u32) as i32
}

/// Serializes the tenant's creates of `quota`'s kind until `txn` ends.
async fn lock(txn: &DatabaseTransaction, tenant: TenantId, quota: Quota) -> DomainResult<()> {
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "SELECT pg_advisory_xact_lock($1, $2)",
        [quota.lock().into(), tenant_key(tenant).into()],
    ))
    .await?;
    Ok(())
}

/// How many the tenant holds once its lock is taken: `held` counts them.
pub async fn count<E>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    quota: Quota,
    held: Select<E>,
) -> DomainResult<u64>
where
    E: EntityTrait,
    E::Model: Sync,
{
    lock(txn, tenant, quota).await?;
    Ok(held.count(txn).await?)
}

/// Takes the tenant's lock for `quota` (held until `txn` ends) and refuses when the tenant
/// already holds `limit` of what `held` counts.
pub async fn reserve<E>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    quota: Quota,
    limit: u32,
    held: Select<E>,
) -> DomainResult<()>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let held = count(txn, tenant, quota, held).await?;
    if held >= u64::from(limit) {
        return Err(refusal(quota, limit.into()));
    }
    Ok(())
}

/// The 409 of a tenant at its `limit` of `quota`.
pub fn refusal(quota: Quota, limit: u64) -> DomainError {
    DomainError::conflict_with(
        "quota",
        format!(
            "the tenant already holds {limit} {}, Graphhook's limit per tenant; delete one first",
            quota.noun()
        ),
        vec![
            ("quota", Some("tenant".to_owned())),
            ("limit", Some(limit.to_string())),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_lock() {
        let kinds = [
            Quota::Endpoints,
            Quota::ApiKeys,
            Quota::Connections,
            Quota::Subscriptions,
        ];
        let mut locks: Vec<i32> = kinds.iter().map(|k| k.lock()).collect();
        locks.sort_unstable();
        locks.dedup();
        assert_eq!(locks.len(), kinds.len());
    }

    #[test]
    fn each_tenant_has_its_own_lock_key_and_keeps_it() {
        let one = TenantId::new();
        let other = TenantId::new();
        assert_eq!(tenant_key(one), tenant_key(one));
        assert_ne!(tenant_key(one), tenant_key(other));
    }

    #[test]
    fn the_refusal_is_a_quota_conflict_naming_the_limit() {
        let DomainError::Conflict { rule, facts, .. } = refusal(Quota::Endpoints, 100) else {
            panic!("not a conflict");
        };
        assert_eq!(rule, "quota");
        assert_eq!(
            facts,
            vec![
                ("quota", Some("tenant".to_owned())),
                ("limit", Some("100".to_owned())),
            ]
        );
    }
}
