//! SMART discovery: `{fhir_base}/.well-known/smart-configuration`.

use serde_json::Value;
use url::Url;

use crate::domain::problem::{NextStep, Problem};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::smart::config::FhirServer;
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
}

impl DiscoveryError {
    pub fn problem(&self) -> Problem {
        let (title, next) = match self {
            DiscoveryError::Http(status) if *status >= 500 => (
                "Cairn could not reach your EHR's sign-in service",
                NextStep::TryAgain,
            ),
            DiscoveryError::ForeignEndpoint { .. } | DiscoveryError::NoS256 => (
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
        headers: vec![("Accept".into(), "application/json".into())],
        body: None,
    }
}

pub fn parse_discovery(
    server: &FhirServer,
    resp: &HttpResponse,
) -> Result<SmartConfiguration, DiscoveryError> {
    if !resp.is_success() {
        return Err(DiscoveryError::Http(resp.status));
    }
    if resp.body.len() > MAX_DISCOVERY_BYTES {
        return Err(DiscoveryError::TooLarge);
    }
    if !resp.is_json() {
        return Err(DiscoveryError::NotJson);
    }
    let doc: Value = serde_json::from_slice(&resp.body).map_err(|_| DiscoveryError::NotJson)?;
    let Some(doc) = doc.as_object() else {
        return Err(DiscoveryError::NotJson);
    };
    let base = Url::parse(&format!("{}/", server.fhir_base))
        .map_err(|_| DiscoveryError::Missing("fhir_base"))?;
    let endpoint = |field: &'static str| -> Result<String, DiscoveryError> {
        let raw = doc
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(DiscoveryError::Missing(field))?;
        let bad = || DiscoveryError::BadEndpoint {
            field,
            value: crate::domain::problem::truncate_for_display(raw, 200),
        };
        let url = base.join(raw).map_err(|_| bad())?;
        if !urls::is_acceptable_endpoint(&url) || url.fragment().is_some() {
            return Err(bad());
        }
        let origin = urls::origin(&url);
        if !server.auth_origins.contains(&origin) {
            return Err(DiscoveryError::ForeignEndpoint { field, origin });
        }
        Ok(url.to_string())
    };
    let authorization_endpoint = endpoint("authorization_endpoint")?;
    let token_endpoint = endpoint("token_endpoint")?;
    let methods = doc
        .get("code_challenge_methods_supported")
        .and_then(Value::as_array);
    if !methods.is_some_and(|m| m.iter().any(|v| v.as_str() == Some("S256"))) {
        return Err(DiscoveryError::NoS256);
    }
    let text = |field: &str| doc.get(field).and_then(Value::as_str).map(str::to_owned);
    Ok(SmartConfiguration {
        authorization_endpoint,
        token_endpoint,
        issuer: text("issuer"),
        jwks_uri: text("jwks_uri"),
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

/// A JSON boolean, or Epic's string spelling of one.
pub(crate) fn is_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> FhirServer {
        FhirServer {
            name: "EHR".into(),
            fhir_base: "https://ehr.example/fhir/R4".into(),
            auth_origins: vec![
                "https://ehr.example".into(),
                "https://login.ehr.example".into(),
            ],
        }
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
