//! FHIR request builders. The token goes in the `Authorization` header only.

use crate::fhir::error::FhirError;
use crate::fhir::patient::MAX_RESOURCE_BYTES;
use crate::http::{HttpRequest, Method};
use crate::smart::secret::AccessToken;
use crate::uri::Uri;

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
        max_body: MAX_RESOURCE_BYTES,
    })
}

/// True when a request to `url` may carry the access token: only to the FHIR base the token
/// was issued for (its `aud`), on the same origin and under the base's path. A `next` link,
/// an absolute reference or an attachment URL elsewhere never gets it (matrix #23). The path
/// under the base may not hold an encoded `/` or `\` (`%2F`, `%5C`): no FHIR type, id or
/// operation has one, and a server or proxy that decodes it before resolving `..` would read
/// `R4/..%2Fadmin` as a path outside the base.
pub fn token_may_go_to(url: &str, fhir_base: &str) -> bool {
    let (Ok(url), Ok(base)) = (Uri::parse(url), Uri::parse(fhir_base)) else {
        return false;
    };
    let base_path = base.path().trim_end_matches('/');
    let encoded_separator = |rest: &str| {
        let lower = rest.to_ascii_lowercase();
        lower.contains("%2f") || lower.contains("%5c")
    };
    url.origin() == base.origin()
        && url.path().strip_prefix(base_path).is_some_and(|rest| {
            (rest.is_empty() || rest.starts_with('/')) && !encoded_separator(rest)
        })
}

/// Longest id accepted. FHIR R4 says 64, but Epic's default ("unconstrained FHIR IDs") makes
/// longer ones; the bound only keeps a hostile id from growing URLs without limit.
pub const MAX_ID_CHARS: usize = 256;

/// FHIR R4 `id` characters, `[A-Za-z0-9\-\.]`, 1 to [`MAX_ID_CHARS`] of them.
pub fn is_valid_id(id: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&id.len())
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
    fn the_token_goes_only_to_its_fhir_base() {
        let base = "https://ehr.example/api/FHIR/R4";
        for (url, ok) in [
            ("https://ehr.example/api/FHIR/R4/Patient/1", true),
            ("https://ehr.example/api/FHIR/R4/Observation?page=2", true),
            ("https://ehr.example/api/FHIR/R4", true),
            ("https://ehr.example/api/FHIR/R4x/Patient/1", false),
            ("https://ehr.example/other/Patient/1", false),
            ("http://ehr.example/api/FHIR/R4/Patient/1", false),
            ("https://ehr.example:8443/api/FHIR/R4/Patient/1", false),
            ("https://evil.example/api/FHIR/R4/Patient/1", false),
            (
                "https://ehr.example.evil.example/api/FHIR/R4/Patient/1",
                false,
            ),
            ("https://user@ehr.example/api/FHIR/R4/Patient/1", false),
            ("/api/FHIR/R4/Patient/1", false),
            ("javascript:alert(1)", false),
            // Spellings a browser would rewrite to another path or host (src/uri.rs).
            ("https://ehr.example/api/FHIR/R4/../../../admin", false),
            ("https://ehr.example/api/FHIR/R4/%2e%2e/%2E%2E/x", false),
            ("https://ehr.example/api/FHIR/R4/..%2Fadmin", false),
            ("https://ehr.example/api/FHIR/R4/%2e%2e%2fadmin", false),
            ("https://ehr.example/api/FHIR/R4/..%5Cadmin", false),
            (
                "https://ehr.example/api/FHIR/R4/Patient?identifier=http%3A%2F%2Fhl7.org%7C1",
                true,
            ),
            (
                "https://ehr.example\\@evil.example/api/FHIR/R4/Patient/1",
                false,
            ),
            ("https:\\\\ehr.example/api/FHIR/R4/Patient/1", false),
            ("https://ehr.example/api/FHIR/R4\\..\\x", false),
            (" https://ehr.example/api/FHIR/R4/Patient/1", false),
            ("https://ehr.example/api/FHIR/R4/Patient/1\n", false),
            // The same origin, as browsers write it: the token may go.
            ("HTTPS://EHR.EXAMPLE/api/FHIR/R4/Patient/1", true),
            ("https://ehr.example:443/api/FHIR/R4/Patient/1", true),
        ] {
            assert_eq!(token_may_go_to(url, base), ok, "{url}");
        }
        assert!(token_may_go_to(
            "https://ehr.example/api/FHIR/R4/Patient/1",
            "https://ehr.example/api/FHIR/R4/"
        ));
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
            &"x".repeat(MAX_ID_CHARS + 1),
            "é",
        ] {
            assert!(
                read_request("https://e/fhir", "Patient", bad, &token).is_err(),
                "{bad:?}"
            );
        }
        // Epic's unconstrained ids are longer than FHIR's 64.
        let epic = format!("e{}", "Ab3.-".repeat(20));
        assert!(epic.len() > 64);
        assert!(read_request("https://e/fhir", "Observation", &epic, &token).is_ok());
        assert!(is_valid_id(&"x".repeat(MAX_ID_CHARS)));
    }
}
