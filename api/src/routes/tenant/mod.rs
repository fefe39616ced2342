//! The tenant api under `/api/v1`, behind the tenant's API keys.

pub(crate) mod api_keys;
pub(crate) mod status;
