//! URL rules shared by configuration, discovery and launch checks.

use crate::uri::Uri;

/// True for hosts where plain `http:` is acceptable: this machine only.
pub fn is_loopback(url: &Uri) -> bool {
    matches!(url.host(), "localhost" | "127.0.0.1" | "[::1]")
}

/// An `https:` URL, or `http:` on loopback. ([`Uri`] has no user name or password.)
pub fn is_acceptable_endpoint(url: &Uri) -> bool {
    url.scheme() == "https" || is_loopback(url)
}

/// `raw` parsed, when it is an acceptable endpoint ([`is_acceptable_endpoint`]).
pub fn acceptable(raw: &str) -> Option<Uri> {
    Uri::parse(raw).ok().filter(is_acceptable_endpoint)
}

/// An absolute URI usable as the system of an identifier search (`urn:oid:…`, `https://…`):
/// a scheme and something after it, in printable ASCII without `|` or `,` (token
/// separators); an `http:` or `https:` system must be a URL [`Uri`] accepts. The app's
/// `fhir_servers[].mrn.system` and the export tool's `mrn_system` follow this one rule.
pub fn is_system_uri(s: &str) -> bool {
    crate::uri::split_scheme(s).is_some_and(|(_, rest)| !rest.is_empty())
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'|' && b != b',')
        && (crate::uri::names_other_scheme(s) || Uri::parse(s).is_ok())
}

/// True when `url` is an acceptable endpoint on the same origin as one of `pinned` (URLs
/// already checked against the configuration).
pub fn same_origin_as_any(url: &str, pinned: &[&str]) -> bool {
    let Some(url) = acceptable(url) else {
        return false;
    };
    pinned
        .iter()
        .filter_map(|p| Uri::parse(p).ok())
        .any(|p| p.origin() == url.origin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_only() {
        let pinned = [
            "https://ehr.example/fhir",
            "https://login.example/oauth2/token",
        ];
        for (url, ok) in [
            ("https://ehr.example/style.json", true),
            ("https://login.example/s", true),
            ("https://ehr.example:8443/style.json", false),
            ("http://ehr.example/style.json", false),
            ("https://evil.example/style.json", false),
            ("https://ehr.example@evil.example/", false),
            ("javascript:alert(1)", false),
            ("/relative", false),
        ] {
            assert_eq!(same_origin_as_any(url, &pinned), ok, "{url}");
        }
    }
}
