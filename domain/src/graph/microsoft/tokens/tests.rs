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
    assert!(matches!(
        classify(&error(700016, "unauthorized_client")),
        TokenError::ConsentGone { code: 700016, .. }
    ));
    assert!(matches!(
        classify(&error(65001, "invalid_grant")),
        TokenError::ConsentGone { .. }
    ));
    assert!(matches!(
        classify(&error(7000215, "invalid_client")),
        TokenError::Configuration { .. }
    ));
    assert!(matches!(
        classify(&error(7000222, "invalid_client")),
        TokenError::Configuration { .. }
    ));
    assert!(matches!(
        classify(&error(90002, "invalid_request")),
        TokenError::Refused { .. }
    ));
    let TokenError::Refused { message, .. } = classify(&error(90002, "invalid_request")) else {
        return;
    };
    assert_eq!(message, "Something happened.");
}
