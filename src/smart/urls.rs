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
