//! FHIR request builders. The token goes in the `Authorization` header only.

use crate::fhir::error::FhirError;
use crate::http::{HttpRequest, Method};
use crate::smart::secret::AccessToken;

/// `GET {base}/{type}/{id}` with the bearer token.
pub fn read_request(
    fhir_base: &str,
    resource_type: &str,
    id: &str,
    token: &AccessToken,
) -> Result<HttpRequest, FhirError> {
    if !is_valid_id(id) {
        return Err(FhirError::InvalidId(
            crate::domain::problem::truncate_for_display(id, 80),
        ));
    }
    Ok(HttpRequest {
        method: Method::Get,
        url: format!("{}/{resource_type}/{id}", fhir_base.trim_end_matches('/')),
        headers: vec![
            ("Accept".into(), "application/fhir+json".into()),
            ("Authorization".into(), format!("Bearer {}", token.secret())),
        ],
        body: None,
    })
}

/// FHIR R4 `id`: `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_request_puts_the_token_in_the_header_only() {
        let token = AccessToken::new("AT-CANARY-9".into());
        let req = read_request("https://ehr.example/fhir/", "Patient", "abc-1.2", &token).unwrap();
        assert_eq!(req.url, "https://ehr.example/fhir/Patient/abc-1.2");
        assert_eq!(req.header("authorization"), Some("Bearer AT-CANARY-9"));
        assert_eq!(req.header("accept"), Some("application/fhir+json"));
        assert!(!req.url.contains("AT-CANARY"));
    }

    #[test]
    fn ids_are_validated() {
        let token = AccessToken::new("t".into());
        for bad in [
            "",
            "../Observation",
            "a/b",
            "a?b=c",
            "a b",
            &"x".repeat(65),
            "é",
        ] {
            assert!(
                read_request("https://e/fhir", "Patient", bad, &token).is_err(),
                "{bad:?}"
            );
        }
    }
}
