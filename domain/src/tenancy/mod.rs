//! Who Graphhook works for: tenants and their consent, onboarding an organization through its
//! administrator, the tenant's API keys, and the users a tenant connects for delegated access.

pub mod api_keys;
pub mod connections;
pub mod onboarding;
pub mod tenants;
