//! The client-credentials grant, sans IO: the token request for each way of authenticating,
//! the answer read by Cairn's own token parser, and when a cached token must be replaced.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn::http::{HttpRequest, HttpResponse, Method};
use cairn::smart::secret::{AccessToken, ClientSecret};
use cairn::smart::token::{MAX_TOKEN_RESPONSE_BYTES, TokenError, parse_refresh_response};
use cairn::uri::{form, form_encode};

use crate::assertion::ASSERTION_TYPE;

/// A token is replaced this long before it expires, so that no request leaves with a token
/// about to die on the way.
pub const EXPIRY_MARGIN_S: f64 = 30.0;

/// How the client authenticates one token request.
pub enum Credential<'a> {
    /// A signed client assertion ([`crate::assertion::assertion`]).
    Assertion(&'a str),
    /// `client_secret_basic`.
    Basic(&'a ClientSecret),
    /// `client_secret_post`.
    Post(&'a ClientSecret),
}

/// The `grant_type=client_credentials` request.
pub fn token_request(
    token_endpoint: &str,
    client_id: &str,
    scope: &str,
    credential: &Credential,
) -> HttpRequest {
    let mut pairs = vec![("grant_type", "client_credentials"), ("scope", scope)];
    let mut headers = vec![
        (
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("Accept".to_owned(), "application/json".to_owned()),
    ];
    match credential {
        Credential::Assertion(jwt) => {
            pairs.push(("client_assertion_type", ASSERTION_TYPE));
            pairs.push(("client_assertion", jwt));
        }
        Credential::Basic(secret) => {
            // RFC 6749 §2.3.1: both parts form-encoded before base64.
            let user = form_encode(client_id);
            let password = form_encode(secret.secret());
            headers.push((
                "Authorization".to_owned(),
                format!("Basic {}", STANDARD.encode(format!("{user}:{password}"))),
            ));
        }
        Credential::Post(secret) => {
            pairs.push(("client_id", client_id));
            pairs.push(("client_secret", secret.secret()));
        }
    }
    HttpRequest {
        method: Method::Post,
        url: token_endpoint.to_owned(),
        headers,
        body: Some(form(pairs)),
        max_body: MAX_TOKEN_RESPONSE_BYTES,
    }
}

/// What the token endpoint granted.
#[derive(Debug, Clone)]
pub struct Granted {
    pub access_token: AccessToken,
    /// The scope granted: the server's word, else the scope asked for.
    pub scope: String,
    /// Seconds since the epoch when it expires.
    pub expires_at_s: f64,
}

impl Granted {
    /// Whether the token may still be sent at `now_s`.
    pub fn usable(&self, now_s: f64) -> bool {
        now_s < self.expires_at_s - EXPIRY_MARGIN_S
    }
}

/// The token endpoint's answer to [`token_request`], read by the app's token parser (a Bearer
/// token, a bounded `expires_in`), with refusals in words fit for a service's log.
pub fn parse_token_response(
    resp: &HttpResponse,
    asked_scope: &str,
    now_s: f64,
) -> Result<Granted, String> {
    let granted = parse_refresh_response(resp).map_err(|e| refusal(&e))?;
    Ok(Granted {
        access_token: granted.access_token,
        scope: granted.scope.unwrap_or_else(|| asked_scope.to_owned()),
        expires_at_s: now_s + granted.expires_in_s,
    })
}

fn refusal(error: &TokenError) -> String {
    match error {
        TokenError::Rejected { error, description } => {
            let hint = match error.as_str() {
                "invalid_client" => {
                    " (check client_id, the key or secret, and what the EHR registered)"
                }
                "invalid_scope" => " (ask the EHR to grant this scope, or ask for less)",
                "unauthorized_client" => {
                    " (the EHR has not enabled client credentials for this client)"
                }
                _ => "",
            };
            match description {
                Some(d) => format!("the token endpoint refused: {error}: {d}{hint}"),
                None => format!("the token endpoint refused: {error}{hint}"),
            }
        }
        other => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(req: &HttpRequest) -> Vec<(String, String)> {
        cairn::uri::parse_form(req.body.as_deref().unwrap())
    }

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn an_assertion_request_is_client_credentials_with_jwt_bearer() {
        let req = token_request(
            "https://ehr.example/token",
            "svc",
            "system/Patient.rs",
            &Credential::Assertion("a.b.c"),
        );
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.url, "https://ehr.example/token");
        assert_eq!(
            form(&req),
            [
                ("grant_type".into(), "client_credentials".into()),
                ("scope".into(), "system/Patient.rs".into()),
                ("client_assertion_type".into(), ASSERTION_TYPE.into()),
                ("client_assertion".into(), "a.b.c".into()),
            ]
        );
        assert_eq!(req.header("Authorization"), None);
    }

    #[test]
    fn basic_encodes_both_parts_before_base64() {
        let secret = ClientSecret::new("p@ss:wörd".into());
        let req = token_request("https://t", "svc:1", "s", &Credential::Basic(&secret));
        let basic = req.header("Authorization").unwrap();
        let decoded = STANDARD
            .decode(basic.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "svc%3A1:p%40ss%3Aw%C3%B6rd"
        );
        assert!(!req.body.as_deref().unwrap().contains("p%40ss"));
        assert!(!format!("{req:?}").contains("p@ss"), "Debug redacts");
    }

    #[test]
    fn post_puts_the_secret_in_the_body() {
        let secret = ClientSecret::new("s3cret".into());
        let req = token_request("https://t", "svc", "s", &Credential::Post(&secret));
        let form = form(&req);
        assert!(form.contains(&("client_id".into(), "svc".into())));
        assert!(form.contains(&("client_secret".into(), "s3cret".into())));
    }

    #[test]
    fn a_grant_is_cached_until_shortly_before_it_expires() {
        let granted = parse_token_response(
            &response(
                200,
                r#"{"access_token":"AT","token_type":"bearer","expires_in":300,"scope":"system/Patient.rs"}"#,
            ),
            "asked",
            1000.0,
        )
        .unwrap();
        assert_eq!(granted.scope, "system/Patient.rs");
        assert_eq!(granted.expires_at_s, 1300.0);
        assert!(granted.usable(1000.0));
        assert!(granted.usable(1269.0));
        assert!(!granted.usable(1270.0));
    }

    #[test]
    fn a_missing_scope_is_the_one_asked_for() {
        let granted = parse_token_response(
            &response(200, r#"{"access_token":"AT","token_type":"Bearer"}"#),
            "system/Observation.rs",
            0.0,
        )
        .unwrap();
        assert_eq!(granted.scope, "system/Observation.rs");
        assert_eq!(granted.expires_at_s, 300.0, "fhirclient's default lifetime");
    }

    #[test]
    fn refusals_say_what_the_server_said() {
        let error = parse_token_response(
            &response(
                401,
                r#"{"error":"invalid_client","error_description":"the assertion has expired"}"#,
            ),
            "s",
            0.0,
        )
        .unwrap_err();
        assert_eq!(
            error,
            "the token endpoint refused: invalid_client: the assertion has expired (check \
             client_id, the key or secret, and what the EHR registered)"
        );
        let error = parse_token_response(&response(500, "oops"), "s", 0.0).unwrap_err();
        assert_eq!(error, "the EHR's token service failed (HTTP 500)");
        let error = parse_token_response(
            &response(200, r#"{"access_token":"AT","token_type":"mac"}"#),
            "s",
            0.0,
        )
        .unwrap_err();
        assert_eq!(error, "the EHR issued a token of an unsupported type");
    }
}
