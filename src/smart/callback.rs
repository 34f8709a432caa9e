//! Checking the authorization callback against the launch Cairn remembered.

use crate::domain::problem::{NextStep, Problem, truncate_for_display};
use crate::smart::authorize::PendingLaunch;
use crate::smart::config::Config;
use crate::smart::launch::CallbackParams;
use crate::smart::secret::AuthCode;
use crate::smart::urls;
use crate::uri::{Uri, parse_form};

/// A pending launch older than this is refused (15 minutes).
pub const PENDING_TTL_MS: f64 = 15.0 * 60.0 * 1000.0;
/// Tolerated clock step backwards between launch and callback.
pub const FUTURE_SKEW_MS: f64 = 60.0 * 1000.0;

/// RFC 6749 §4.1.2.1 error codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthErrorCode {
    AccessDenied,
    InvalidRequest,
    UnauthorizedClient,
    UnsupportedResponseType,
    InvalidScope,
    ServerError,
    TemporarilyUnavailable,
    Other(String),
}

impl AuthErrorCode {
    fn parse(code: &str) -> AuthErrorCode {
        match code {
            "access_denied" => AuthErrorCode::AccessDenied,
            "invalid_request" => AuthErrorCode::InvalidRequest,
            "unauthorized_client" => AuthErrorCode::UnauthorizedClient,
            "unsupported_response_type" => AuthErrorCode::UnsupportedResponseType,
            "invalid_scope" => AuthErrorCode::InvalidScope,
            "server_error" => AuthErrorCode::ServerError,
            "temporarily_unavailable" => AuthErrorCode::TemporarilyUnavailable,
            other => AuthErrorCode::Other(truncate_for_display(other, 60)),
        }
    }
}

/// What the EHR's administrator must do when the authorization server refuses Cairn's scopes:
/// Epic grants only the APIs registered on the app, and refuses a request for another.
pub const INVALID_SCOPE_HELP: &str = "For your EHR's administrator: Cairn reads and searches \
     patients, encounters and observations. On Epic, the app's registration must list the Read \
     and Search APIs of Patient, of Encounter and of each Observation category Cairn shows \
     (Vital Signs, Labs, and the other categories for the table of all results), and \
     Practitioner.Read if the signed-in clinician's name should be read. On other EHRs, the \
     scope Cairn asks for can be set per server in its settings (`fhir_servers[].scope`).";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("the sign-in answer has no state")]
    MissingState,
    #[error("the sign-in answer does not belong to a sign-in started here, or was already used")]
    UnknownState,
    #[error("the sign-in took longer than 15 minutes")]
    Expired,
    #[error("the sign-in answer came from a different sign-in server than expected")]
    IssuerMismatch,
    #[error("the sign-in answer carries both a code and an error")]
    Ambiguous,
    #[error("the sign-in was refused ({error:?})")]
    Denied {
        error: AuthErrorCode,
        description: Option<String>,
    },
    #[error("the sign-in answer has no authorization code")]
    MissingCode,
    #[error(
        "the sign-in answer came back to another address than the one this sign-in was started \
         with, so it may be meant for another EHR"
    )]
    WrongRedirect,
    #[error("the sign-in started here no longer matches Cairn's settings")]
    NotConfigured,
}

impl CallbackError {
    pub fn problem(&self) -> Problem {
        match self {
            CallbackError::Denied { error, description } => {
                let (title, next) = match error {
                    AuthErrorCode::AccessDenied => ("Access was not granted", NextStep::Relaunch),
                    AuthErrorCode::TemporarilyUnavailable | AuthErrorCode::ServerError => (
                        "Your EHR's sign-in service had a problem",
                        NextStep::Relaunch,
                    ),
                    AuthErrorCode::InvalidScope => (
                        "Your EHR did not accept the permissions Cairn asks for",
                        NextStep::ContactSupport,
                    ),
                    _ => ("Your EHR refused the sign-in", NextStep::ContactSupport),
                };
                let mut detail = match description {
                    Some(d) => format!("The EHR said: “{d}”"),
                    None => "The EHR gave no reason.".to_owned(),
                };
                if *error == AuthErrorCode::InvalidScope {
                    // The EHR's words end in a closing quote: end that sentence before the help.
                    if description.is_some() {
                        detail.push('.');
                    }
                    detail.push(' ');
                    detail.push_str(INVALID_SCOPE_HELP);
                }
                Problem::new(title, detail, next)
            }
            CallbackError::Expired => Problem::new(
                "The sign-in expired",
                "More than 15 minutes passed between opening Cairn and signing in.",
                NextStep::Relaunch,
            ),
            _ => Problem::new(
                "This sign-in cannot be used",
                format!("Cairn stopped because {self}. Nothing was sent to your EHR."),
                NextStep::Relaunch,
            ),
        }
    }
}

/// Validates a callback. The caller has already removed the pending launch stored under
/// `params.state` (so a state is good once) and passes what it found.
pub fn validate_callback(
    params: &CallbackParams,
    pending: Option<PendingLaunch>,
    now_ms: f64,
) -> Result<(PendingLaunch, AuthCode), CallbackError> {
    let Some(state) = params.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(CallbackError::MissingState);
    };
    let Some(pending) = pending.filter(|p| p.state == state) else {
        return Err(CallbackError::UnknownState);
    };
    let age = now_ms - pending.created_at_ms;
    if !(-FUTURE_SKEW_MS..=PENDING_TTL_MS).contains(&age) {
        return Err(CallbackError::Expired);
    }
    match (&params.iss, &pending.issuer) {
        (Some(got), Some(expected)) if got != expected => {
            return Err(CallbackError::IssuerMismatch);
        }
        (None, _) if pending.require_iss => return Err(CallbackError::IssuerMismatch),
        // An issuer Cairn has no trusted value for: the answer may be another server's (mix-up).
        (Some(_), None) => return Err(CallbackError::IssuerMismatch),
        _ => {}
    }
    if let Some(error) = &params.error {
        if params.code.is_some() {
            return Err(CallbackError::Ambiguous);
        }
        return Err(CallbackError::Denied {
            error: AuthErrorCode::parse(error),
            description: params
                .error_description
                .as_deref()
                .map(|d| truncate_for_display(d, 200)),
        });
    }
    match params.code.as_deref().filter(|c| !c.is_empty()) {
        Some(code) => Ok((pending, AuthCode::new(code.to_owned()))),
        None => Err(CallbackError::MissingCode),
    }
}

/// Checks a validated launch before its code is spent, against what cannot be stored: the
/// address the answer came back to (`page_url`, as the page was opened) must be the launch's
/// redirect URI, so an answer meant for another server's redirect URI is refused (mix-up,
/// RFC 9700 §4.4.2); and the launch read from sessionStorage, which any script of Cairn's
/// origin can write, must still describe a configured server: its FHIR base, its client id and
/// redirect URI, a token endpoint and key set on its `auth_origins`, and the issuer Cairn
/// trusts for it. Nothing is sent to the token endpoint unless this passes.
pub fn check_pending(
    config: &Config,
    pending: &PendingLaunch,
    page_url: &str,
) -> Result<(), CallbackError> {
    if !came_back_to(page_url, &pending.redirect_uri) {
        return Err(CallbackError::WrongRedirect);
    }
    let server = config
        .server_for_iss(&pending.fhir_base)
        .map_err(|_| CallbackError::NotConfigured)?;
    let pinned = |url: &str| {
        urls::acceptable(url).is_some_and(|u| server.auth_origins.iter().any(|o| o == u.origin()))
    };
    let issuer = config.trusted_issuer(server, pending.issuer.as_deref());
    let configured = server.fhir_base == pending.fhir_base
        && server.client_id == pending.client_id
        && server.redirect_uri == pending.redirect_uri
        && pinned(&pending.token_endpoint)
        && pending.jwks_uri.as_deref().is_none_or(pinned)
        && issuer.is_ok_and(|trusted| trusted == pending.issuer);
    if configured {
        Ok(())
    } else {
        Err(CallbackError::NotConfigured)
    }
}

/// True when `page_url` is `redirect_uri` with the callback's parameters added: the same
/// origin and path, and every query parameter of `redirect_uri` present. The page's query is
/// the EHR's answer as the browser left it, so it is read as a form ([`parse_form`]); only
/// the address before it must be a URL Cairn accepts.
fn came_back_to(page_url: &str, redirect_uri: &str) -> bool {
    let page_url = page_url.split('#').next().unwrap_or_default();
    let (address, query) = page_url.split_once('?').unwrap_or((page_url, ""));
    let (Ok(page), Ok(redirect)) = (Uri::parse(address), Uri::parse(redirect_uri)) else {
        return false;
    };
    let page_pairs = parse_form(query);
    page.origin() == redirect.origin()
        && page.path() == redirect.path()
        && redirect
            .query_pairs()
            .iter()
            .all(|pair| page_pairs.contains(pair))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smart::secret::CodeVerifier;

    fn pending(issuer: Option<&str>, require_iss: bool) -> PendingLaunch {
        PendingLaunch {
            state: "S".into(),
            code_verifier: CodeVerifier::new("v".into()),
            fhir_base: "https://ehr.example/fhir".into(),
            token_endpoint: "https://ehr.example/token".into(),
            kind: crate::smart::scope::LaunchKind::Ehr,
            jwks_uri: None,
            issuer: issuer.map(str::to_owned),
            require_iss,
            client_id: "cairn".into(),
            redirect_uri: "https://app.example/".into(),
            scope: "launch".into(),
            created_at_ms: 1_000_000.0,
        }
    }

    fn params(state: Option<&str>, code: Option<&str>, error: Option<&str>) -> CallbackParams {
        CallbackParams {
            state: state.map(str::to_owned),
            code: code.map(str::to_owned),
            error: error.map(str::to_owned),
            ..Default::default()
        }
    }

    fn check(
        p: CallbackParams,
        pend: Option<PendingLaunch>,
        now: f64,
    ) -> Result<String, CallbackError> {
        validate_callback(&p, pend, now).map(|(_, code)| code.secret().to_owned())
    }

    #[test]
    fn cases() {
        let t = 1_000_000.0;
        let ok = || Some(pending(None, false));
        assert_eq!(
            check(params(Some("S"), Some("C"), None), ok(), t + 1.0),
            Ok("C".into())
        );
        assert_eq!(
            check(params(None, Some("C"), None), ok(), t),
            Err(CallbackError::MissingState)
        );
        assert_eq!(
            check(params(Some(""), Some("C"), None), ok(), t),
            Err(CallbackError::MissingState)
        );
        // A replayed callback: the pending launch is already gone.
        assert_eq!(
            check(params(Some("S"), Some("C"), None), None, t),
            Err(CallbackError::UnknownState)
        );
        assert_eq!(
            check(params(Some("X"), Some("C"), None), ok(), t),
            Err(CallbackError::UnknownState)
        );
        assert_eq!(
            check(
                params(Some("S"), Some("C"), None),
                ok(),
                t + PENDING_TTL_MS + 1.0
            ),
            Err(CallbackError::Expired)
        );
        assert_eq!(
            check(
                params(Some("S"), Some("C"), None),
                ok(),
                t - 2.0 * FUTURE_SKEW_MS
            ),
            Err(CallbackError::Expired)
        );
        assert_eq!(
            check(params(Some("S"), Some("C"), Some("access_denied")), ok(), t),
            Err(CallbackError::Ambiguous)
        );
        assert_eq!(
            check(params(Some("S"), None, None), ok(), t),
            Err(CallbackError::MissingCode)
        );
        assert_eq!(
            check(params(Some("S"), Some(""), None), ok(), t),
            Err(CallbackError::MissingCode)
        );
    }

    #[test]
    fn state_is_checked_before_the_error_is_believed() {
        let p = params(Some("forged"), None, Some("access_denied"));
        assert_eq!(
            check(p, Some(pending(None, false)), 1_000_000.0),
            Err(CallbackError::UnknownState)
        );
    }

    #[test]
    fn errors_map_to_codes_with_short_descriptions() {
        let mut p = params(Some("S"), None, Some("access_denied"));
        p.error_description = Some("x".repeat(500));
        let Err(CallbackError::Denied { error, description }) =
            validate_callback(&p, Some(pending(None, false)), 1_000_000.0)
        else {
            panic!("expected a denial");
        };
        assert_eq!(error, AuthErrorCode::AccessDenied);
        assert_eq!(description.unwrap().chars().count(), 201);
        for (code, parsed) in [
            ("invalid_scope", AuthErrorCode::InvalidScope),
            ("server_error", AuthErrorCode::ServerError),
            (
                "temporarily_unavailable",
                AuthErrorCode::TemporarilyUnavailable,
            ),
            ("weird", AuthErrorCode::Other("weird".into())),
        ] {
            assert_eq!(AuthErrorCode::parse(code), parsed);
        }
    }

    #[test]
    fn invalid_scope_says_which_apis_to_register() {
        for description in [None, Some("Requested scope is not registered".to_owned())] {
            let problem = CallbackError::Denied {
                error: AuthErrorCode::InvalidScope,
                description: description.clone(),
            }
            .problem();
            assert_eq!(
                problem.title,
                "Your EHR did not accept the permissions Cairn asks for"
            );
            assert_eq!(problem.next_step, NextStep::ContactSupport);
            let said = match &description {
                Some(d) => format!("The EHR said: “{d}”."),
                None => "The EHR gave no reason.".to_owned(),
            };
            assert_eq!(problem.detail, format!("{said} {INVALID_SCOPE_HELP}"));
            for api in [
                "Read and Search APIs of Patient, of Encounter and of each Observation category",
                "Vital Signs, Labs",
                "Practitioner.Read",
                "`fhir_servers[].scope`",
            ] {
                assert!(problem.detail.contains(api), "{api}: {}", problem.detail);
            }
        }
        // Other refusals do not get it.
        let denied = CallbackError::Denied {
            error: AuthErrorCode::AccessDenied,
            description: None,
        };
        assert_eq!(denied.problem().detail, "The EHR gave no reason.");
    }

    #[test]
    fn rfc9207_issuer() {
        let t = 1_000_000.0;
        let with_iss = |iss: Option<&str>| CallbackParams {
            iss: iss.map(str::to_owned),
            ..params(Some("S"), Some("C"), None)
        };
        let expect = || Some(pending(Some("https://ehr.example/oauth2"), true));
        assert!(check(with_iss(Some("https://ehr.example/oauth2")), expect(), t).is_ok());
        assert_eq!(
            check(with_iss(Some("https://evil.example")), expect(), t),
            Err(CallbackError::IssuerMismatch)
        );
        assert_eq!(
            check(with_iss(None), expect(), t),
            Err(CallbackError::IssuerMismatch)
        );
        // Not promised: a missing iss is fine, a wrong one still is not.
        let lax = || Some(pending(Some("https://ehr.example/oauth2"), false));
        assert!(check(with_iss(None), lax(), t).is_ok());
        assert_eq!(
            check(with_iss(Some("https://evil.example")), lax(), t),
            Err(CallbackError::IssuerMismatch)
        );
    }

    #[test]
    fn an_iss_is_refused_when_no_issuer_is_trusted() {
        // A server whose discovery named no trusted issuer (or fell back to its
        // CapabilityStatement without a pinned one): an answer with an `iss` may be another
        // server's (RFC 9700 §4.4), so it is refused; one without `iss` is fine.
        let t = 1_000_000.0;
        let with_iss = |iss: Option<&str>| CallbackParams {
            iss: iss.map(str::to_owned),
            ..params(Some("S"), Some("C"), None)
        };
        assert_eq!(
            check(
                with_iss(Some("https://honest.example/oauth2")),
                Some(pending(None, false)),
                t
            ),
            Err(CallbackError::IssuerMismatch)
        );
        // Even when the server promised nothing.
        assert_eq!(
            check(
                with_iss(Some("https://honest.example/oauth2")),
                Some(pending(None, true)),
                t
            ),
            Err(CallbackError::IssuerMismatch)
        );
        assert!(check(with_iss(None), Some(pending(None, false)), t).is_ok());
    }

    fn two_servers() -> Config {
        crate::smart::config::parse_config(
            br#"{"redirect_uri":"https://app.example/",
            "fhir_servers":[
              {"name":"E","client_id":"cairn","fhir_base":"https://ehr.example/fhir",
               "auth_origins":["https://ehr.example"]},
              {"name":"O","client_id":"cairn-o","fhir_base":"https://other.example/fhir",
               "redirect_uri":"https://app.example/index.html"}]}"#,
        )
        .unwrap()
    }

    fn configured_pending() -> PendingLaunch {
        PendingLaunch {
            issuer: Some("https://ehr.example/oauth2".into()),
            jwks_uri: Some("https://ehr.example/jwks".into()),
            ..pending(None, true)
        }
    }

    #[test]
    fn the_answer_must_come_back_to_the_launch_redirect_uri() {
        let config = two_servers();
        let ok = configured_pending();
        for page in [
            "https://app.example/?code=C&state=S",
            "https://app.example/?state=S&code=C&iss=x",
            // The answer's query is read as a form, whatever characters the browser left in it.
            "https://app.example/?code=C\\'&state=S&x=%zz",
        ] {
            assert_eq!(check_pending(&config, &ok, page), Ok(()), "{page}");
        }
        // The other server's redirect URI, another path, origin or port: the answer was sent
        // where this launch did not ask for it.
        for page in [
            "https://app.example/index.html?code=C&state=S",
            "https://app.example/other/?code=C&state=S",
            "https://app.example:8443/?code=C&state=S",
            "http://app.example/?code=C&state=S",
            "not a url",
        ] {
            assert_eq!(
                check_pending(&config, &ok, page),
                Err(CallbackError::WrongRedirect),
                "{page}"
            );
        }
        // A redirect URI with a query of its own: the callback adds to it.
        let mut config = two_servers();
        config.servers[0].redirect_uri = "https://app.example/?via=e".into();
        let mut with_query = configured_pending();
        with_query.redirect_uri = "https://app.example/?via=e".into();
        assert_eq!(
            check_pending(
                &config,
                &with_query,
                "https://app.example/?via=e&code=C&state=S"
            ),
            Ok(())
        );
        assert_eq!(
            check_pending(
                &config,
                &with_query,
                "https://app.example/?via=o&code=C&state=S"
            ),
            Err(CallbackError::WrongRedirect)
        );
    }

    #[test]
    fn a_tampered_pending_launch_is_refused() {
        let config = two_servers();
        let page = "https://app.example/?code=C&state=S";
        type Tamper = fn(&mut PendingLaunch);
        let tampers: &[(&str, Tamper)] = &[
            ("token endpoint elsewhere", |p| {
                p.token_endpoint = "https://evil.example/token".into()
            }),
            ("token endpoint of the other server", |p| {
                p.token_endpoint = "https://other.example/token".into()
            }),
            ("token endpoint over http", |p| {
                p.token_endpoint = "http://ehr.example/token".into()
            }),
            ("token endpoint unparsable", |p| {
                p.token_endpoint = "token".into()
            }),
            ("unconfigured FHIR base", |p| {
                p.fhir_base = "https://evil.example/fhir".into()
            }),
            ("FHIR base with a slash", |p| {
                p.fhir_base = "https://ehr.example/fhir/".into()
            }),
            ("another client id", |p| p.client_id = "evil".into()),
            ("the other server's client id", |p| {
                p.client_id = "cairn-o".into()
            }),
            ("keys elsewhere", |p| {
                p.jwks_uri = Some("https://evil.example/jwks".into())
            }),
            ("another issuer", |p| {
                p.issuer = Some("https://evil.example/oauth2".into())
            }),
        ];
        for (what, tamper) in tampers {
            let mut p = configured_pending();
            tamper(&mut p);
            assert_eq!(
                check_pending(&config, &p, page),
                Err(CallbackError::NotConfigured),
                "{what}"
            );
        }
        // The other server's redirect URI, answered there: still not this server's.
        let mut p = configured_pending();
        p.redirect_uri = "https://app.example/index.html".into();
        assert_eq!(
            check_pending(&config, &p, "https://app.example/index.html?code=C&state=S"),
            Err(CallbackError::NotConfigured)
        );
        // Untampered launches of either server pass.
        assert_eq!(check_pending(&config, &configured_pending(), page), Ok(()));
        let other = PendingLaunch {
            fhir_base: "https://other.example/fhir".into(),
            token_endpoint: "https://other.example/token".into(),
            client_id: "cairn-o".into(),
            redirect_uri: "https://app.example/index.html".into(),
            ..pending(None, false)
        };
        assert_eq!(
            check_pending(&config, &other, "https://app.example/index.html?code=C"),
            Ok(())
        );
        // The refusal says nothing was sent and to start again.
        let problem = CallbackError::NotConfigured.problem();
        assert_eq!(problem.next_step, NextStep::Relaunch);
        assert!(problem.detail.contains("Nothing was sent"), "{problem:?}");
    }

    #[test]
    fn problems_never_include_the_code() {
        let p = params(Some("S"), Some("SECRET-CODE"), Some("server_error"));
        let err = validate_callback(&p, Some(pending(None, false)), 1_000_000.0).unwrap_err();
        let problem = err.problem();
        assert!(!format!("{problem:?}").contains("SECRET-CODE"));
    }
}
