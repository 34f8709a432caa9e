//! The code exchange: token request and a lenient, strict-where-it-matters response parser.

use serde_json::{Map, Value};

use crate::domain::decimal;
use crate::domain::problem::{NextStep, Problem, truncate_for_display};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::smart::authorize::PendingLaunch;
use crate::smart::secret::{AccessToken, AuthCode, IdToken, RefreshToken};

/// Lifetime assumed when the server sends no usable `expires_in` (as fhirclient does).
pub const DEFAULT_EXPIRES_IN_S: f64 = 300.0;
/// Longest lifetime believed.
pub const MAX_EXPIRES_IN_S: f64 = 86_400.0;
/// The largest token answer read (a token, an id_token and a few claims fit many times over).
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 256 * 1024;

/// What the token endpoint granted.
#[derive(Clone)]
pub struct TokenSet {
    pub access_token: AccessToken,
    /// The granted scope (may be less than asked).
    pub scope: String,
    /// Seconds the token is valid for, from receipt, clamped to `[0, MAX_EXPIRES_IN_S]`.
    pub expires_in_s: f64,
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub need_patient_banner: bool,
    pub smart_style_url: Option<String>,
    pub id_token: Option<IdToken>,
    pub refresh_token: Option<RefreshToken>,
    pub fhir_base: String,
    /// SMART `intent` (EHR launch): what the user wanted to do, e.g. `summary`.
    pub intent: Option<String>,
    /// SMART `tenant`: the EHR's tenant id, opaque.
    pub tenant: Option<String>,
    /// References from `fhirContext` (e.g. `Encounter/123`), as sent.
    pub fhir_context: Vec<String>,
}

/// What a refresh grant returned. A missing `refresh_token` means: keep the old one.
pub struct Refreshed {
    pub access_token: AccessToken,
    pub scope: Option<String>,
    pub expires_in_s: f64,
    pub refresh_token: Option<RefreshToken>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("scope", &self.scope)
            .field("expires_in_s", &self.expires_in_s)
            .field("patient", &self.patient)
            .field("encounter", &self.encounter)
            .field("need_patient_banner", &self.need_patient_banner)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("fhir_base", &self.fhir_base)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the EHR refused the sign-in code ({error})")]
    Rejected {
        error: String,
        description: Option<String>,
    },
    #[error("the EHR's token service failed (HTTP {0})")]
    Server(u16),
    #[error("the EHR's token service answered HTTP {0}")]
    Http(u16),
    #[error("the EHR's token answer is not readable")]
    Malformed,
    #[error("the EHR's token answer has no access token")]
    MissingAccessToken,
    #[error("the EHR issued a token of an unsupported type")]
    WrongTokenType,
    #[error("the EHR did not say which patient is open")]
    MissingPatient,
}

impl TokenError {
    pub fn problem(&self) -> Problem {
        let title = match self {
            TokenError::Rejected { .. } => "Your EHR did not accept the sign-in",
            TokenError::MissingPatient => "No patient is open",
            _ => "Cairn could not complete the sign-in",
        };
        let mut detail = format!("{self}.");
        if let TokenError::Rejected {
            description: Some(d),
            ..
        } = self
        {
            detail.push_str(&format!(" The EHR said: “{d}”"));
        }
        // A sign-in code is single-use: every failure here needs a fresh launch.
        Problem::new(title, detail, NextStep::Relaunch)
    }
}

/// The form-encoded code exchange for a public client (no secret).
pub fn token_request(pending: &PendingLaunch, code: &AuthCode) -> HttpRequest {
    let body = crate::uri::form([
        ("grant_type", "authorization_code"),
        ("code", code.secret()),
        ("redirect_uri", &pending.redirect_uri),
        ("client_id", &pending.client_id),
        ("code_verifier", pending.code_verifier.secret()),
    ]);
    HttpRequest {
        method: Method::Post,
        url: pending.token_endpoint.clone(),
        headers: vec![
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("Accept".into(), "application/json".into()),
        ],
        body: Some(body),
        max_body: MAX_TOKEN_RESPONSE_BYTES,
    }
}

pub fn parse_token_response(
    pending: &PendingLaunch,
    resp: &HttpResponse,
) -> Result<TokenSet, TokenError> {
    let json = decode_grant(resp)?;
    let text = |k: &str| text_field(&json, k);
    let patient = text("patient");
    let wants_patient = pending
        .scope
        .split_whitespace()
        .any(|s| s == "launch" || s == "launch/patient");
    if wants_patient && patient.is_none() {
        return Err(TokenError::MissingPatient);
    }
    let fhir_context = json
        .get("fhirContext")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.get("reference").and_then(Value::as_str))
                .filter(|r| !r.is_empty())
                .take(20)
                .map(|r| truncate_for_display(r, 200))
                .collect()
        })
        .unwrap_or_default();
    Ok(TokenSet {
        access_token: AccessToken::new(text("access_token").unwrap_or_default()),
        scope: text("scope").unwrap_or_else(|| pending.scope.clone()),
        expires_in_s: expires_in(json.get("expires_in")),
        patient,
        encounter: text("encounter"),
        // Only an explicit false hides the banner: absent or odd values show it.
        need_patient_banner: !json.get("need_patient_banner").is_some_and(is_false),
        smart_style_url: text("smart_style_url"),
        id_token: text("id_token").map(IdToken::new),
        refresh_token: text("refresh_token").map(RefreshToken::new),
        fhir_base: pending.fhir_base.clone(),
        intent: text("intent").map(|i| truncate_for_display(&i, 100)),
        tenant: text("tenant").map(|t| truncate_for_display(&t, 100)),
        fhir_context,
    })
}

/// The refresh grant (RFC 6749 §6) for a public client: no secret, the client id only.
pub fn refresh_request(
    token_endpoint: &str,
    client_id: &str,
    refresh_token: &RefreshToken,
) -> HttpRequest {
    let body = crate::uri::form([
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.secret()),
        ("client_id", client_id),
    ]);
    HttpRequest {
        method: Method::Post,
        url: token_endpoint.to_owned(),
        headers: vec![
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("Accept".into(), "application/json".into()),
        ],
        body: Some(body),
        max_body: MAX_TOKEN_RESPONSE_BYTES,
    }
}

/// The answer to a refresh grant, held to the same rules as the code exchange's.
pub fn parse_refresh_response(resp: &HttpResponse) -> Result<Refreshed, TokenError> {
    let json = decode_grant(resp)?;
    Ok(Refreshed {
        access_token: AccessToken::new(text_field(&json, "access_token").unwrap_or_default()),
        scope: text_field(&json, "scope"),
        expires_in_s: expires_in(json.get("expires_in")),
        refresh_token: text_field(&json, "refresh_token").map(RefreshToken::new),
    })
}

/// A successful token-endpoint answer as a JSON object with a non-empty `access_token` of
/// type Bearer (any case, as Epic sends `bearer`); every failure as a [`TokenError`].
fn decode_grant(resp: &HttpResponse) -> Result<Map<String, Value>, TokenError> {
    if resp.body.len() > MAX_TOKEN_RESPONSE_BYTES {
        return Err(TokenError::Malformed);
    }
    let json: Option<Map<String, Value>> = serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        });
    if !resp.is_success() {
        let oauth_error = json
            .as_ref()
            .and_then(|m| m.get("error"))
            .and_then(Value::as_str);
        // RFC 6749 says 400 (401 for client authentication), but servers answer
        // `invalid_grant` with other statuses too (403 seen): the body decides.
        return Err(match (resp.status, oauth_error) {
            (400 | 401, Some(error)) | (_, Some(error @ "invalid_grant")) => TokenError::Rejected {
                error: truncate_for_display(error, 60),
                description: json
                    .as_ref()
                    .and_then(|m| m.get("error_description"))
                    .and_then(Value::as_str)
                    .map(|d| truncate_for_display(d, 200)),
            },
            (status, _) if status >= 500 => TokenError::Server(status),
            (status, _) => TokenError::Http(status),
        });
    }
    let Some(json) = json else {
        return Err(TokenError::Malformed);
    };
    if text_field(&json, "access_token").is_none() {
        return Err(TokenError::MissingAccessToken);
    }
    if !text_field(&json, "token_type").is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
        return Err(TokenError::WrongTokenType);
    }
    Ok(json)
}

fn text_field(json: &Map<String, Value>, key: &str) -> Option<String> {
    json.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn expires_in(value: Option<&Value>) -> f64 {
    let seconds = match value {
        Some(n @ Value::Number(_)) => decimal::json_number(n),
        Some(Value::String(s)) => decimal::parse(s.trim()),
        _ => None,
    };
    match seconds {
        Some(s) if s.is_finite() => s.clamp(0.0, MAX_EXPIRES_IN_S),
        _ => DEFAULT_EXPIRES_IN_S,
    }
}

fn is_false(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::String(s) => s.eq_ignore_ascii_case("false"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smart::secret::CodeVerifier;

    fn pending(scope: &str) -> PendingLaunch {
        PendingLaunch {
            state: "S".into(),
            code_verifier: CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()),
            fhir_base: "https://ehr.example/fhir".into(),
            token_endpoint: "https://ehr.example/oauth2/token".into(),
            kind: crate::smart::scope::LaunchKind::Ehr,
            jwks_uri: None,
            issuer: None,
            require_iss: false,
            client_id: "cairn app".into(),
            redirect_uri: "https://app.example/cb?x=1".into(),
            scope: scope.into(),
            created_at_ms: 0.0,
        }
    }

    fn ok(body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn token_request_snapshot() {
        let req = token_request(&pending("launch"), &AuthCode::new("a+b/c=".into()));
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.url, "https://ehr.example/oauth2/token");
        assert_eq!(
            req.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            req.body.as_deref(),
            Some(
                "grant_type=authorization_code&code=a%2Bb%2Fc%3D\
                 &redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1&client_id=cairn+app\
                 &code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
            )
        );
        assert!(
            req.header("authorization").is_none(),
            "a public client sends no secret"
        );
    }

    #[test]
    fn epic_shaped_response() {
        let body = r#"{"access_token":"AT-1","token_type":"bearer","expires_in":3240,
            "scope":"launch patient/Patient.read","state":"S","patient":"eXYZ",
            "__epic.dstu2.patient":"T1","need_patient_banner":"false","location":"L",
            "loginDepartment":"D","appointment":"A","encounter":"E1","smart_style_url":"https://s"}"#;
        let t = parse_token_response(&pending("launch"), &ok(body)).unwrap();
        assert_eq!(t.access_token.secret(), "AT-1");
        assert_eq!(t.scope, "launch patient/Patient.read");
        assert_eq!(t.expires_in_s, 3240.0);
        assert_eq!(t.patient.as_deref(), Some("eXYZ"));
        assert_eq!(t.encounter.as_deref(), Some("E1"));
        assert!(!t.need_patient_banner);
        assert_eq!(t.fhir_base, "https://ehr.example/fhir");
        assert!(!format!("{t:?}").contains("AT-1"));
    }

    #[test]
    fn banner_is_hidden_only_by_an_explicit_false() {
        for (value, shown) in [
            ("true", true),
            ("false", false),
            (r#""false""#, false),
            (r#""FALSE""#, false),
            (r#""true""#, true),
            ("0", true),
            ("null", true),
            (r#""no""#, true),
        ] {
            let body = format!(
                r#"{{"access_token":"A","token_type":"Bearer","patient":"p","need_patient_banner":{value}}}"#
            );
            let t = parse_token_response(&pending("launch"), &ok(&body)).unwrap();
            assert_eq!(t.need_patient_banner, shown, "need_patient_banner {value}");
        }
        let t = parse_token_response(
            &pending("launch"),
            &ok(r#"{"access_token":"A","token_type":"Bearer","patient":"p"}"#),
        )
        .unwrap();
        assert!(t.need_patient_banner, "absent means show");
    }

    #[test]
    fn expires_in_is_clamped() {
        for (value, seconds) in [
            ("3600", 3600.0),
            (r#""1800""#, 1800.0),
            ("0", 0.0),
            ("-5", 0.0),
            ("1e12", MAX_EXPIRES_IN_S),
            (r#""soon""#, DEFAULT_EXPIRES_IN_S),
            ("null", DEFAULT_EXPIRES_IN_S),
        ] {
            let body = format!(
                r#"{{"access_token":"A","token_type":"Bearer","patient":"p","expires_in":{value}}}"#
            );
            let t = parse_token_response(&pending("launch"), &ok(&body)).unwrap();
            assert_eq!(t.expires_in_s, seconds, "expires_in {value}");
        }
    }

    #[test]
    fn refusals() {
        let p = pending("launch openid");
        let cases: Vec<(HttpResponse, TokenError)> = vec![
            (
                HttpResponse {
                    status: 400,
                    ..ok(r#"{"error":"invalid_grant","error_description":"used"}"#)
                },
                TokenError::Rejected {
                    error: "invalid_grant".into(),
                    description: Some("used".into()),
                },
            ),
            (
                HttpResponse {
                    status: 400,
                    ..ok("<html>")
                },
                TokenError::Http(400),
            ),
            (
                HttpResponse {
                    status: 500,
                    ..ok("{}")
                },
                TokenError::Server(500),
            ),
            (
                HttpResponse {
                    status: 503,
                    ..ok("")
                },
                TokenError::Server(503),
            ),
            (ok("<html>oops</html>"), TokenError::Malformed),
            (ok(r#"["access_token"]"#), TokenError::Malformed),
            (
                ok(r#"{"token_type":"Bearer","patient":"p"}"#),
                TokenError::MissingAccessToken,
            ),
            (
                ok(r#"{"access_token":"","token_type":"Bearer","patient":"p"}"#),
                TokenError::MissingAccessToken,
            ),
            (
                ok(r#"{"access_token":"A","token_type":"mac","patient":"p"}"#),
                TokenError::WrongTokenType,
            ),
            (
                ok(r#"{"access_token":"A","token_type":"DPoP","patient":"p"}"#),
                TokenError::WrongTokenType,
            ),
            (
                ok(r#"{"access_token":"A","patient":"p"}"#),
                TokenError::WrongTokenType,
            ),
            (
                ok(r#"{"access_token":"A","token_type":"Bearer"}"#),
                TokenError::MissingPatient,
            ),
            (
                ok(r#"{"access_token":"A","token_type":"Bearer","patient":""}"#),
                TokenError::MissingPatient,
            ),
        ];
        for (resp, expected) in cases {
            assert_eq!(parse_token_response(&p, &resp).map(|_| ()), Err(expected));
        }
    }

    #[test]
    fn no_patient_needed_without_a_launch_scope() {
        let t = parse_token_response(
            &pending("openid fhirUser"),
            &ok(r#"{"access_token":"A","token_type":"Bearer"}"#),
        )
        .unwrap();
        assert_eq!(t.patient, None);
        assert_eq!(t.scope, "openid fhirUser");
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = crate::testing::SplitMix(3);
        let seed = br#"{"access_token":"A","token_type":"Bearer","patient":"p","expires_in":1}"#;
        for _ in 0..5000 {
            let resp = HttpResponse {
                status: 200,
                content_type: None,
                body: rng.mutate(seed),
            };
            let _ = parse_token_response(&pending("launch"), &resp);
        }
    }
}
