//! The authorization request and the launch Cairn remembers across the redirect.

use serde::{Deserialize, Serialize};

use crate::smart::config::{Config, FhirServer};
use crate::smart::discovery::SmartConfiguration;
use crate::smart::pkce::{code_challenge_s256, code_verifier, new_state};
use crate::smart::scope::{LaunchKind, ScopeSyntax, requested_scope};
use crate::smart::secret::CodeVerifier;

/// What Cairn keeps in sessionStorage, keyed by `state`, between the authorize redirect and the
/// callback. Deleted when the callback reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLaunch {
    pub state: String,
    pub code_verifier: CodeVerifier,
    pub kind: LaunchKind,
    pub fhir_base: String,
    pub token_endpoint: String,
    /// The authorization server's issuer Cairn trusts for this server (discovery's, checked by
    /// `discovery::trust_issuer`, or the configuration's pin), for RFC 9207 and id_token checks.
    /// `None`: any `iss` at the callback is refused.
    pub issuer: Option<String>,
    /// The server promised an `iss` on every callback.
    pub require_iss: bool,
    /// Where the id_token's signing keys are (discovery's `jwks_uri`, origin already checked).
    pub jwks_uri: Option<String>,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    /// Wall-clock milliseconds since the epoch when the launch began. Stored as a whole
    /// number (`Date.now()` is one), so the launch page needs no float formatting or parsing.
    #[serde(with = "whole_ms")]
    pub created_at_ms: f64,
}

mod whole_ms {
    pub fn serialize<S: serde::Serializer>(ms: &f64, s: S) -> Result<S::Ok, S::Error> {
        // Saturates: a negative or NaN time is stored as 0, which is stale.
        s.serialize_u64(*ms as u64)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(|ms| ms as f64)
    }
}

impl PendingLaunch {
    /// True once the launch is older than the callback would accept (or dated in the future):
    /// such entries are swept from sessionStorage at start-up.
    pub fn is_stale(&self, now_ms: f64) -> bool {
        let age = now_ms - self.created_at_ms;
        !(-crate::smart::callback::FUTURE_SKEW_MS..=crate::smart::callback::PENDING_TTL_MS)
            .contains(&age)
    }
}

/// How to send the browser to the authorization endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorize {
    /// Navigate to this URL.
    Get(String),
    /// Submit a form (`authorize-post`): the GET URL would be too long for some browsers and
    /// proxies (Epic's launch tokens are long JWTs).
    Post {
        action: String,
        fields: Vec<(String, String)>,
    },
}

/// Where to send the browser, and what to remember until it comes back.
#[derive(Debug, Clone)]
pub struct AuthorizeRedirect {
    pub via: Authorize,
    pub pending: PendingLaunch,
}

/// URLs longer than this go by POST when the server supports it.
pub const MAX_GET_URL_CHARS: usize = 2_000;

/// The authorize request. `launch` is the EHR's launch token (EHR launch only). `random`
/// supplies the state (first 32 bytes) and the PKCE verifier (last 32 bytes).
pub fn authorize(
    config: &Config,
    server: &FhirServer,
    smart: &SmartConfiguration,
    kind: LaunchKind,
    launch: Option<&str>,
    random: &[u8; 64],
    now_ms: f64,
) -> AuthorizeRedirect {
    let (state_bytes, verifier_bytes) = split(random);
    let state = new_state(&state_bytes);
    let verifier = code_verifier(&verifier_bytes);
    // A server's own `scope` is what its deployer wrote for it: sent as written. Otherwise the
    // shared scope, in the syntax the server's discovery document says it reads.
    let scope = match &server.scope {
        Some(own) => requested_scope(own, kind, ScopeSyntax::AsWritten),
        None => requested_scope(&config.scope, kind, smart.scope_syntax()),
    };
    let challenge = code_challenge_s256(&verifier);
    let mut fields: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &server.client_id),
        ("redirect_uri", &server.redirect_uri),
        ("scope", &scope),
        ("state", &state),
        ("aud", &server.fhir_base),
    ];
    if let (LaunchKind::Ehr, Some(launch)) = (kind, launch) {
        fields.push(("launch", launch));
    }
    fields.push(("code_challenge", &challenge));
    fields.push(("code_challenge_method", "S256"));
    let mut url = smart.authorization_endpoint.clone();
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&crate::uri::form(fields.iter().copied()));
    let via = if url.len() > MAX_GET_URL_CHARS && smart.supports("authorize-post") {
        Authorize::Post {
            action: smart.authorization_endpoint.clone(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    } else {
        Authorize::Get(url)
    };
    AuthorizeRedirect {
        via,
        pending: PendingLaunch {
            state,
            code_verifier: verifier,
            kind,
            fhir_base: server.fhir_base.clone(),
            token_endpoint: smart.token_endpoint.clone(),
            issuer: smart.issuer.clone(),
            require_iss: smart.iss_parameter_supported,
            jwks_uri: smart.jwks_uri.clone(),
            client_id: server.client_id.clone(),
            redirect_uri: server.redirect_uri.clone(),
            scope,
            created_at_ms: now_ms,
        },
    }
}

fn split(random: &[u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    a.copy_from_slice(&random[..32]);
    b.copy_from_slice(&random[32..]);
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smart::config::parse_config;

    fn fixture(scope: &str) -> (Config, SmartConfiguration) {
        let json = format!(
            r#"{{"redirect_uri":"https://app.example/cairn/","scope":"{scope}",
            "fhir_servers":[{{"name":"E","client_id":"cairn","fhir_base":"https://ehr.example/fhir"}}]}}"#
        );
        let smart = SmartConfiguration {
            authorization_endpoint: "https://ehr.example/oauth2/authorize?tenant=1".into(),
            token_endpoint: "https://ehr.example/oauth2/token".into(),
            issuer: Some("https://ehr.example/oauth2".into()),
            jwks_uri: None,
            capabilities: vec!["permission-v2".into()],
            iss_parameter_supported: true,
            brand_bundle: None,
        };
        (parse_config(json.as_bytes()).unwrap(), smart)
    }

    #[test]
    fn authorize_url_snapshot() {
        let (config, smart) = fixture("launch patient/Patient.rs");
        let mut random = [0u8; 64];
        random[32..].copy_from_slice(&[
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ]);
        let r = ehr(&config, &smart, "L+1/=", &random, 5.0);
        assert_eq!(
            r.via,
            Authorize::Get(
            "https://ehr.example/oauth2/authorize?tenant=1&response_type=code&client_id=cairn\
             &redirect_uri=https%3A%2F%2Fapp.example%2Fcairn%2F&scope=launch+patient%2FPatient.rs\
             &state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&aud=https%3A%2F%2Fehr.example%2Ffhir\
             &launch=L%2B1%2F%3D&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256"
                .into()
            )
        );
        assert_eq!(
            r.pending.state,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        );
        assert_eq!(
            r.pending.code_verifier.secret(),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        assert_eq!(r.pending.redirect_uri, "https://app.example/cairn/");
        assert!(r.pending.require_iss);
        assert_eq!(r.pending.created_at_ms, 5.0);
    }

    #[test]
    fn a_pending_launch_is_stored_with_whole_milliseconds() {
        let (config, smart) = fixture("launch patient/Patient.rs");
        let r = ehr(&config, &smart, "L", &[0; 64], 1_700_000_000_123.0);
        let json = serde_json::to_string(&r.pending).unwrap();
        assert!(json.contains("\"created_at_ms\":1700000000123"), "{json}");
        assert!(!json.contains("1700000000123."), "{json}");
        let back: PendingLaunch = serde_json::from_str(&json).unwrap();
        assert_eq!(back.created_at_ms, 1_700_000_000_123.0);
        assert_eq!(back.state, r.pending.state);
        // A stored time that is not a whole number of milliseconds is not a launch of ours.
        let odd = json.replace("1700000000123", "1700000000123.5");
        assert!(serde_json::from_str::<PendingLaunch>(&odd).is_err());
    }

    fn ehr(
        config: &Config,
        smart: &SmartConfiguration,
        launch: &str,
        random: &[u8; 64],
        now_ms: f64,
    ) -> AuthorizeRedirect {
        let server = &config.servers[0];
        authorize(
            config,
            server,
            smart,
            LaunchKind::Ehr,
            Some(launch),
            random,
            now_ms,
        )
    }

    fn url(r: &AuthorizeRedirect) -> &str {
        match &r.via {
            Authorize::Get(url) => url,
            Authorize::Post { .. } => panic!("expected GET"),
        }
    }

    #[test]
    fn launch_scope_is_added_for_an_ehr_launch() {
        let (config, smart) = fixture("openid patient/Patient.rs");
        let r = ehr(&config, &smart, "x", &[1; 64], 0.0);
        assert_eq!(r.pending.scope, "launch openid patient/Patient.rs");
        assert!(url(&r).contains("scope=launch+openid+patient%2FPatient.rs"));
        assert_eq!(r.pending.kind, LaunchKind::Ehr);
    }

    #[test]
    fn standalone_launches_ask_for_their_own_context_and_send_no_launch() {
        let (config, smart) = fixture("launch openid patient/Patient.rs");
        let server = &config.servers[0];
        let kind = LaunchKind::StandalonePatient;
        let r = authorize(
            &config,
            server,
            &smart,
            kind,
            Some("ignored"),
            &[1; 64],
            0.0,
        );
        assert!(url(&r).contains("scope=launch%2Fpatient+openid+patient%2FPatient.rs"));
        assert!(!url(&r).contains("launch="), "{}", url(&r));
        assert!(url(&r).contains("aud=https%3A%2F%2Fehr.example%2Ffhir"));
        let kind = LaunchKind::StandaloneProvider;
        let r = authorize(&config, server, &smart, kind, None, &[1; 64], 0.0);
        assert_eq!(r.pending.scope, "openid user/Patient.rs");
        assert_eq!(r.pending.kind, LaunchKind::StandaloneProvider);
    }

    #[test]
    fn each_server_is_asked_with_its_own_client_id() {
        let json = br#"{"redirect_uri":"https://app.example/cairn/","fhir_servers":[
            {"name":"Sandbox","client_id":"non-prod","fhir_base":"https://sandbox.example/fhir"},
            {"name":"Production","client_id":"prod","fhir_base":"https://ehr.example/fhir"}]}"#;
        let config = parse_config(json).unwrap();
        let (_, smart) = fixture("launch");
        for (server, id) in config.servers.iter().zip(["non-prod", "prod"]) {
            let kind = LaunchKind::Ehr;
            let r = authorize(&config, server, &smart, kind, Some("L"), &[1; 64], 0.0);
            assert!(
                url(&r).contains(&format!("&client_id={id}&")),
                "{}",
                url(&r)
            );
            // The token request and the id_token check use the same id.
            assert_eq!(r.pending.client_id, id);
        }
    }

    #[test]
    fn the_scope_is_asked_in_the_form_the_server_reads() {
        let (config, mut smart) =
            fixture("launch openid patient/Patient.rs patient/Observation.rs");
        let r = ehr(&config, &smart, "x", &[1; 64], 0.0);
        assert_eq!(
            r.pending.scope,
            "launch openid patient/Patient.rs patient/Observation.rs"
        );
        // No `permission-v2` in discovery: v1, in the request and in what is remembered.
        smart.capabilities.clear();
        let r = ehr(&config, &smart, "x", &[1; 64], 0.0);
        assert_eq!(
            r.pending.scope,
            "launch openid patient/Patient.read patient/Observation.read"
        );
        assert!(
            url(&r)
                .contains("scope=launch+openid+patient%2FPatient.read+patient%2FObservation.read&"),
            "{}",
            url(&r)
        );
    }

    #[test]
    fn a_server_with_its_own_scope_is_asked_for_it_as_written() {
        let json = br#"{"redirect_uri":"https://app.example/cairn/","scope":"launch patient/Patient.rs","fhir_servers":[
            {"name":"A","client_id":"a","fhir_base":"https://a.example/fhir","scope":"launch patient/Patient.rs patient/Encounter.read"},
            {"name":"B","client_id":"b","fhir_base":"https://b.example/fhir"}]}"#;
        let config = parse_config(json).unwrap();
        let (_, mut smart) = fixture("launch");
        for capabilities in [vec![], vec!["permission-v2".to_owned()]] {
            smart.capabilities = capabilities;
            let ask = |server: usize, kind| {
                let server = &config.servers[server];
                authorize(&config, server, &smart, kind, Some("L"), &[1; 64], 0.0)
                    .pending
                    .scope
            };
            assert_eq!(
                ask(0, LaunchKind::Ehr),
                "launch patient/Patient.rs patient/Encounter.read"
            );
            assert_eq!(
                ask(0, LaunchKind::StandaloneProvider),
                "user/Patient.rs user/Encounter.read"
            );
            let shared = if smart.capabilities.is_empty() {
                "launch patient/Patient.read"
            } else {
                "launch patient/Patient.rs"
            };
            assert_eq!(ask(1, LaunchKind::Ehr), shared);
        }
    }

    #[test]
    fn pending_launches_go_stale_after_fifteen_minutes() {
        let (config, smart) = fixture("launch");
        let r = ehr(&config, &smart, "x", &[1; 64], 1_000_000.0);
        let minute = 60_000.0;
        assert!(!r.pending.is_stale(1_000_000.0));
        assert!(!r.pending.is_stale(1_000_000.0 + 15.0 * minute));
        assert!(r.pending.is_stale(1_000_000.0 + 15.0 * minute + 1.0));
        // Dated in the future beyond the tolerated clock step: stale too.
        assert!(!r.pending.is_stale(1_000_000.0 - minute));
        assert!(r.pending.is_stale(1_000_000.0 - minute - 1.0));
    }

    #[test]
    fn long_requests_are_posted_when_the_server_allows_it() {
        let (config, mut smart) = fixture("launch patient/Patient.rs");
        let jwt = "eyJ".to_owned() + &"x".repeat(2_100);
        // Without authorize-post: GET, however long (there is no other way).
        let r = ehr(&config, &smart, &jwt, &[1; 64], 0.0);
        assert!(url(&r).len() > MAX_GET_URL_CHARS);
        smart.capabilities.push("authorize-post".into());
        let r = ehr(&config, &smart, &jwt, &[1; 64], 0.0);
        let Authorize::Post { action, fields } = &r.via else {
            panic!("expected POST")
        };
        assert_eq!(action, "https://ehr.example/oauth2/authorize?tenant=1");
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(field("launch"), Some(jwt.as_str()));
        assert_eq!(field("code_challenge_method"), Some("S256"));
        assert_eq!(field("state"), Some(r.pending.state.as_str()));
        assert_eq!(field("aud"), Some("https://ehr.example/fhir"));
        assert!(field("code_verifier").is_none());
        // Short requests stay GET even when POST is supported.
        let r = ehr(&config, &smart, "short", &[1; 64], 0.0);
        assert!(url(&r).starts_with("https://ehr.example/oauth2/authorize?tenant=1&"));
    }

    #[test]
    fn the_verifier_never_appears_in_the_url() {
        let (config, smart) = fixture("launch");
        let mut random = [9u8; 64];
        random[32..].fill(7);
        let r = ehr(&config, &smart, "x", &random, 0.0);
        assert!(!url(&r).contains(r.pending.code_verifier.secret()));
        assert!(url(&r).contains("code_challenge_method=S256"));
    }
}
