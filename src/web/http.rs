//! Sends the core's [`HttpRequest`]s with `fetch`.

use gloo_net::http::Request;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, AbortSignal, Headers, ReadableStreamDefaultReader, ReadableStreamReadResult,
    ReferrerPolicy, RequestCredentials, RequestInit, RequestRedirect, ResponseType,
};

use crate::domain::problem::FetchFailure;
use crate::http::{BodyLimit, HttpRequest, HttpResponse, Method, Read};

/// The request never reached the server or its answer never arrived (offline, DNS, CORS, abort).
#[derive(Debug, Clone, thiserror::Error)]
#[error("network error: {0}")]
pub struct NetworkError(pub String);

/// Longest wait for a whole answer (headers and body) before the request is abandoned, so a
/// server that never answers ends in a message instead of an endless "Signing in…".
pub const REQUEST_TIMEOUT_MS: u32 = 30_000;

/// A request to the EHR that got no answer, and what that most likely means.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct SendError {
    pub error: NetworkError,
    /// What the failure most likely was ([`FetchFailure::after_probe`]), or what the answer
    /// was when Cairn refused it (a redirect, a body too large).
    pub failure: FetchFailure,
    /// The address asked for (never carries a token: tokens go in headers).
    pub url: String,
}

impl SendError {
    /// True when the server answered a `no-cors` probe: the request was blocked by CORS.
    pub fn blocked_by_cors(&self) -> bool {
        self.failure == FetchFailure::BlockedByCors
    }

    /// False when the EHR must change (CORS, a redirect, a body too large): starting the launch
    /// again would fail the same way.
    pub fn relaunch_may_help(&self) -> bool {
        matches!(
            self.failure,
            FetchFailure::Timeout | FetchFailure::Unreachable
        )
    }
}

/// Sends a request without cookies or a `Referer`, and reads the body up to the request's cap
/// (`max_body`: [`BodyLimit`]).
pub async fn send(req: &HttpRequest) -> Result<HttpResponse, SendError> {
    send_reading(req, &[]).await.map(|(response, _)| response)
}

/// [`send`] for a request that carries a secret (an access or refresh token, a code and its
/// verifier): a redirect is not followed (`redirect: "manual"`, so the browser would send the
/// same request, body and all, to wherever the server points) and is a failure of its own,
/// [`FetchFailure::Redirected`].
pub async fn send_pinned(req: &HttpRequest) -> Result<HttpResponse, SendError> {
    send_pinned_reading(req, &[])
        .await
        .map(|(response, _)| response)
}

/// [`send_pinned`], also returning the named response headers (see [`send_reading`]).
pub async fn send_pinned_reading(
    req: &HttpRequest,
    header_names: &[&str],
) -> Result<(HttpResponse, Vec<Option<String>>), SendError> {
    send_with(req, header_names, Redirects::Refuse).await
}

/// [`send`], also returning the values of the named response headers that the browser lets
/// the page read (CORS exposes only the safelisted ones and those in
/// `Access-Control-Expose-Headers`).
pub async fn send_reading(
    req: &HttpRequest,
    header_names: &[&str],
) -> Result<(HttpResponse, Vec<Option<String>>), SendError> {
    send_with(req, header_names, Redirects::Follow).await
}

/// Whether a request follows the server's redirects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Redirects {
    Follow,
    Refuse,
}

async fn send_with(
    req: &HttpRequest,
    header_names: &[&str],
    redirects: Redirects,
) -> Result<(HttpResponse, Vec<Option<String>>), SendError> {
    let started = crate::web::clock::monotonic_ms();
    let sent = fetch(req, header_names, RequestCredentials::Omit, redirects).await;
    let timed_out = crate::web::clock::monotonic_ms() - started >= f64::from(REQUEST_TIMEOUT_MS);
    match sent {
        Ok(answer) => Ok(answer),
        Err(Fetched::Redirected) => Err(SendError {
            error: NetworkError("the server answered with a redirect".into()),
            failure: FetchFailure::Redirected,
            url: req.url.clone(),
        }),
        Err(Fetched::TooLarge(max_bytes)) => Err(SendError {
            error: NetworkError(format!("the answer was larger than {max_bytes} bytes")),
            failure: FetchFailure::TooLarge { max_bytes },
            url: req.url.clone(),
        }),
        Err(Fetched::Failed(error)) => Err(SendError {
            error,
            failure: diagnose(&req.url, timed_out).await,
            url: req.url.clone(),
        }),
    }
}

/// Longest wait for the `no-cors` probe that tells CORS from a dead network.
const PROBE_TIMEOUT_MS: u32 = 10_000;

/// What a failed request most likely was. A rejected `fetch` says nothing more (a
/// `TypeError`), so the same address is asked again in `no-cors` mode: no credentials, no
/// Referer, no custom header, so no preflight. An opaque answer means the server is reachable
/// and the browser withheld the first answer: CORS. The CSP's `connect-src` already allows
/// every configured EHR origin, so Cairn's own policy does not block the probe. A request that
/// ran out of time is not probed.
async fn diagnose(url: &str, timed_out: bool) -> FetchFailure {
    if timed_out {
        return FetchFailure::Timeout;
    }
    let deadline = AbortSignal::timeout_with_u32(PROBE_TIMEOUT_MS);
    let answered = Request::get(url)
        .mode(web_sys::RequestMode::NoCors)
        .credentials(RequestCredentials::Omit)
        .referrer_policy(ReferrerPolicy::NoReferrer)
        .abort_signal(Some(&deadline))
        .send()
        .await
        .is_ok();
    FetchFailure::after_probe(answered)
}

/// A file served beside Cairn (its configuration), fetched as `index.html`'s
/// `<link rel="preload" as="fetch" crossorigin>` fetched it: same-origin credentials and no
/// extra headers, so the browser hands over the preloaded answer instead of asking again.
/// Cairn's origin sets no cookies, so none are sent.
pub async fn fetch_own_file(url: &str) -> Result<HttpResponse, NetworkError> {
    let request = HttpRequest {
        method: Method::Get,
        url: url.to_owned(),
        headers: vec![],
        body: None,
        max_body: crate::smart::config::MAX_CONFIG_BYTES,
    };
    match fetch(
        &request,
        &[],
        RequestCredentials::SameOrigin,
        Redirects::Follow,
    )
    .await
    {
        Ok((response, _)) => Ok(response),
        Err(Fetched::Failed(error)) => Err(error),
        Err(Fetched::Redirected) => Err(NetworkError("redirected".into())),
        Err(Fetched::TooLarge(_)) => Err(NetworkError("too large".into())),
    }
}

/// Why [`fetch`] brought no answer.
enum Fetched {
    Failed(NetworkError),
    /// A redirect, not followed ([`Redirects::Refuse`]).
    Redirected,
    /// A body larger than the request's cap (given): its reading was aborted.
    TooLarge(usize),
}

async fn fetch(
    req: &HttpRequest,
    header_names: &[&str],
    credentials: RequestCredentials,
    redirects: Redirects,
) -> Result<(HttpResponse, Vec<Option<String>>), Fetched> {
    // One controller stops the request, headers or body: at the deadline, or when the body
    // passes the request's cap.
    let abort = Abort::new(REQUEST_TIMEOUT_MS).map_err(|e| Fetched::Failed(js_error(e)))?;
    let request = Request::from(
        browser_request(req, credentials, redirects, &abort.signal()).map_err(Fetched::Failed)?,
    );
    let failed = |e: JsValue| {
        Fetched::Failed(if abort.timed_out() {
            NetworkError(format!(
                "no answer within {} seconds",
                REQUEST_TIMEOUT_MS / 1000
            ))
        } else {
            js_error(e)
        })
    };
    let response = request
        .send()
        .await
        .map_err(|e| failed(JsValue::from_str(&e.to_string())))?;
    if response.type_() == ResponseType::Opaqueredirect {
        return Err(Fetched::Redirected);
    }
    let status = response.status();
    let content_type = response.headers().get("content-type");
    let headers = header_names
        .iter()
        .map(|name| response.headers().get(name))
        .collect();
    let mut limit = BodyLimit::new(req.max_body);
    // `Content-Length` is CORS-safelisted: a body declared too large is refused unread.
    if limit.admits(response.headers().get("content-length").as_deref()) == Read::Abort {
        abort.abort();
        return Err(Fetched::TooLarge(limit.max()));
    }
    let mut body = Vec::new();
    if let Some(stream) = response.body() {
        let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
        loop {
            let read: ReadableStreamReadResult = JsFuture::from(reader.read())
                .await
                .map_err(failed)?
                .unchecked_into();
            if read.get_done().unwrap_or(true) {
                break;
            }
            let chunk: js_sys::Uint8Array = read.get_value().unchecked_into();
            let len = chunk.length() as usize;
            if limit.chunk(len) == Read::Abort {
                abort.abort();
                return Err(Fetched::TooLarge(limit.max()));
            }
            let start = body.len();
            body.resize(start + len, 0);
            chunk.copy_to(&mut body[start..]);
        }
    }
    Ok((
        HttpResponse {
            status,
            content_type,
            body,
        },
        headers,
    ))
}

/// The `AbortController` of one request, aborted by a timer at the deadline or by the reader.
/// The timer calls the controller's own `abort`, bound to it, so no Rust closure is kept.
struct Abort {
    controller: AbortController,
    /// The deadline's timer, until cleared.
    timer: std::cell::Cell<Option<i32>>,
}

impl Abort {
    fn new(deadline_ms: u32) -> Result<Abort, JsValue> {
        let controller = AbortController::new()?;
        let abort: js_sys::Function =
            js_sys::Reflect::get(&controller, &JsValue::from_str("abort"))?.dyn_into()?;
        let timer = web_sys::window()
            .ok_or_else(|| JsValue::from_str("no window"))?
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                &abort.bind0(&controller),
                i32::try_from(deadline_ms).unwrap_or(i32::MAX),
            )?;
        Ok(Abort {
            controller,
            timer: std::cell::Cell::new(Some(timer)),
        })
    }

    fn signal(&self) -> AbortSignal {
        self.controller.signal()
    }

    /// Aborted, and not by [`Abort::abort`]: the timer ran out.
    fn timed_out(&self) -> bool {
        self.controller.signal().aborted() && self.timer.get().is_some()
    }

    /// Stops the request now (its body is not read further).
    fn abort(&self) {
        self.clear();
        self.controller.abort();
    }

    fn clear(&self) {
        if let (Some(timer), Some(window)) = (self.timer.take(), web_sys::window()) {
            window.clear_timeout_with_handle(timer);
        }
    }
}

impl Drop for Abort {
    fn drop(&mut self) {
        self.clear();
    }
}

fn js_error(e: JsValue) -> NetworkError {
    NetworkError(match e.dyn_into::<js_sys::Error>() {
        Ok(error) => String::from(error.message()),
        Err(other) => other.as_string().unwrap_or_else(|| format!("{other:?}")),
    })
}

/// The browser's request for `req`, to its URL exactly as the core wrote it. (gloo-net's
/// request builder joins its own query parameters to the URL's with `&` even when it has none,
/// so every search went out as `…&_count=200&`.)
fn browser_request(
    req: &HttpRequest,
    credentials: RequestCredentials,
    redirects: Redirects,
    signal: &AbortSignal,
) -> Result<web_sys::Request, NetworkError> {
    let init = RequestInit::new();
    init.set_method(match req.method {
        Method::Get => "GET",
        Method::Post => "POST",
    });
    init.set_credentials(credentials);
    init.set_referrer_policy(ReferrerPolicy::NoReferrer);
    init.set_signal(Some(signal));
    if redirects == Redirects::Refuse {
        // `manual`, not `error`: the answer is an opaque redirect Cairn can tell from a
        // network failure, and nothing is sent to the redirect's target.
        init.set_redirect(RequestRedirect::Manual);
    }
    let headers = Headers::new().map_err(js_error)?;
    for (name, value) in &req.headers {
        headers.append(name, value).map_err(js_error)?;
    }
    init.set_headers(&headers);
    if let Some(body) = &req.body {
        init.set_body(&JsValue::from_str(body));
    }
    web_sys::Request::new_with_str_and_init(&req.url, &init).map_err(js_error)
}
