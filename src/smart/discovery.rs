//! SMART discovery: `{fhir_base}/.well-known/smart-configuration`.

use crate::uri::Uri;
use serde_json::Value;

use crate::domain::problem::{NextStep, Problem};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::smart::config::{Config, FhirServer, UntrustedIssuer};
use crate::smart::scope::ScopeSyntax;
use crate::smart::urls;

/// Discovery documents are small; anything larger is refused unread.
pub const MAX_DISCOVERY_BYTES: usize = 1024 * 1024;

/// What Cairn uses from a server's SMART configuration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartConfiguration {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub issuer: Option<String>,
    pub jwks_uri: Option<String>,
    pub capabilities: Vec<String>,
    /// RFC 9207: the server promises an `iss` on every callback.
    pub iss_parameter_supported: bool,
    /// The User-access Brands bundle (`user_access_brand_bundle`), if on an allowed origin.
    pub brand_bundle: Option<String>,
}

impl SmartConfiguration {
    /// True when `capabilities` lists `capability`.
    pub fn supports(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// The scope syntax to ask in: v2 only when the server lists `permission-v2`. A server
    /// that lists nothing (or was found through its CapabilityStatement) is asked in v1, which
    /// every SMART server reads; Epic before August 2024 refuses v2 with `invalid_scope`.
    pub fn scope_syntax(&self) -> ScopeSyntax {
        if self.supports("permission-v2") {
            ScopeSyntax::V2
        } else {
            ScopeSyntax::V1
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the EHR's SMART configuration answered HTTP {0}")]
    Http(u16),
    #[error("the EHR's SMART configuration is not JSON")]
    NotJson,
    #[error("the EHR's SMART configuration is larger than {MAX_DISCOVERY_BYTES} bytes")]
    TooLarge,
    #[error("the EHR's SMART configuration lacks `{0}`")]
    Missing(&'static str),
    #[error("the EHR's `{field}` {value:?} is not an acceptable address")]
    BadEndpoint { field: &'static str, value: String },
    #[error("the EHR's `{field}` is on {origin}, which is not an allowed sign-in server for it")]
    ForeignEndpoint { field: &'static str, origin: String },
    #[error("the EHR does not support PKCE with S256, which Cairn requires")]
    NoS256,
    #[error("{0}")]
    UntrustedIssuer(#[from] UntrustedIssuer),
}

impl DiscoveryError {
    pub fn problem(&self) -> Problem {
        let (title, next) = match self {
            DiscoveryError::Http(status) if *status >= 500 => (
                "Cairn could not reach your EHR's sign-in service",
                NextStep::TryAgain,
            ),
            DiscoveryError::ForeignEndpoint { .. }
            | DiscoveryError::NoS256
            | DiscoveryError::UntrustedIssuer(_) => (
                "Your EHR's sign-in settings are not safe to use",
                NextStep::ContactSupport,
            ),
            _ => (
                "Cairn could not read your EHR's sign-in settings",
                NextStep::ContactSupport,
            ),
        };
        Problem::new(title, format!("{self}."), next)
    }
}

pub fn discovery_request(server: &FhirServer) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url: format!("{}/.well-known/smart-configuration", server.fhir_base),
        headers: discovery_headers(server, "application/json"),
        body: None,
        max_body: MAX_DISCOVERY_BYTES,
    }
}

/// `Accept`, and `Epic-Client-ID` when the configuration asks for it
/// ([`FhirServer::epic_client_id_header`]; it costs a CORS preflight).
fn discovery_headers(server: &FhirServer, accept: &str) -> Vec<(String, String)> {
    let mut headers = vec![("Accept".to_owned(), accept.to_owned())];
    if server.epic_client_id_header {
        headers.push(("Epic-Client-ID".to_owned(), server.client_id.clone()));
    }
    headers
}

pub fn parse_discovery(
    server: &FhirServer,
    resp: &HttpResponse,
) -> Result<SmartConfiguration, DiscoveryError> {
    let doc = json_object(resp)?;
    let text = |field: &'static str| doc.get(field).and_then(Value::as_str);
    let authorization_endpoint = checked_endpoint(
        server,
        "authorization_endpoint",
        text("authorization_endpoint"),
    )?;
    let token_endpoint = checked_endpoint(server, "token_endpoint", text("token_endpoint"))?;
    let methods = doc
        .get("code_challenge_methods_supported")
        .and_then(Value::as_array);
    if !methods.is_some_and(|m| m.iter().any(|v| v.as_str() == Some("S256"))) {
        return Err(DiscoveryError::NoS256);
    }
    Ok(SmartConfiguration {
        authorization_endpoint,
        token_endpoint,
        issuer: text("issuer").map(str::to_owned),
        // Optional endpoints must pass the same origin pinning; one that does not is dropped.
        jwks_uri: checked_endpoint(server, "jwks_uri", text("jwks_uri")).ok(),
        brand_bundle: checked_endpoint(
            server,
            "user_access_brand_bundle",
            text("user_access_brand_bundle"),
        )
        .ok(),
        capabilities: doc
            .get("capabilities")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        iss_parameter_supported: doc
            .get("authorization_response_iss_parameter_supported")
            .is_some_and(is_true),
    })
}

impl DiscoveryError {
    /// Only a `.well-known` that is not there (404: a server without SMART's discovery
    /// document) sends Cairn to the CapabilityStatement. A 5xx, an HTML page, broken or
    /// oversized JSON are failures someone on the path can cause: they stop the launch rather
    /// than fall back to a document that names no issuer and no keys. What a fallback keeps is
    /// said in docs/security.md #41: the pinned issuer if configured (`fhir_servers[].issuer`),
    /// else any RFC 9207 `iss` at the callback is refused; endpoints pinned to `auth_origins`.
    pub fn allows_fallback(&self) -> bool {
        matches!(self, DiscoveryError::Http(404))
    }
}

/// Replaces the issuer discovery named with the one Cairn trusts for `server`
/// ([`Config::trusted_issuer`]), or refuses the configuration. Run on every discovery result,
/// the CapabilityStatement fallback (no issuer: the pinned one, if any) included.
pub fn trust_issuer(
    config: &Config,
    server: &FhirServer,
    mut smart: SmartConfiguration,
) -> Result<SmartConfiguration, DiscoveryError> {
    smart.issuer = config.trusted_issuer(server, smart.issuer.as_deref())?;
    if smart.issuer.is_none() {
        // No issuer to check an `iss` against: no promise of one either.
        smart.iss_parameter_supported = false;
    }
    Ok(smart)
}

/// The fallback when `.well-known` is unusable: the server's CapabilityStatement. `Accept` must
/// name FHIR JSON (Epic answers XML otherwise).
pub fn metadata_request(server: &FhirServer) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url: format!("{}/metadata", server.fhir_base),
        headers: discovery_headers(server, "application/fhir+json"),
        body: None,
        max_body: MAX_DISCOVERY_BYTES,
    }
}

const OAUTH_URIS: &str = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

/// Reads the SMART `oauth-uris` extension from a CapabilityStatement. It says nothing about
/// PKCE methods; Cairn sends S256 regardless, and a server that cannot verify it refuses.
pub fn parse_metadata(
    server: &FhirServer,
    resp: &HttpResponse,
) -> Result<SmartConfiguration, DiscoveryError> {
    let doc = json_object(resp)?;
    let uris = doc
        .get("rest")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|rest| rest.get("security")?.get("extension")?.as_array())
        .flatten()
        .find(|ext| ext.get("url").and_then(Value::as_str) == Some(OAUTH_URIS))
        .and_then(|ext| ext.get("extension")?.as_array())
        .ok_or(DiscoveryError::Missing("oauth-uris extension"))?;
    let uri = |name: &str| {
        uris.iter()
            .find(|e| e.get("url").and_then(Value::as_str) == Some(name))
            .and_then(|e| e.get("valueUri").and_then(Value::as_str))
    };
    Ok(SmartConfiguration {
        authorization_endpoint: checked_endpoint(server, "authorize", uri("authorize"))?,
        token_endpoint: checked_endpoint(server, "token", uri("token"))?,
        issuer: None,
        jwks_uri: None,
        capabilities: Vec::new(),
        iss_parameter_supported: false,
        brand_bundle: None,
    })
}

/// A response that must be one JSON object of bounded size.
fn json_object(resp: &HttpResponse) -> Result<serde_json::Map<String, Value>, DiscoveryError> {
    if !resp.is_success() {
        return Err(DiscoveryError::Http(resp.status));
    }
    if resp.body.len() > MAX_DISCOVERY_BYTES {
        return Err(DiscoveryError::TooLarge);
    }
    if !resp.is_json() {
        return Err(DiscoveryError::NotJson);
    }
    match serde_json::from_slice(&resp.body) {
        Ok(Value::Object(doc)) => Ok(doc),
        _ => Err(DiscoveryError::NotJson),
    }
}

/// An endpoint resolved against the FHIR base, https (http on loopback), on a pinned origin.
fn checked_endpoint(
    server: &FhirServer,
    field: &'static str,
    raw: Option<&str>,
) -> Result<String, DiscoveryError> {
    let raw = raw
        .filter(|s| !s.is_empty())
        .ok_or(DiscoveryError::Missing(field))?;
    let bad = || DiscoveryError::BadEndpoint {
        field,
        value: crate::domain::problem::truncate_for_display(raw, 200),
    };
    let base = Uri::parse(&format!("{}/", server.fhir_base)).map_err(|_| bad())?;
    let url = base.join(raw).map_err(|_| bad())?;
    if !urls::is_acceptable_endpoint(&url) || url.fragment().is_some() {
        return Err(bad());
    }
    if !server.auth_origins.iter().any(|o| o == url.origin()) {
        return Err(DiscoveryError::ForeignEndpoint {
            field,
            origin: url.origin().to_owned(),
        });
    }
    Ok(url.as_str().to_owned())
}

/// A JSON boolean, or Epic's string spelling of one.
pub(crate) fn is_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// How long a server's SMART configuration is reused in this tab before it is asked for
/// again: Hyperspace opens Cairn many times a session, and every launch would otherwise wait a
/// round trip for the same document.
pub const DISCOVERY_MAX_AGE_MS: f64 = 60.0 * 60.0 * 1000.0;

/// The sessionStorage key under which the SMART configuration of `fhir_base` is kept.
pub fn discovery_cache_key(fhir_base: &str) -> String {
    format!("cairn.discovery.{fhir_base}")
}

/// What to keep of a usable smart-configuration answer: when it came (whole milliseconds, so
/// the launch page needs no float formatting or parsing), and its body as sent. `None` for an
/// answer not worth keeping (an error, or not UTF-8).
pub fn discovery_cache_entry(resp: &HttpResponse, now_ms: f64) -> Option<String> {
    let body = std::str::from_utf8(&resp.body).ok()?;
    (resp.is_success() && resp.is_json() && resp.body.len() <= MAX_DISCOVERY_BYTES)
        .then(|| format!("{}\n{body}", now_ms as u64))
}

/// A kept answer, if it is younger than [`DISCOVERY_MAX_AGE_MS`], as the response it was. The
/// caller parses it with [`parse_discovery`] again, so a kept document passes every check a
/// fresh one does (tampering with sessionStorage gains nothing).
pub fn cached_discovery(entry: &str, now_ms: f64) -> Option<HttpResponse> {
    let (saved, body) = entry.split_once('\n')?;
    let age = now_ms - saved.parse::<u64>().ok()? as f64;
    (0.0..DISCOVERY_MAX_AGE_MS)
        .contains(&age)
        .then(|| HttpResponse {
            status: 200,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_configuration_is_reused_for_an_hour_and_checked_again() {
        let server = server();
        let answer = json(
            r#"{"authorization_endpoint":"https://ehr.example/oauth2/authorize",
            "token_endpoint":"https://login.ehr.example/token",
            "code_challenge_methods_supported":["S256"]}"#,
        );
        let entry = discovery_cache_entry(&answer, 1_000.0).unwrap();
        assert!(entry.starts_with("1000\n{"), "{entry}");
        let fresh = parse_discovery(&server, &answer).unwrap();
        for (now, reused) in [
            (1_000.0, true),
            (1_000.0 + DISCOVERY_MAX_AGE_MS - 1.0, true),
            (1_000.0 + DISCOVERY_MAX_AGE_MS, false),
            // A clock that went back (or a tampered time) is not trusted.
            (999.0, false),
        ] {
            let kept = cached_discovery(&entry, now);
            assert_eq!(kept.is_some(), reused, "{now}");
            if let Some(kept) = kept {
                assert_eq!(parse_discovery(&server, &kept).unwrap(), fresh);
            }
        }
        // Errors are not kept; garbage entries are not used.
        let refused = HttpResponse {
            status: 404,
            ..answer.clone()
        };
        assert_eq!(discovery_cache_entry(&refused, 0.0), None);
        for garbage in ["", "x\n{}", "1000", "NaN\n{}", "-1\n{}", "1e3\n{}"] {
            assert_eq!(cached_discovery(garbage, 1_000.0), None, "{garbage:?}");
        }
        // A kept document that was tampered with still has to pass the origin pinning.
        let foreign = entry.replace(
            "https://ehr.example/oauth2/authorize",
            "https://evil.example/authorize",
        );
        assert_ne!(foreign, entry);
        let kept = cached_discovery(&foreign, 1_000.0).unwrap();
        assert!(parse_discovery(&server, &kept).is_err());
        assert_eq!(
            discovery_cache_key("https://ehr.example/fhir"),
            "cairn.discovery.https://ehr.example/fhir"
        );
    }

    fn server() -> FhirServer {
        FhirServer {
            name: "EHR".into(),
            client_id: "cairn".into(),
            epic_client_id_header: false,
            fhir_base: "https://ehr.example/fhir/R4".into(),
            auth_origins: vec![
                "https://ehr.example".into(),
                "https://login.ehr.example".into(),
            ],
            logo: None,
            scope: None,
            mrn: None,
            issuer: None,
            redirect_uri: "https://app.example/".into(),
        }
    }

    #[test]
    fn epic_client_id_header_only_when_configured() {
        let plain = server();
        assert_eq!(discovery_request(&plain).header("epic-client-id"), None);
        assert_eq!(metadata_request(&plain).header("epic-client-id"), None);
        let epic = FhirServer {
            epic_client_id_header: true,
            ..server()
        };
        assert_eq!(
            discovery_request(&epic).header("epic-client-id"),
            Some("cairn")
        );
        assert_eq!(
            metadata_request(&epic).header("epic-client-id"),
            Some("cairn")
        );
        assert_eq!(
            metadata_request(&epic).header("accept"),
            Some("application/fhir+json")
        );
    }

    fn json(body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn request_targets_the_well_known_document() {
        let req = discovery_request(&server());
        assert_eq!(
            req.url,
            "https://ehr.example/fhir/R4/.well-known/smart-configuration"
        );
        assert_eq!(req.method, Method::Get);
    }

    #[test]
    fn parses_and_resolves_relative_endpoints() {
        let doc = r#"{"authorization_endpoint":"../../oauth2/authorize",
            "token_endpoint":"https://login.ehr.example/token","issuer":"https://ehr.example/oauth2",
            "code_challenge_methods_supported":["S256"],"capabilities":["launch-ehr",7],
            "authorization_response_iss_parameter_supported":"true","unknown":{"x":1}}"#;
        let smart = parse_discovery(&server(), &json(doc)).unwrap();
        assert_eq!(
            smart.authorization_endpoint,
            "https://ehr.example/oauth2/authorize"
        );
        assert_eq!(smart.token_endpoint, "https://login.ehr.example/token");
        assert_eq!(smart.capabilities, ["launch-ehr"]);
        assert!(smart.iss_parameter_supported);
    }

    #[test]
    fn scopes_are_asked_in_v2_only_when_the_server_lists_permission_v2() {
        let with = |capabilities: &str| {
            let doc = format!(
                r#"{{"authorization_endpoint":"/a","token_endpoint":"/t",
                "code_challenge_methods_supported":["S256"],"capabilities":{capabilities}}}"#
            );
            parse_discovery(&server(), &json(&doc))
                .unwrap()
                .scope_syntax()
        };
        assert_eq!(
            with(r#"["permission-v1","permission-v2"]"#),
            ScopeSyntax::V2
        );
        assert_eq!(with(r#"["permission-v2"]"#), ScopeSyntax::V2);
        assert_eq!(with(r#"["launch-ehr","permission-v1"]"#), ScopeSyntax::V1);
        assert_eq!(with("[]"), ScopeSyntax::V1);
        assert_eq!(with(r#"["Permission-V2"]"#), ScopeSyntax::V1);
        let no_capabilities = r#"{"authorization_endpoint":"/a","token_endpoint":"/t",
            "code_challenge_methods_supported":["S256"]}"#;
        assert_eq!(
            parse_discovery(&server(), &json(no_capabilities))
                .unwrap()
                .scope_syntax(),
            ScopeSyntax::V1
        );
    }

    #[test]
    fn optional_endpoints_are_pinned_too() {
        let doc = |jwks: &str, brands: &str| {
            json(&format!(
                r#"{{"authorization_endpoint":"https://ehr.example/a","token_endpoint":"https://ehr.example/t",
                "code_challenge_methods_supported":["S256"],"jwks_uri":"{jwks}","user_access_brand_bundle":"{brands}"}}"#
            ))
        };
        let kept = parse_discovery(
            &server(),
            &doc("https://login.ehr.example/jwks", "../../brands.json"),
        )
        .unwrap();
        assert_eq!(
            kept.jwks_uri.as_deref(),
            Some("https://login.ehr.example/jwks")
        );
        assert_eq!(
            kept.brand_bundle.as_deref(),
            Some("https://ehr.example/brands.json")
        );
        // A key set or brand bundle elsewhere is dropped: the id_token then goes unverified
        // and unshown, and the start page keeps the configured names.
        let dropped = parse_discovery(
            &server(),
            &doc(
                "https://evil.example/jwks",
                "http://ehr.example/brands.json",
            ),
        )
        .unwrap();
        assert_eq!(dropped.jwks_uri, None);
        assert_eq!(dropped.brand_bundle, None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = crate::testing::SplitMix(5);
        let seed = br#"{"authorization_endpoint":"https://ehr.example/a","token_endpoint":"/t","code_challenge_methods_supported":["S256"],"capabilities":["launch-ehr"],"issuer":"x","rest":[{"security":{"extension":[{"url":"u","extension":[{"url":"token","valueUri":"t"}]}]}}]}"#;
        for _ in 0..5000 {
            let resp = json("");
            let resp = HttpResponse {
                body: rng.mutate(seed),
                ..resp
            };
            let _ = parse_discovery(&server(), &resp);
            let _ = parse_metadata(&server(), &resp);
        }
    }

    #[test]
    fn capability_statement_fallback() {
        let doc = r#"{"resourceType":"CapabilityStatement","rest":[{"mode":"server","security":{"extension":[
            {"url":"http://example.org/other","valueString":"x"},
            {"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris","extension":[
              {"url":"authorize","valueUri":"https://ehr.example/oauth2/authorize"},
              {"url":"token","valueUri":"https://login.ehr.example/oauth2/token"}]}]}}]}"#;
        let resp = HttpResponse {
            content_type: Some("application/fhir+json".into()),
            ..json(doc)
        };
        let smart = parse_metadata(&server(), &resp).unwrap();
        assert_eq!(
            smart.authorization_endpoint,
            "https://ehr.example/oauth2/authorize"
        );
        assert_eq!(
            smart.token_endpoint,
            "https://login.ehr.example/oauth2/token"
        );
        assert_eq!(
            metadata_request(&server()).url,
            "https://ehr.example/fhir/R4/metadata"
        );
        assert_eq!(
            metadata_request(&server()).header("accept"),
            Some("application/fhir+json")
        );
        // The fallback's endpoints are held to the same origin rules.
        let evil = doc.replace("https://login.ehr.example", "https://evil.example");
        assert_eq!(
            parse_metadata(&server(), &json(&evil)),
            Err(DiscoveryError::ForeignEndpoint {
                field: "token",
                origin: "https://evil.example".into()
            })
        );
        assert_eq!(
            parse_metadata(
                &server(),
                &json(r#"{"resourceType":"CapabilityStatement"}"#)
            ),
            Err(DiscoveryError::Missing("oauth-uris extension"))
        );
    }

    #[test]
    fn only_an_unusable_document_falls_back() {
        assert!(DiscoveryError::Http(404).allows_fallback());
        // Failures a network or a proxy can cause do not silently drop the issuer (#41).
        for forced in [
            DiscoveryError::Http(500),
            DiscoveryError::Http(503),
            DiscoveryError::Http(403),
            DiscoveryError::NotJson,
            DiscoveryError::TooLarge,
        ] {
            assert!(!forced.allows_fallback(), "{forced:?}");
        }
        assert!(!DiscoveryError::NoS256.allows_fallback());
        assert!(
            !DiscoveryError::ForeignEndpoint {
                field: "token_endpoint",
                origin: "https://evil.example".into()
            }
            .allows_fallback()
        );
    }

    #[test]
    fn refusals() {
        let ok_endpoints = r#""authorization_endpoint":"https://ehr.example/a","token_endpoint":"https://ehr.example/t""#;
        let cases: Vec<(HttpResponse, DiscoveryError)> = vec![
            (
                HttpResponse {
                    status: 404,
                    ..json("{}")
                },
                DiscoveryError::Http(404),
            ),
            (
                HttpResponse {
                    content_type: Some("text/html".into()),
                    ..json("<html>")
                },
                DiscoveryError::NotJson,
            ),
            (json("{not json"), DiscoveryError::NotJson),
            (json("[1,2]"), DiscoveryError::NotJson),
            (
                json(&" ".repeat(MAX_DISCOVERY_BYTES + 1)),
                DiscoveryError::TooLarge,
            ),
            (
                json(
                    r#"{"token_endpoint":"https://ehr.example/t","code_challenge_methods_supported":["S256"]}"#,
                ),
                DiscoveryError::Missing("authorization_endpoint"),
            ),
            (
                json(&format!(
                    r#"{{{ok_endpoints},"code_challenge_methods_supported":["plain"]}}"#
                )),
                DiscoveryError::NoS256,
            ),
            (
                json(&format!(r#"{{{ok_endpoints}}}"#)),
                DiscoveryError::NoS256,
            ),
            (
                json(
                    r#"{"authorization_endpoint":"https://evil.example/a","token_endpoint":"https://ehr.example/t","code_challenge_methods_supported":["S256"]}"#,
                ),
                DiscoveryError::ForeignEndpoint {
                    field: "authorization_endpoint",
                    origin: "https://evil.example".into(),
                },
            ),
            (
                json(
                    r#"{"authorization_endpoint":"https://ehr.example/a","token_endpoint":"http://ehr.example/t","code_challenge_methods_supported":["S256"]}"#,
                ),
                DiscoveryError::BadEndpoint {
                    field: "token_endpoint",
                    value: "http://ehr.example/t".into(),
                },
            ),
        ];
        for (resp, expected) in cases {
            assert_eq!(parse_discovery(&server(), &resp), Err(expected));
        }
    }
}
