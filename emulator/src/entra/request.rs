//! What an authorize request asks ([`AuthorizeQuery`], also the sign-in page's hidden fields),
//! whose users the URL's tenant segment lets sign in ([`Audience`], which the token endpoint's
//! grants check again), and the request once every check passed ([`SignInRequest`]).

use serde::Deserialize;
use uuid::Uuid;

use crate::state::{CONSUMERS_TENANT, World, auth_codes::CodeChallengeMethod, is_consumers};

/// The authorize request's query (and the sign-in page's hidden fields).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AuthorizeQuery {
    pub client_id: Option<String>,
    pub response_type: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
    pub response_mode: Option<String>,
}

/// Whose users may sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// `organizations`: any organization's (not personal accounts).
    Organizations,
    /// `consumers`: personal Microsoft accounts only.
    Consumers,
    /// `common`: everyone.
    Common,
    /// The tenant the URL names (the consumers tenant's id acts as `consumers`).
    Tenant(Uuid),
}

impl Audience {
    /// The audience a URL's tenant segment names; `None` for an unknown tenant.
    pub fn of_segment(world: &World, segment: &str) -> Option<Self> {
        match segment.to_ascii_lowercase().as_str() {
            "organizations" => Some(Self::Organizations),
            "consumers" => Some(Self::Consumers),
            "common" => Some(Self::Common),
            _ => world.find_tenant(segment).map(|t| Self::Tenant(t.id)),
        }
    }

    pub fn allows(self, tenant: Uuid) -> bool {
        match self {
            Self::Organizations => !is_consumers(tenant),
            Self::Consumers => is_consumers(tenant),
            Self::Common => true,
            Self::Tenant(id) => id == tenant,
        }
    }

    /// Only personal accounts can sign in here.
    pub fn consumers_only(self) -> bool {
        matches!(self, Self::Consumers | Self::Tenant(CONSUMERS_TENANT))
    }
}

/// An authorize request that passed every check.
#[derive(Clone, Debug)]
pub struct SignInRequest {
    /// The URL's tenant segment, as written.
    pub segment: String,
    pub audience: Audience,
    pub client_id: Uuid,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<(String, CodeChallengeMethod)>,
}
