//! The `scope` of a sign-in: OpenID Connect scopes (`openid`, `profile`, `email`,
//! `offline_access`) plus delegated Graph permissions, written bare (`User.Read`) or with
//! Graph's resource prefix. Graph is the only resource the emulator issues user tokens for, so
//! another resource's scope is refused. `.default` asks for the app registration's delegated
//! permissions; which of those asked for are granted is [`super::permissions`]' decision.

use super::{GRAPH_APP_ID, GRAPH_AUDIENCE};

const OIDC: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// A parsed sign-in scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes {
    /// The OIDC scopes asked for, lowercase, in [`OIDC`] order.
    oidc: Vec<&'static str>,
    /// Delegated Graph permissions, without the resource prefix.
    graph: Vec<String>,
    /// `.default` was asked for.
    default: bool,
}

impl Scopes {
    /// Parses a space-separated scope; `Err` names the first scope of another resource.
    pub fn parse(scope: &str) -> Result<Self, String> {
        let mut parsed = Self::default();
        for item in scope.split_whitespace() {
            if let Some(oidc) = OIDC.iter().find(|s| s.eq_ignore_ascii_case(item)) {
                if !parsed.oidc.contains(oidc) {
                    parsed.oidc.push(oidc);
                }
                continue;
            }
            let permission = match item.rsplit_once('/') {
                None => item,
                Some((resource, permission)) => {
                    let resource = resource.trim_end_matches('/');
                    if resource.eq_ignore_ascii_case(GRAPH_AUDIENCE)
                        || resource.eq_ignore_ascii_case(GRAPH_APP_ID)
                    {
                        permission
                    } else {
                        return Err(item.to_owned());
                    }
                }
            };
            if permission.eq_ignore_ascii_case(".default") {
                parsed.default = true;
                continue;
            }
            if !permission.is_empty() && !parsed.graph.iter().any(|p| p == permission) {
                parsed.graph.push(permission.to_owned());
            }
        }
        parsed
            .oidc
            .sort_by_key(|s| OIDC.iter().position(|o| o == s));
        Ok(parsed)
    }

    pub fn has(&self, oidc_scope: &str) -> bool {
        self.oidc.contains(&oidc_scope)
    }

    /// The Graph permissions named (without `.default`).
    pub fn graph(&self) -> &[String] {
        &self.graph
    }

    /// Whether `.default` was asked for.
    pub fn asks_default(&self) -> bool {
        self.default
    }

    /// What a token response's `scope` and the access token's `scp` list: the granted Graph
    /// permissions, then `openid`, `profile` and `email` as asked for (`offline_access` is left
    /// out).
    pub fn granted(&self, graph: &[String]) -> String {
        graph
            .iter()
            .cloned()
            .chain(
                self.oidc
                    .iter()
                    .filter(|s| **s != "offline_access")
                    .map(|s| (*s).to_owned()),
            )
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod unit {
    use super::Scopes;

    #[test]
    fn graph_permissions_come_first_and_oidc_scopes_follow_in_a_fixed_order() {
        let scopes =
            Scopes::parse("email openid https://graph.microsoft.com/User.Read profile").unwrap();
        assert_eq!(scopes.graph(), ["User.Read"]);
        assert_eq!(
            scopes.granted(&["User.Read".to_owned()]),
            "User.Read openid profile email"
        );
        assert!(scopes.has("openid") && scopes.has("email"));
        let offline = Scopes::parse("openid offline_access .default").unwrap();
        assert!(offline.has("offline_access") && offline.asks_default());
        assert_eq!(
            offline.granted(&["User.Read".to_owned()]),
            "User.Read openid"
        );
        assert_eq!(
            Scopes::parse("https://outlook.office.com/Mail.Read openid"),
            Err("https://outlook.office.com/Mail.Read".to_owned())
        );
    }
}
