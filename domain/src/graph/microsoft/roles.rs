//! The application permissions Graphhook's app registration requests, in plain words for the
//! administrator who grants them.

/// One application permission.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Role {
    /// The permission's name as it appears in a token's `roles` claim.
    pub name: &'static str,
    /// What it lets Graphhook do, in plain words.
    pub description: &'static str,
    /// Whether it allows changing data (Graph offers drive subscriptions only with a
    /// read-write permission).
    pub writes: bool,
    /// Why Graphhook needs it.
    pub used_for: &'static str,
}

pub const PRODUCT_ROLES: &[Role] = &[
    Role {
        name: "Mail.Read",
        description: "Read mail in all mailboxes",
        writes: false,
        used_for: "notifications about messages",
    },
    Role {
        name: "Calendars.Read",
        description: "Read calendars in all mailboxes",
        writes: false,
        used_for: "notifications about calendar events",
    },
    Role {
        name: "Contacts.Read",
        description: "Read contacts in all mailboxes",
        writes: false,
        used_for: "notifications about contacts",
    },
    Role {
        name: "User.Read.All",
        description: "Read all users' profiles",
        writes: false,
        used_for: "notifications about users",
    },
    Role {
        name: "Group.Read.All",
        description: "Read all groups",
        writes: false,
        used_for: "notifications about groups",
    },
    Role {
        name: "Files.ReadWrite.All",
        description: "Read and write files in all OneDrive and SharePoint drives",
        writes: true,
        used_for: "notifications about OneDrive and SharePoint drives (Graph requires the read-write permission for them; Graphhook only reads)",
    },
];

/// The product's roles that `granted` lacks.
pub fn missing(granted: &[String]) -> Vec<&'static str> {
    PRODUCT_ROLES
        .iter()
        .map(|r| r.name)
        .filter(|name| !granted.iter().any(|g| g == name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_roles_are_those_not_granted() {
        let granted = vec!["Mail.Read".to_owned(), "User.Read.All".to_owned()];
        let missing = missing(&granted);
        assert!(!missing.contains(&"Mail.Read"));
        assert!(missing.contains(&"Group.Read.All"));
        assert_eq!(missing.len(), PRODUCT_ROLES.len() - 2);
    }
}
