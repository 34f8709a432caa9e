//! URL rules shared by configuration, discovery and launch checks.

use url::Url;

/// True for hosts where plain `http:` is acceptable: this machine only.
pub fn is_loopback(url: &Url) -> bool {
    matches!(
        url.host_str(),
        Some("localhost") | Some("127.0.0.1") | Some("[::1]")
    )
}

/// An absolute `https:` URL, or `http:` on loopback, with no user name or password.
pub fn is_acceptable_endpoint(url: &Url) -> bool {
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url));
    scheme_ok && url.username().is_empty() && url.password().is_none() && url.host().is_some()
}

/// `scheme://host[:port]`, as browsers serialise an origin.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// True when `url` is an acceptable endpoint on the same origin as one of `pinned` (URLs
/// already checked against the configuration).
pub fn same_origin_as_any(url: &str, pinned: &[&str]) -> bool {
    let Some(url) = Url::parse(url).ok().filter(is_acceptable_endpoint) else {
        return false;
    };
    let wanted = origin(&url);
    pinned
        .iter()
        .filter_map(|p| Url::parse(p).ok())
        .any(|p| origin(&p) == wanted)
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
