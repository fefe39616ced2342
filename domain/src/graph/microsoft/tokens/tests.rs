use super::*;

fn error(code: u32, error: &str) -> EntraError {
    EntraError {
        error: error.into(),
        error_description: format!(
            "AADSTS{code}: Something happened.\r\nTrace ID: x\r\nCorrelation ID: y"
        ),
        error_codes: vec![code],
    }
}

#[test]
fn only_consent_codes_mean_consent_is_gone() {
    // What Entra's answer with `code` and `error` is taken for.
    let taken_for = |code: u32, error_name: &str| match classify(&error(code, error_name)) {
        TokenError::ConsentGone { code, .. } => format!("consent gone, AADSTS{code}"),
        TokenError::Configuration { code, .. } => format!("configuration, AADSTS{code}"),
        TokenError::Refused { message, .. } => format!("refused: {message}"),
        other => format!("{other:?}"),
    };
    for (code, error_name, expected) in [
        (700016, "unauthorized_client", "consent gone, AADSTS700016"),
        (65001, "invalid_grant", "consent gone, AADSTS65001"),
        (7000215, "invalid_client", "configuration, AADSTS7000215"),
        (7000222, "invalid_client", "configuration, AADSTS7000222"),
        (90002, "invalid_request", "refused: Something happened."),
    ] {
        assert_eq!(taken_for(code, error_name), expected);
    }
}
