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
/// `credentials: "omit"`. `max_body` is the largest answer body the browser layer reads for it
/// ([`BodyLimit`]): each request names its own cap, set by the core function that builds it.
///
/// `Debug` is written by hand so that an `Authorization` header never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub max_body: usize,
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
            .field("max_body", &self.max_body)
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

/// Reading an answer's body within its request's cap ([`HttpRequest::max_body`]), sans IO.
/// The browser layer asks [`BodyLimit::admits`] before it reads anything, then
/// [`BodyLimit::chunk`] after each piece of the stream; on [`Read::Abort`] it aborts the fetch,
/// so a hostile or broken server cannot make Cairn hold more than the cap (matrix #45).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    max: usize,
    received: usize,
}

/// Whether to go on reading a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Continue,
    Abort,
}

impl BodyLimit {
    pub fn new(max: usize) -> BodyLimit {
        BodyLimit { max, received: 0 }
    }

    /// The cap, in bytes.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Before reading: a body whose `Content-Length` says it is larger than the cap is refused
    /// unread. A missing or unreadable length proves nothing: the running count decides.
    pub fn admits(&self, content_length: Option<&str>) -> Read {
        let Some(declared) = content_length
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        else {
            return Read::Continue;
        };
        // Digits too many for a `u64` declare more than any cap.
        match declared.parse::<u64>() {
            Ok(n) if n <= u64::try_from(self.max).unwrap_or(u64::MAX) => Read::Continue,
            _ => Read::Abort,
        }
    }

    /// After `len` more bytes arrived: abort once the total passes the cap, whatever the
    /// server declared (a chunked body has no length; a declared one may lie).
    pub fn chunk(&mut self, len: usize) -> Read {
        self.received = self.received.saturating_add(len);
        if self.received > self.max {
            Read::Abort
        } else {
            Read::Continue
        }
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
            max_body: 1024,
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("AT-CANARY-1"), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("https://ehr.example/token"));
    }

    #[test]
    fn body_limit_refuses_a_declared_length_over_the_cap_before_reading() {
        let limit = BodyLimit::new(1000);
        let cases = [
            (None, Read::Continue),
            (Some("0"), Read::Continue),
            (Some("1000"), Read::Continue),
            (Some(" 1000 "), Read::Continue),
            (Some("1001"), Read::Abort),
            (Some("20971520"), Read::Abort),
            (Some("99999999999999999999999"), Read::Abort),
            (Some("-1"), Read::Continue),
            (Some("lots"), Read::Continue),
        ];
        for (declared, expected) in cases {
            assert_eq!(limit.admits(declared), expected, "{declared:?}");
        }
    }

    #[test]
    fn body_limit_aborts_as_soon_as_the_running_total_passes_the_cap() {
        // (chunks, the decision after each)
        let cases: [(&[usize], &[Read]); 5] = [
            (&[], &[]),
            (&[400, 600], &[Read::Continue, Read::Continue]),
            (&[400, 601], &[Read::Continue, Read::Abort]),
            (&[1001], &[Read::Abort]),
            (
                &[0, usize::MAX, 1],
                &[Read::Continue, Read::Abort, Read::Abort],
            ),
        ];
        for (chunks, expected) in cases {
            let mut limit = BodyLimit::new(1000);
            let decided: Vec<Read> = chunks.iter().map(|&len| limit.chunk(len)).collect();
            assert_eq!(decided, expected, "{chunks:?}");
        }
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
