//! What the user is told when something fails, and what they can do about it.

/// The way forward offered with a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Start again from the EHR (the launch cannot continue).
    Relaunch,
    /// The same action may work in a moment (network, server busy).
    TryAgain,
    /// Nothing the user can do: configuration or EHR set-up must change.
    ContactSupport,
}

/// A failure in plain words. Never carries a token or code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub title: String,
    pub detail: String,
    pub next_step: NextStep,
}

impl Problem {
    /// A problem whose title and detail start with a capital letter, whatever the text they
    /// were made from (error messages are written to follow other words, in lower case).
    pub fn new(title: impl Into<String>, detail: impl Into<String>, next_step: NextStep) -> Self {
        Problem {
            title: sentence(&title.into()),
            detail: sentence(&detail.into()),
            next_step,
        }
    }
}

/// `text` with its first letter in upper case, as a sentence shown on its own starts. Only an
/// ASCII letter is changed: what is capitalised is Cairn's own English words and FHIR codes
/// (`female`), never a name, and core's Unicode case tables would cost about 12 KB of wasm.
pub fn sentence(text: &str) -> String {
    let mut out = text.to_owned();
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    out
}

/// For the tests of every module with problems: both texts start with a capital letter (or a
/// quotation mark, digit or symbol, never a lower-case letter) and are not empty.
#[cfg(test)]
pub fn assert_capitalised(problem: &Problem) {
    for text in [&problem.title, &problem.detail] {
        let first = text.chars().next();
        assert!(
            first.is_some_and(|c| !c.is_lowercase()),
            "a problem text starts in lower case: {problem:?}"
        );
    }
}

/// The kind of EHR endpoint a request went to, for a message about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `.well-known/smart-configuration` or `metadata`, under the FHIR base.
    Discovery,
    Token,
    Fhir,
    Jwks,
    Style,
    /// A sign-in request whose kind is not known.
    SignIn,
}

impl Endpoint {
    /// The endpoint in words, as its CORS setting would be asked for.
    pub fn describe(self) -> &'static str {
        match self {
            Endpoint::Discovery => "SMART configuration (on the FHIR server)",
            Endpoint::Token => "token endpoint (sign-in)",
            Endpoint::Fhir => "FHIR API",
            Endpoint::Jwks => "key set (JWKS) that checks who signed in",
            Endpoint::Style => "style document",
            Endpoint::SignIn => "sign-in service",
        }
    }

    /// The kind of a sign-in request from its URL, for the message only: the token endpoint
    /// ends in `/token`, discovery is `.well-known/smart-configuration` or `metadata`, a key
    /// set names `jwks`; anything else is the sign-in service.
    pub fn of_sign_in_url(url: &str) -> Endpoint {
        let path = crate::uri::Uri::parse(url)
            .map(|u| u.path().to_ascii_lowercase())
            .unwrap_or_default();
        let path = path.trim_end_matches('/');
        if path.ends_with("/.well-known/smart-configuration") || path.ends_with("/metadata") {
            Endpoint::Discovery
        } else if path.ends_with("/token") {
            Endpoint::Token
        } else if path.contains("jwks") || path.ends_with("/keys") {
            Endpoint::Jwks
        } else {
            Endpoint::SignIn
        }
    }
}

/// What a failed fetch most likely was, from what the browser lets a page see: `fetch`
/// rejected (a `TypeError` with no detail), then a `no-cors` request to the same address
/// either resolved (an opaque answer: the server is reachable) or failed too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchFailure {
    /// No answer within the time allowed.
    Timeout,
    /// The server answered the `no-cors` probe: the real request was blocked by CORS (the
    /// answer lacked `Access-Control-Allow-Origin` for Cairn's origin).
    BlockedByCors,
    /// The server could not be reached at all (offline, DNS, refused connection).
    Unreachable,
    /// The server answered with a redirect (3xx) to a request that carries a token, a code or
    /// a verifier: Cairn does not follow it (the request would go, body and all, elsewhere).
    Redirected,
    /// The answer's body was larger than the request's cap, `max_bytes` (by its
    /// `Content-Length`, or as it streamed in): Cairn stopped reading it (matrix #45).
    TooLarge { max_bytes: usize },
}

impl FetchFailure {
    /// The decision after a rejected fetch: `probe_answered` is whether the `no-cors` probe
    /// resolved. A timeout is never probed.
    pub fn after_probe(probe_answered: bool) -> FetchFailure {
        if probe_answered {
            FetchFailure::BlockedByCors
        } else {
            FetchFailure::Unreachable
        }
    }
}

/// The problem for an answer larger than Cairn reads ([`FetchFailure::TooLarge`]): the EHR, not
/// the user, must change, so the way forward is whom to ask.
pub fn too_large_problem(endpoint: Endpoint, max_bytes: usize) -> Problem {
    const MIB: usize = 1024 * 1024;
    let size = if max_bytes >= MIB {
        format!("{} MB", max_bytes.div_ceil(MIB))
    } else {
        format!("{} KB", max_bytes.div_ceil(1024))
    };
    Problem::new(
        "Your EHR sent too much",
        format!(
            "The EHR sent more than {size} in one answer from its {}, more than Cairn reads at \
             once, so Cairn stopped reading it. Ask your EHR's integration team to check what \
             that server sends.",
            endpoint.describe()
        ),
        NextStep::ContactSupport,
    )
}

/// The problem for a request blocked by CORS: which origin must be allowed (Cairn's own,
/// from `app_url`), on which endpoint (its kind and origin, from `endpoint_url`), and whom to
/// ask. Nothing in Cairn can fix it: the EHR's server must send the CORS headers.
pub fn cors_problem(endpoint: Endpoint, endpoint_url: &str, app_url: &str) -> Problem {
    let origin = |u: &str| {
        crate::uri::Uri::parse(u)
            .ok()
            .map(|u| truncate_for_display(u.origin(), 200))
    };
    let app = origin(app_url).unwrap_or_else(|| "Cairn's web address".to_owned());
    let server = origin(endpoint_url).unwrap_or_else(|| "the EHR's server".to_owned());
    let kind = endpoint.describe();
    Problem::new(
        "Your EHR does not allow Cairn's web address",
        format!(
            "The EHR's {kind} at {server} answered, but not to pages from {app}, so the \
             browser blocked the answer (CORS). Ask your EHR's integration team (for Epic, \
             your Epic analyst: CORS on Interconnect) to allow the origin {app} on the \
             {kind} at {server}."
        ),
        NextStep::ContactSupport,
    )
}

/// Shortens untrusted text for display, on a character boundary, marking the cut.
pub fn truncate_for_display(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_start_with_a_capital() {
        assert_eq!(sentence("the EHR refused"), "The EHR refused");
        // Cairn's messages start with its own ASCII words; other text is left as it is.
        assert_eq!(sentence("éclair"), "éclair");
        assert_eq!(sentence("“quoted”"), "“quoted”");
        assert_eq!(sentence(""), "");
        let p = Problem::new(
            "lower",
            "the EHR refused the sign-in code.",
            NextStep::Relaunch,
        );
        assert_eq!(p.detail, "The EHR refused the sign-in code.");
        assert_capitalised(&p);
    }

    #[test]
    fn a_request_blocked_by_cors_names_both_origins_and_whom_to_ask() {
        assert_eq!(FetchFailure::after_probe(true), FetchFailure::BlockedByCors);
        assert_eq!(FetchFailure::after_probe(false), FetchFailure::Unreachable);
        let p = cors_problem(
            Endpoint::Token,
            "https://ehr.example:8443/interconnect/oauth2/token",
            "https://apps.example.org/cairn/index.html",
        );
        assert_eq!(p.title, "Your EHR does not allow Cairn's web address");
        assert_eq!(
            p.detail,
            "The EHR's token endpoint (sign-in) at https://ehr.example:8443 answered, but not to \
             pages from https://apps.example.org, so the browser blocked the answer (CORS). Ask \
             your EHR's integration team (for Epic, your Epic analyst: CORS on Interconnect) to \
             allow the origin https://apps.example.org on the token endpoint (sign-in) at \
             https://ehr.example:8443."
        );
        assert_eq!(p.next_step, NextStep::ContactSupport);
        assert_capitalised(&p);
        for endpoint in [
            Endpoint::Discovery,
            Endpoint::Token,
            Endpoint::Fhir,
            Endpoint::Jwks,
            Endpoint::Style,
            Endpoint::SignIn,
        ] {
            let p = cors_problem(endpoint, "not a url", "");
            assert!(p.detail.contains(endpoint.describe()), "{p:?}");
            assert!(p.detail.contains("Cairn's web address"), "{p:?}");
            assert_capitalised(&p);
        }
    }

    #[test]
    fn an_answer_too_large_says_how_large_and_whom_to_ask() {
        let p = too_large_problem(Endpoint::Fhir, 5 * 1024 * 1024);
        assert_eq!(p.title, "Your EHR sent too much");
        assert_eq!(
            p.detail,
            format!(
                "The EHR sent more than 5 MB in one answer from its {}, more than Cairn reads \
                 at once, so Cairn stopped reading it. Ask your EHR's integration team to check \
                 what that server sends.",
                Endpoint::Fhir.describe()
            )
        );
        assert_eq!(p.next_step, NextStep::ContactSupport);
        assert_capitalised(&p);
        assert!(
            too_large_problem(Endpoint::Token, 256 * 1024)
                .detail
                .contains("256 KB")
        );
        assert!(
            too_large_problem(Endpoint::Jwks, 1000)
                .detail
                .contains("1 KB")
        );
    }

    #[test]
    fn sign_in_endpoints_are_told_apart_by_their_url() {
        for (url, kind) in [
            (
                "https://e/fhir/.well-known/smart-configuration",
                Endpoint::Discovery,
            ),
            ("https://e/fhir/metadata", Endpoint::Discovery),
            ("https://e/oauth2/token", Endpoint::Token),
            ("https://e/oauth2/jwks", Endpoint::Jwks),
            ("https://e/.well-known/jwks.json", Endpoint::Jwks),
            (
                "https://e/api/epic/2019/Security/Open/PublicKeys/1/OIDC",
                Endpoint::SignIn,
            ),
            ("garbage", Endpoint::SignIn),
        ] {
            assert_eq!(Endpoint::of_sign_in_url(url), kind, "{url}");
        }
    }

    #[test]
    fn truncation_is_character_safe() {
        assert_eq!(truncate_for_display("héllo wörld", 5), "héllo…");
        assert_eq!(truncate_for_display("short", 10), "short");
        assert_eq!(truncate_for_display("🙂🙂🙂", 2), "🙂🙂…");
    }
}
