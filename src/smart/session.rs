//! A signed-in session: the access token, when it expires, and its renewal with a refresh token.
//!
//! Sans IO. Expiry is measured on the monotonic clock (`performance.now()`, passed in as
//! `now_ms`), never the wall clock, so a device clock that is hours off changes nothing. The
//! session is a small state machine: callers ask it what to do before a request
//! ([`Session::before_request`]) and after a 401 ([`Session::after_unauthorized`]); it answers
//! with a refresh request to send, or tells them to join the refresh already under way (one
//! refresh at a time: a refresh token is used once), and [`Session::finish_refresh`] takes the
//! answer. A new refresh token replaces the old one; when none comes back the old one is kept.

use crate::domain::problem::{NextStep, Problem};
use crate::http::{HttpRequest, HttpResponse};
use crate::smart::scope::{Grants, LaunchKind};
use crate::smart::secret::{AccessToken, RefreshToken};
use crate::smart::token::{TokenError, TokenSet, parse_refresh_response, refresh_request};

/// Renew at most this long before expiry.
pub const MAX_MARGIN_MS: f64 = 60_000.0;
/// Never renew ahead of time more often than this (a server that grants `expires_in: 0` must
/// not cause a refresh before every request); a 401 still triggers one.
pub const MIN_PROACTIVE_INTERVAL_MS: f64 = 30_000.0;

/// The launch context that arrived with the token: the only source of patient and encounter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchContext {
    pub kind: LaunchKind,
    pub fhir_base: String,
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub need_patient_banner: bool,
    pub smart_style_url: Option<String>,
    pub intent: Option<String>,
    pub tenant: Option<String>,
    pub fhir_context: Vec<String>,
}

pub struct Session {
    pub context: LaunchContext,
    grants: Grants,
    token_endpoint: String,
    client_id: String,
    access_token: Option<AccessToken>,
    refresh_token: Option<RefreshToken>,
    expires_at_ms: f64,
    margin_ms: f64,
    last_proactive_ms: Option<f64>,
    generation: u64,
    refreshing: bool,
    /// Set by [`Session::end`] and never cleared: a refresh answered afterwards is discarded.
    ended: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("context", &self.context)
            .field("grants", &self.grants)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("expires_at_ms", &self.expires_at_ms)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// What to do before sending a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Before {
    /// The token is good: send.
    Send,
    /// Renew first: send this refresh grant, then [`Session::finish_refresh`].
    Refresh(HttpRequest),
    /// Another request is renewing the token: wait for it, then ask again.
    Join,
}

/// What to do after a request made with token `generation` was answered 401.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterUnauthorized {
    /// The token was renewed meanwhile: retry with the new one.
    Retry,
    /// Send this refresh grant, then [`Session::finish_refresh`], then retry once.
    Refresh(HttpRequest),
    /// Another request is renewing the token: wait, then retry once.
    Join,
    /// No way to renew (no refresh token, or this request already retried): sign in again.
    Ended,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// The authorization server refused the refresh token: it is gone for good.
    #[error("the EHR ended this sign-in ({0})")]
    Ended(String),
    /// The refresh failed for a reason that may pass (network, 5xx): the refresh token is kept.
    #[error("Cairn could not renew the sign-in: {0}")]
    Failed(String),
}

impl RefreshError {
    pub fn problem(&self) -> Problem {
        session_ended(&format!("{self}."))
    }
}

/// The screen for a session that cannot go on.
pub fn session_ended(detail: &str) -> Problem {
    Problem::new(
        "Your session has ended",
        format!("{detail} Open Cairn again to sign in; nothing you were viewing is changed."),
        NextStep::Relaunch,
    )
}

impl Session {
    /// A session from the code exchange's answer, received at monotonic time `now_ms`.
    pub fn new(
        tokens: TokenSet,
        kind: LaunchKind,
        token_endpoint: &str,
        client_id: &str,
        now_ms: f64,
    ) -> Session {
        let mut session = Session {
            context: LaunchContext {
                kind,
                fhir_base: tokens.fhir_base,
                patient: tokens.patient,
                encounter: tokens.encounter,
                need_patient_banner: tokens.need_patient_banner,
                smart_style_url: tokens.smart_style_url,
                intent: tokens.intent,
                tenant: tokens.tenant,
                fhir_context: tokens.fhir_context,
            },
            grants: Grants::parse(&tokens.scope),
            token_endpoint: token_endpoint.to_owned(),
            client_id: client_id.to_owned(),
            access_token: Some(tokens.access_token),
            refresh_token: tokens.refresh_token,
            expires_at_ms: 0.0,
            margin_ms: 0.0,
            last_proactive_ms: None,
            generation: 0,
            refreshing: false,
            ended: false,
        };
        session.set_lifetime(tokens.expires_in_s, now_ms);
        session
    }

    fn set_lifetime(&mut self, expires_in_s: f64, now_ms: f64) {
        let lifetime_ms = expires_in_s * 1000.0;
        self.expires_at_ms = now_ms + lifetime_ms;
        // A tenth of the lifetime, at most a minute: a 10-minute token renews 60 s early, a
        // 20-second one 2 s early.
        self.margin_ms = (lifetime_ms / 10.0).min(MAX_MARGIN_MS);
    }

    /// The current access token and its generation (which increases with every renewal).
    /// `None` once the session has ended.
    pub fn access_token(&self) -> Option<(&AccessToken, u64)> {
        self.access_token.as_ref().map(|t| (t, self.generation))
    }

    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// True once [`Session::end`] ran: final, nothing brings the tokens back.
    pub fn has_ended(&self) -> bool {
        self.ended
    }

    pub fn can_refresh(&self) -> bool {
        self.refresh_token.is_some()
    }

    /// True when the token is within its renewal margin (or past expiry) at `now_ms`.
    pub fn is_expiring(&self, now_ms: f64) -> bool {
        now_ms >= self.expires_at_ms - self.margin_ms
    }

    pub fn before_request(&mut self, now_ms: f64) -> Before {
        if self.ended {
            // No token to send: the caller finds none and reports the end.
            return Before::Send;
        }
        if self.refreshing {
            return Before::Join;
        }
        let recently = self
            .last_proactive_ms
            .is_some_and(|t| now_ms - t < MIN_PROACTIVE_INTERVAL_MS);
        if !self.is_expiring(now_ms) || recently {
            return Before::Send;
        }
        match self.start_refresh() {
            Some(request) => {
                self.last_proactive_ms = Some(now_ms);
                Before::Refresh(request)
            }
            // No way to renew: send, and let the server say whether it still takes the token.
            None => Before::Send,
        }
    }

    /// After a 401 for a request sent with token `generation`. `retried` is true when that
    /// request already had its one retry.
    pub fn after_unauthorized(&mut self, generation: u64, retried: bool) -> AfterUnauthorized {
        if retried || self.access_token.is_none() {
            return AfterUnauthorized::Ended;
        }
        if self.generation > generation {
            return AfterUnauthorized::Retry;
        }
        if self.refreshing {
            return AfterUnauthorized::Join;
        }
        match self.start_refresh() {
            Some(request) => AfterUnauthorized::Refresh(request),
            None => AfterUnauthorized::Ended,
        }
    }

    fn start_refresh(&mut self) -> Option<HttpRequest> {
        if self.ended {
            return None;
        }
        let token = self.refresh_token.as_ref()?;
        self.refreshing = true;
        Some(refresh_request(
            &self.token_endpoint,
            &self.client_id,
            token,
        ))
    }

    /// Takes the answer to the refresh grant (`None`: it never arrived) at monotonic `now_ms`.
    pub fn finish_refresh(
        &mut self,
        response: Option<&HttpResponse>,
        now_ms: f64,
    ) -> Result<(), RefreshError> {
        self.refreshing = false;
        if self.ended {
            // The grant was out when the session ended: whatever it brought stays unused.
            return Err(RefreshError::Ended("this sign-in had already ended".into()));
        }
        let Some(response) = response else {
            return Err(RefreshError::Failed("the connection failed".into()));
        };
        match parse_refresh_response(response) {
            Ok(refreshed) => {
                self.access_token = Some(refreshed.access_token);
                if let Some(token) = refreshed.refresh_token {
                    self.refresh_token = Some(token);
                }
                if let Some(scope) = refreshed.scope {
                    self.grants = Grants::parse(&scope);
                }
                self.set_lifetime(refreshed.expires_in_s, now_ms);
                self.generation += 1;
                Ok(())
            }
            Err(TokenError::Rejected { error, description }) => {
                // invalid_grant and friends: this refresh token will never work again. The
                // server's reason is what the user is shown.
                self.refresh_token = None;
                Err(RefreshError::Ended(match description {
                    Some(reason) => format!("{error}: “{reason}”"),
                    None => error,
                }))
            }
            Err(other) => Err(RefreshError::Failed(other.to_string())),
        }
    }

    /// Forgets every token: after this the session can make no request.
    pub fn end(&mut self) {
        self.ended = true;
        self.access_token = None;
        self.refresh_token = None;
        self.refreshing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn tokens(expires_in_s: f64, refresh: Option<&str>) -> TokenSet {
        TokenSet {
            access_token: AccessToken::new("AT-1".into()),
            scope: "launch patient/Patient.rs online_access".into(),
            expires_in_s,
            patient: Some("p1".into()),
            encounter: None,
            need_patient_banner: true,
            smart_style_url: None,
            id_token: None,
            refresh_token: refresh.map(|r| RefreshToken::new(r.into())),
            fhir_base: "https://ehr.example/fhir".into(),
            intent: None,
            tenant: None,
            fhir_context: vec![],
        }
    }

    fn session(expires_in_s: f64, refresh: Option<&str>, now_ms: f64) -> Session {
        Session::new(
            tokens(expires_in_s, refresh),
            LaunchKind::Ehr,
            "https://ehr.example/oauth2/token",
            "cairn",
            now_ms,
        )
    }

    fn granted(access: &str, refresh: Option<&str>, expires_in: u32) -> HttpResponse {
        let refresh = refresh
            .map(|r| format!(r#","refresh_token":"{r}""#))
            .unwrap_or_default();
        HttpResponse {
            status: 200,
            content_type: Some("application/json".into()),
            body: format!(
                r#"{{"access_token":"{access}","token_type":"bearer","expires_in":{expires_in}{refresh}}}"#
            )
            .into_bytes(),
        }
    }

    fn body(before: Before) -> String {
        match before {
            Before::Refresh(req) => req.body.unwrap(),
            other => panic!("expected a refresh, got {other:?}"),
        }
    }

    #[test]
    fn renews_within_the_margin_of_monotonic_expiry() {
        // 3600 s token received at t = 1 000 ms (monotonic): margin 60 s.
        let mut s = session(3600.0, Some("RT-1"), 1_000.0);
        assert_eq!(s.before_request(1_000.0), Before::Send);
        assert_eq!(s.before_request(1_000.0 + 3_539_000.0), Before::Send);
        let refresh = s.before_request(1_000.0 + 3_541_000.0);
        assert_eq!(
            body(refresh),
            "grant_type=refresh_token&refresh_token=RT-1&client_id=cairn"
        );
        // Short tokens renew a tenth of their life early.
        let mut short = session(20.0, Some("RT"), 0.0);
        assert_eq!(short.before_request(17_999.0), Before::Send);
        assert!(matches!(short.before_request(18_000.0), Before::Refresh(_)));
    }

    #[test]
    fn the_wall_clock_plays_no_part() {
        // Whatever the device's date, only elapsed monotonic time counts: a session created at
        // monotonic 5 s is fresh 10 s later even if the wall clock jumped by hours meanwhile.
        let mut s = session(600.0, Some("RT"), 5_000.0);
        assert_eq!(s.before_request(15_000.0), Before::Send);
        assert!(!s.is_expiring(15_000.0));
    }

    #[test]
    fn one_refresh_at_a_time_and_a_new_refresh_token_replaces_the_old() {
        let mut s = session(100.0, Some("RT-1"), 0.0);
        let now = 95_000.0;
        assert!(matches!(s.before_request(now), Before::Refresh(_)));
        // Every other request while it runs waits for it, before or after a 401.
        assert_eq!(s.before_request(now), Before::Join);
        assert_eq!(s.after_unauthorized(0, false), AfterUnauthorized::Join);
        s.finish_refresh(Some(&granted("AT-2", Some("RT-2"), 100)), now)
            .unwrap();
        let (token, generation) = s.access_token().unwrap();
        assert_eq!((token.secret(), generation), ("AT-2", 1));
        // A request that failed with the old token retries with the new one, no second refresh.
        assert_eq!(s.after_unauthorized(0, false), AfterUnauthorized::Retry);
        // The next renewal uses the rotated refresh token: RT-1 is never sent twice.
        let next = s.after_unauthorized(1, false);
        let AfterUnauthorized::Refresh(req) = next else {
            panic!("{next:?}")
        };
        assert!(req.body.unwrap().contains("refresh_token=RT-2"));
        assert_eq!(req.method, Method::Post);
        // No refresh token in the answer: the old one is kept.
        s.finish_refresh(Some(&granted("AT-3", None, 100)), now)
            .unwrap();
        let AfterUnauthorized::Refresh(req) = s.after_unauthorized(2, false) else {
            panic!()
        };
        assert!(req.body.unwrap().contains("refresh_token=RT-2"));
    }

    #[test]
    fn a_401_gets_one_refresh_and_one_retry() {
        let mut s = session(3600.0, Some("RT-1"), 0.0);
        assert!(matches!(
            s.after_unauthorized(0, false),
            AfterUnauthorized::Refresh(_)
        ));
        s.finish_refresh(Some(&granted("AT-2", Some("RT-2"), 3600)), 10.0)
            .unwrap();
        // The retry was 401 too: the session is over, no loop.
        assert_eq!(s.after_unauthorized(1, true), AfterUnauthorized::Ended);
        // Without a refresh token a 401 ends the session at once.
        let mut no_rt = session(3600.0, None, 0.0);
        assert_eq!(no_rt.after_unauthorized(0, false), AfterUnauthorized::Ended);
        assert_eq!(no_rt.before_request(3_600_000.0), Before::Send);
    }

    #[test]
    fn invalid_grant_drops_the_refresh_token() {
        let mut s = session(100.0, Some("RT-1"), 0.0);
        let AfterUnauthorized::Refresh(_) = s.after_unauthorized(0, false) else {
            panic!()
        };
        let refused = HttpResponse {
            status: 400,
            content_type: Some("application/json".into()),
            body: br#"{"error":"invalid_grant","error_description":"reused"}"#.to_vec(),
        };
        let err = s.finish_refresh(Some(&refused), 1.0).unwrap_err();
        assert_eq!(err, RefreshError::Ended("invalid_grant: “reused”".into()));
        assert!(!s.can_refresh());
        assert_eq!(err.problem().title, "Your session has ended");
        assert_eq!(err.problem().next_step, NextStep::Relaunch);
        assert_eq!(s.after_unauthorized(0, false), AfterUnauthorized::Ended);
    }

    #[test]
    fn invalid_grant_ends_the_refresh_token_whatever_the_status() {
        // A standard SMART EHR answered 403 with `invalid_grant`: not a passing failure.
        let mut s = session(100.0, Some("RT-1"), 0.0);
        let _ = s.after_unauthorized(0, false);
        let forbidden = HttpResponse {
            status: 403,
            content_type: Some("application/json".into()),
            body: br#"{"error":"invalid_grant","error_description":"refresh token revoked"}"#
                .to_vec(),
        };
        let err = s.finish_refresh(Some(&forbidden), 1.0).unwrap_err();
        assert!(matches!(err, RefreshError::Ended(_)), "{err:?}");
        assert!(!s.can_refresh());
        let problem = err.problem();
        assert_eq!(
            problem.detail,
            "The EHR ended this sign-in (invalid_grant: “refresh token revoked”). Open Cairn \
             again to sign in; nothing you were viewing is changed."
        );
        crate::domain::problem::assert_capitalised(&problem);
        // Another 403 without `invalid_grant` stays a failure that may pass.
        let mut s = session(100.0, Some("RT-1"), 0.0);
        let _ = s.after_unauthorized(0, false);
        let other = HttpResponse {
            body: br#"{"error":"temporarily_unavailable"}"#.to_vec(),
            ..forbidden
        };
        assert!(matches!(
            s.finish_refresh(Some(&other), 1.0),
            Err(RefreshError::Failed(_))
        ));
        assert!(s.can_refresh());
    }

    #[test]
    fn a_failed_refresh_keeps_the_refresh_token() {
        let mut s = session(100.0, Some("RT-1"), 0.0);
        let _ = s.after_unauthorized(0, false);
        let down = HttpResponse {
            status: 503,
            content_type: None,
            body: vec![],
        };
        assert!(matches!(
            s.finish_refresh(Some(&down), 1.0),
            Err(RefreshError::Failed(_))
        ));
        assert!(s.can_refresh());
        let _ = s.after_unauthorized(0, false);
        assert!(matches!(
            s.finish_refresh(None, 2.0),
            Err(RefreshError::Failed(_))
        ));
        // Not stuck "refreshing": the next request may try again.
        assert!(matches!(
            s.after_unauthorized(0, false),
            AfterUnauthorized::Refresh(_)
        ));
    }

    #[test]
    fn zero_lifetime_does_not_refresh_before_every_request() {
        let mut s = session(0.0, Some("RT-1"), 0.0);
        assert!(matches!(s.before_request(0.0), Before::Refresh(_)));
        s.finish_refresh(Some(&granted("AT-2", Some("RT-2"), 0)), 1.0)
            .unwrap();
        for t in [2.0, 1_000.0, 29_000.0] {
            assert_eq!(s.before_request(t), Before::Send, "t={t}");
        }
        assert!(matches!(s.before_request(30_001.0), Before::Refresh(_)));
    }

    #[test]
    fn refreshed_scope_replaces_the_grants() {
        let mut s = session(100.0, Some("RT-1"), 0.0);
        assert!(s.grants().has("patient/Patient.rs"));
        let _ = s.after_unauthorized(0, false);
        let narrower = HttpResponse {
            status: 200,
            content_type: None,
            body: br#"{"access_token":"A2","token_type":"Bearer","scope":"launch"}"#.to_vec(),
        };
        s.finish_refresh(Some(&narrower), 1.0).unwrap();
        assert!(!s.grants().has("patient/Patient.rs"));
    }

    #[test]
    fn ending_forgets_every_token_and_debug_shows_none() {
        let mut s = session(100.0, Some("RT-CANARY-1"), 0.0);
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("AT-1") && !shown.contains("RT-CANARY"),
            "{shown}"
        );
        s.end();
        assert!(s.access_token().is_none());
        assert!(!s.can_refresh());
        assert_eq!(s.after_unauthorized(0, false), AfterUnauthorized::Ended);
    }

    #[test]
    fn an_ended_session_stays_ended_when_a_refresh_in_flight_completes() {
        let mut s = session(100.0, Some("RT-1"), 0.0);
        let AfterUnauthorized::Refresh(_) = s.after_unauthorized(0, false) else {
            panic!()
        };
        assert!(!s.has_ended());
        // The user's session ends (a fatal 401 elsewhere) while the refresh grant is out...
        s.end();
        assert!(s.has_ended());
        // ...and then the EHR grants it: the new tokens are thrown away.
        let late = s.finish_refresh(Some(&granted("AT-LATE", Some("RT-LATE"), 3600)), 2.0);
        assert!(matches!(late, Err(RefreshError::Ended(_))), "{late:?}");
        assert!(s.access_token().is_none());
        assert!(!s.can_refresh());
        assert!(s.has_ended());
        assert_eq!(s.before_request(3.0), Before::Send);
        assert_eq!(s.after_unauthorized(0, false), AfterUnauthorized::Ended);
    }
}
