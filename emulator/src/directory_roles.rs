//! Entra's built-in directory roles that matter to Graphhook's onboarding, by role template id:
//! the ids Entra puts in the `wids` claim of a signed-in user's tokens. The ids are the same in
//! every tenant, so the emulator and the code under test can both name them.

use uuid::{Uuid, uuid};

/// Global Administrator: may grant tenant-wide admin consent for any permission.
pub const GLOBAL_ADMINISTRATOR: Uuid = uuid!("62e90394-69f5-4237-9190-012177145e10");
/// Privileged Role Administrator: may grant consent for application permissions too.
pub const PRIVILEGED_ROLE_ADMINISTRATOR: Uuid = uuid!("e8611ab8-c189-46e8-94e1-60213ab1f814");
/// Cloud Application Administrator: consents for delegated permissions, but not for Graph
/// application permissions.
pub const CLOUD_APPLICATION_ADMINISTRATOR: Uuid = uuid!("158c047a-c907-4556-b7ef-446551a6b5f7");
/// Application Administrator: as the Cloud Application Administrator, plus app proxy.
pub const APPLICATION_ADMINISTRATOR: Uuid = uuid!("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3");
/// The "User" role template: Entra adds it to every member user's `wids` (guests get another).
pub const MEMBER_USER: Uuid = uuid!("b79fbf4d-3ef9-4689-8143-76b194e85509");

const NAMES: [(Uuid, &str); 5] = [
    (GLOBAL_ADMINISTRATOR, "Global Administrator"),
    (
        PRIVILEGED_ROLE_ADMINISTRATOR,
        "Privileged Role Administrator",
    ),
    (
        CLOUD_APPLICATION_ADMINISTRATOR,
        "Cloud Application Administrator",
    ),
    (APPLICATION_ADMINISTRATOR, "Application Administrator"),
    (MEMBER_USER, "User"),
];

/// The role's display name, for the ones above.
pub fn name(template_id: Uuid) -> Option<&'static str> {
    NAMES
        .iter()
        .find(|(id, _)| *id == template_id)
        .map(|(_, name)| *name)
}

/// What a member user's `wids` claim lists: their active roles, then the member role.
pub fn wids(roles: &[Uuid]) -> Vec<String> {
    let mut ids: Vec<Uuid> = Vec::with_capacity(roles.len() + 1);
    for id in roles.iter().copied().chain([MEMBER_USER]) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.into_iter().map(|id| id.to_string()).collect()
}
