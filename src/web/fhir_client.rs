//! Sends FHIR reads with the session's token, following the core's decisions: renew the token
//! ahead of expiry, one refresh and one retry after a 401, bounded retries after 429/503.
//!
//! The only state here is the session (in memory, never stored) and the refresh under way, so
//! that concurrent requests share one refresh: a refresh token is sent once.

use std::cell::RefCell;
use std::rc::Rc;

use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};

use crate::domain::problem::{
    Endpoint, FetchFailure, NextStep, Problem, cors_problem, too_large_problem,
};
use crate::fhir::request::token_may_go_to;
use crate::fhir::retry::retry_delay_ms;
use crate::http::{HttpRequest, HttpResponse};
use crate::smart::secret::AccessToken;
use crate::smart::session::{AfterUnauthorized, Before, RefreshError, Session, session_ended};
use crate::web::http::{SendError, send_pinned, send_pinned_reading};
use crate::web::{clock, random};

type RefreshFuture = Shared<LocalBoxFuture<'static, Result<(), RefreshError>>>;

/// A handle on the signed-in session. Cheap to clone; all clones share the session.
#[derive(Clone)]
pub struct FhirClient {
    session: Rc<RefCell<Session>>,
    refresh: Rc<RefCell<Option<RefreshFuture>>>,
    /// Why the session ended, once it has: every request after that (and every request that
    /// was waiting on the refresh that ended it) reports this same reason.
    ended: Rc<RefCell<Option<Problem>>>,
}

impl FhirClient {
    pub fn new(session: Session) -> FhirClient {
        FhirClient {
            session: Rc::new(RefCell::new(session)),
            refresh: Rc::new(RefCell::new(None)),
            ended: Rc::new(RefCell::new(None)),
        }
    }

    /// Reads something of the session (its context, its grants) without holding it.
    pub fn with_session<T>(&self, f: impl FnOnce(&Session) -> T) -> T {
        f(&self.session.borrow())
    }

    /// Sends the request that `build` makes with the current token, and returns the final
    /// response (any status but a 401 that could not be cured). A 401 that survives one
    /// refresh and one retry ends the session: every token is forgotten.
    pub async fn send<F, E>(&self, build: F) -> Result<HttpResponse, Problem>
    where
        F: Fn(&AccessToken) -> Result<HttpRequest, E>,
        E: Into<Problem>,
    {
        let mut retried = false;
        let mut attempt = 1;
        loop {
            // Ended is final: no request leaves after it, and none waiting on a refresh does.
            if self.has_ended() {
                return Err(self.ended_problem());
            }
            let before = self
                .session
                .borrow_mut()
                .before_request(clock::monotonic_ms());
            match before {
                Before::Send => {}
                Before::Refresh(request) => {
                    // Renewing early is a courtesy: if it fails for a passing reason the old
                    // token may still work. A refused refresh token ends the session.
                    if self.run_refresh(request, false).await.is_err() && self.has_ended() {
                        return Err(self.ended_problem());
                    }
                }
                Before::Join => {
                    self.join_refresh().await;
                    continue;
                }
            }
            let (request, generation) = {
                let session = self.session.borrow();
                let Some((token, generation)) = session.access_token() else {
                    return Err(self.ended_problem());
                };
                let request = build(token).map_err(Into::into)?;
                // The token is for its FHIR server only: never sent anywhere else.
                if !token_may_go_to(&request.url, &session.context.fhir_base) {
                    return Err(Problem::new(
                        "Cairn stopped a request",
                        "Your EHR pointed Cairn to another server for this record. Cairn does not \
                         send your sign-in there.",
                        NextStep::ContactSupport,
                    ));
                }
                (request, generation)
            };
            let (response, headers) = send_pinned_reading(&request, &["retry-after"])
                .await
                .map_err(|e| network_problem(&e, Endpoint::Fhir))?;
            // The session ended while this request was out: its answer is not shown.
            if self.has_ended() {
                return Err(self.ended_problem());
            }
            if response.status == 401 {
                let next = self
                    .session
                    .borrow_mut()
                    .after_unauthorized(generation, retried);
                match next {
                    AfterUnauthorized::Retry => {}
                    AfterUnauthorized::Refresh(refresh) => {
                        if self.run_refresh(refresh, true).await.is_err() {
                            return Err(self.ended_problem());
                        }
                    }
                    AfterUnauthorized::Join => self.join_refresh().await,
                    AfterUnauthorized::Ended if self.has_ended() => {
                        return Err(self.ended_problem());
                    }
                    AfterUnauthorized::Ended => {
                        return Err(self.end(session_ended(
                            "Your EHR no longer accepts Cairn's sign-in for this window.",
                        )));
                    }
                }
                retried = true;
                continue;
            }
            let retry_after = headers.into_iter().next().flatten();
            let jitter = random::random_bytes::<1>()
                .map(|b| f64::from(b[0]) / 256.0)
                .unwrap_or(0.5);
            match retry_delay_ms(
                request.method,
                response.status,
                attempt,
                retry_after.as_deref(),
                clock::now_ms(),
                jitter,
            ) {
                Some(wait_ms) => {
                    clock::sleep_ms(wait_ms).await;
                    attempt += 1;
                }
                None => return Ok(response),
            }
        }
    }

    /// Sends a refresh grant and hands the answer to the session; other callers join it. A
    /// refused refresh token ends the session, and so does any failure when `fatal` (the
    /// refresh was the cure for a 401): ended inside the shared refresh, so that every request
    /// waiting on it sees the same outcome and the same reason.
    async fn run_refresh(&self, request: HttpRequest, fatal: bool) -> Result<(), RefreshError> {
        let client = self.clone();
        let future: RefreshFuture = async move {
            let response = send_pinned(&request).await.ok();
            let result = client
                .session
                .borrow_mut()
                .finish_refresh(response.as_ref(), clock::monotonic_ms());
            if let Err(err) = &result
                && (fatal || matches!(err, RefreshError::Ended(_)))
            {
                client.end(err.problem());
            }
            result
        }
        .boxed_local()
        .shared();
        *self.refresh.borrow_mut() = Some(future.clone());
        let result = future.await;
        *self.refresh.borrow_mut() = None;
        result
    }

    async fn join_refresh(&self) {
        let running = self.refresh.borrow().clone();
        if let Some(running) = running {
            let _ = running.await;
        }
    }

    /// Forgets every token and remembers why: requests still running or paging stop with it.
    pub fn end(&self, why: Problem) -> Problem {
        self.session.borrow_mut().end();
        self.ended.borrow_mut().get_or_insert(why).clone()
    }

    /// True once the session ended (here, or in the session itself): final.
    pub fn has_ended(&self) -> bool {
        self.ended.borrow().is_some() || self.session.borrow().has_ended()
    }

    fn ended_problem(&self) -> Problem {
        self.ended
            .borrow()
            .clone()
            .unwrap_or_else(|| session_ended("This sign-in has ended."))
    }
}

/// A request that failed before any answer: to a sign-in endpoint, its kind told by its URL
/// ([`Endpoint::of_sign_in_url`]).
pub fn unreachable_ehr(err: &SendError) -> Problem {
    network_problem(err, Endpoint::of_sign_in_url(&err.url))
}

/// A request to `endpoint` that failed before any answer: blocked by CORS (the server
/// answered a `no-cors` probe), which names the origins and whom to ask; else a connection
/// that may work again. A redirect or an answer too large is the EHR's to fix.
pub fn network_problem(err: &SendError, endpoint: Endpoint) -> Problem {
    match err.failure {
        FetchFailure::Redirected => return redirect_problem(),
        FetchFailure::TooLarge { max_bytes } => return too_large_problem(endpoint, max_bytes),
        _ => {}
    }
    if err.blocked_by_cors() {
        return cors_problem(endpoint, &err.url, &crate::web::location::page_url());
    }
    Problem::new(
        "Cairn could not reach your EHR",
        format!("The connection failed ({err}). Check the network and try again."),
        NextStep::TryAgain,
    )
}

/// A server answered a request that carries a token, a code or a verifier with a redirect.
pub fn redirect_problem() -> Problem {
    Problem::new(
        "Cairn stopped a request",
        "Your EHR answered by sending Cairn to another address. Cairn does not send your \
         sign-in there, so it stopped.",
        NextStep::ContactSupport,
    )
}
