//! Reading the claims of a Graph access token.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;

/// What Graphhook reads from a token it got for a tenant.
#[derive(Clone, Debug, Deserialize)]
pub struct GraphTokenClaims {
    pub tid: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub exp: i64,
    #[serde(default)]
    pub oid: Option<String>,
}

/// Decodes a Graph access token's payload WITHOUT verifying its signature. A Graph token is
/// Graph's to verify, not ours: its signature can carry a nonce only Graph checks, and we got it
/// straight from the token endpoint over TLS, so we only read what it says about the tenant
/// (`tid`) and the granted permissions (`roles`).
pub fn read_unverified(token: &str) -> Option<GraphTokenClaims> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"tid":"t1","roles":["Mail.Read"],"exp":10}"#);
        let claims = read_unverified(&format!("e30.{payload}.sig"));
        assert_eq!(
            claims.map(|c| (c.tid, c.roles)),
            Some(("t1".to_owned(), vec!["Mail.Read".to_owned()]))
        );
        assert!(read_unverified("not-a-token").is_none());
    }

    #[test]
    fn a_token_without_roles_reads_as_none_granted() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"tid":"t1","exp":10}"#);
        assert_eq!(
            read_unverified(&format!("e30.{payload}.sig")).map(|c| c.roles.len()),
            Some(0)
        );
    }
}
