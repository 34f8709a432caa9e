//! HTTP exchanges as plain data.
//!
//! The core builds [`HttpRequest`] values and parses [`HttpResponse`] values; only `web/` sends
//! them. Nothing here performs I/O.

/// The HTTP method of a request the core asks the browser layer to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// A request to send. `headers` never carry cookies: the browser layer always sends
/// `credentials: "omit"`.
///
/// `Debug` is written by hand so that an `Authorization` header never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                if name.eq_ignore_ascii_case("authorization") {
                    (name.as_str(), "[redacted]")
                } else {
                    (name.as_str(), value.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response as the browser layer received it. `content_type` is the raw `Content-Type` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// True when the `Content-Type` names JSON (`application/json`, `application/fhir+json`, …).
    pub fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|ct| {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_authorization_and_body() {
        let req = HttpRequest {
            method: Method::Post,
            url: "https://ehr.example/token".into(),
            headers: vec![("Authorization".into(), "Bearer AT-CANARY-1".into())],
            body: Some("code=SECRET".into()),
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("AT-CANARY-1"), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("https://ehr.example/token"));
    }

    #[test]
    fn json_content_types() {
        let with = |ct: Option<&str>| HttpResponse {
            status: 200,
            content_type: ct.map(str::to_owned),
            body: vec![],
        };
        assert!(with(Some("application/fhir+json; charset=utf-8")).is_json());
        assert!(with(Some("Application/JSON")).is_json());
        assert!(!with(Some("text/html")).is_json());
        assert!(!with(None).is_json());
    }
}
