//! The authorization request and the launch Cairn remembers across the redirect.

use serde::{Deserialize, Serialize};

use crate::smart::config::{Config, FhirServer};
use crate::smart::discovery::SmartConfiguration;
use crate::smart::pkce::{code_challenge_s256, code_verifier, new_state};
use crate::smart::secret::CodeVerifier;

/// What Cairn keeps in sessionStorage, keyed by `state`, between the authorize redirect and the
/// callback. Deleted when the callback reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLaunch {
    pub state: String,
    pub code_verifier: CodeVerifier,
    pub fhir_base: String,
    pub token_endpoint: String,
    /// The authorization server's issuer from discovery, for RFC 9207 checks.
    pub issuer: Option<String>,
    /// The server promised an `iss` on every callback.
    pub require_iss: bool,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    /// Wall-clock milliseconds since the epoch when the launch began.
    pub created_at_ms: f64,
}

/// Where to send the browser, and what to remember until it comes back.
#[derive(Debug, Clone)]
pub struct AuthorizeRedirect {
    pub url: String,
    pub pending: PendingLaunch,
}

/// The authorize redirect for an EHR launch. `random` supplies the state (first 32 bytes) and
/// the PKCE verifier (last 32 bytes).
pub fn authorize_ehr_launch(
    config: &Config,
    server: &FhirServer,
    smart: &SmartConfiguration,
    launch: &str,
    random: &[u8; 64],
    now_ms: f64,
) -> AuthorizeRedirect {
    let (state_bytes, verifier_bytes) = split(random);
    let state = new_state(&state_bytes);
    let verifier = code_verifier(&verifier_bytes);
    let scope = with_launch_scope(&config.scope);
    let mut url = smart.authorization_endpoint.clone();
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &config.client_id)
            .append_pair("redirect_uri", &config.redirect_uri)
            .append_pair("scope", &scope)
            .append_pair("state", &state)
            .append_pair("aud", &server.fhir_base)
            .append_pair("launch", launch)
            .append_pair("code_challenge", &code_challenge_s256(&verifier))
            .append_pair("code_challenge_method", "S256")
            .finish(),
    );
    AuthorizeRedirect {
        url,
        pending: PendingLaunch {
            state,
            code_verifier: verifier,
            fhir_base: server.fhir_base.clone(),
            token_endpoint: smart.token_endpoint.clone(),
            issuer: smart.issuer.clone(),
            require_iss: smart.iss_parameter_supported,
            client_id: config.client_id.clone(),
            redirect_uri: config.redirect_uri.clone(),
            scope,
            created_at_ms: now_ms,
        },
    }
}

/// An EHR launch needs the `launch` scope, whatever the configuration lists.
fn with_launch_scope(scope: &str) -> String {
    if scope.split_whitespace().any(|s| s == "launch") {
        scope.to_owned()
    } else {
        format!("launch {scope}")
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
            r#"{{"client_id":"cairn","redirect_uri":"https://app.example/cairn/","scope":"{scope}",
            "fhir_servers":[{{"name":"E","fhir_base":"https://ehr.example/fhir"}}]}}"#
        );
        let smart = SmartConfiguration {
            authorization_endpoint: "https://ehr.example/oauth2/authorize?tenant=1".into(),
            token_endpoint: "https://ehr.example/oauth2/token".into(),
            issuer: Some("https://ehr.example/oauth2".into()),
            jwks_uri: None,
            capabilities: vec![],
            iss_parameter_supported: true,
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
        let r = authorize_ehr_launch(&config, &config.servers[0], &smart, "L+1/=", &random, 5.0);
        assert_eq!(
            r.url,
            "https://ehr.example/oauth2/authorize?tenant=1&response_type=code&client_id=cairn\
             &redirect_uri=https%3A%2F%2Fapp.example%2Fcairn%2F&scope=launch+patient%2FPatient.rs\
             &state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&aud=https%3A%2F%2Fehr.example%2Ffhir\
             &launch=L%2B1%2F%3D&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256"
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
    fn launch_scope_is_added_for_an_ehr_launch() {
        let (config, smart) = fixture("openid patient/Patient.rs");
        let r = authorize_ehr_launch(&config, &config.servers[0], &smart, "x", &[1; 64], 0.0);
        assert_eq!(r.pending.scope, "launch openid patient/Patient.rs");
        assert!(r.url.contains("scope=launch+openid+patient%2FPatient.rs"));
    }

    #[test]
    fn the_verifier_never_appears_in_the_url() {
        let (config, smart) = fixture("launch");
        let mut random = [9u8; 64];
        random[32..].fill(7);
        let r = authorize_ehr_launch(&config, &config.servers[0], &smart, "x", &random, 0.0);
        assert!(!r.url.contains(r.pending.code_verifier.secret()));
        assert!(r.url.contains("code_challenge_method=S256"));
    }
}
