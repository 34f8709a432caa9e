//! Cairn's development EHR: a strict SMART on FHIR authorization server and FHIR R4 server
//! for loopback, with an EHR page that opens Cairn in an iframe as Epic's embedded browser does.
//!
//! It is deliberately strict (exact `redirect_uri`, `aud`, PKCE S256, single-use short-lived
//! codes) so that Cairn's mistakes fail here rather than at a hospital. Tokens look like
//! `AT-CANARY-<hex>` so that tests can search for leaks. Every request is logged for tests.
//!
//! In Epic mode ([`Ehr::set_epic_mode`], `/ehr/launch?…&epic=1`, `sandbox --epic`) it answers
//! as Epic's published documentation says: v1-only discovery and grants bounded by the
//! registered APIs, `bearer`, id_tokens without `name`, identifiers with `type.text` and OID
//! systems, Patient.Search's minimum data set, Epic's OperationOutcome codes, `sessionID`
//! paging that expires, ids longer than 64 characters and Epic codings (module `epic`).

pub mod apphost;
mod backend;
mod epic;
mod fhir;
mod generated;
mod jwt;
mod oauth;
mod pages;
mod search;
mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::cors::CorsLayer;

pub use backend::{BackendClient, ClientKeys};
pub use pages::url_encode;
pub use store::PatientSummary;

/// Where the EHR lives and which app it trusts. No `Default`: every value is a decision.
#[derive(Debug, Clone)]
pub struct Config {
    /// The EHR's origin, e.g. `http://127.0.0.1:9090` (no trailing slash).
    pub origin: String,
    /// The URL the EHR opens in its iframe, with `launch` and `iss` appended.
    pub app_launch_url: String,
    /// The app's origin, the only one allowed by CORS.
    pub app_origin: String,
    pub client_id: String,
    /// The one registered redirect URI, compared byte for byte.
    pub redirect_uri: String,
    /// Other apps registered with this EHR (the benchmark's `fhirclient` baseline), each with
    /// its own client id, redirect URI and origin. Empty in development and tests.
    pub other_apps: Vec<RegisteredApp>,
}

/// An app other than Cairn that this EHR trusts: the EHR page opens it for
/// `/ehr/launch?patient=…&app=<name>`.
#[derive(Debug, Clone)]
pub struct RegisteredApp {
    pub name: String,
    pub launch_url: String,
    pub origin: String,
    pub client_id: String,
    pub redirect_uri: String,
}

impl Config {
    /// The development set-up: the EHR on `ehr_port`, Cairn on `app_port`, both on 127.0.0.1.
    pub fn dev(ehr_port: u16, app_port: u16) -> Config {
        let app_origin = format!("http://127.0.0.1:{app_port}");
        Config {
            origin: format!("http://127.0.0.1:{ehr_port}"),
            // Cairn's launch page; the sign-in comes back to the app at the root.
            app_launch_url: format!("{app_origin}/launch.html"),
            redirect_uri: format!("{app_origin}/"),
            app_origin,
            client_id: "cairn-dev".into(),
            other_apps: Vec::new(),
        }
    }

    /// The registered redirect URI of `client_id`, if that client is registered.
    pub fn redirect_uri_of(&self, client_id: &str) -> Option<&str> {
        if client_id == self.client_id {
            return Some(&self.redirect_uri);
        }
        self.other_apps
            .iter()
            .find(|app| app.client_id == client_id)
            .map(|app| app.redirect_uri.as_str())
    }

    /// Where the EHR page opens the app called `name` (`None`: Cairn).
    pub(crate) fn launch_url_of(&self, name: Option<&str>) -> Option<&str> {
        match name {
            None => Some(&self.app_launch_url),
            Some(name) => self
                .other_apps
                .iter()
                .find(|app| app.name == name)
                .map(|app| app.launch_url.as_str()),
        }
    }
}

/// A misbehaviour the EHR can be told to show, for testing Cairn's handling of it. Names follow
/// smart-launcher-v2's simulated errors where one exists; [`Fault::name`] gives the snake_case
/// name the EHR page's fault menu and `/ehr/launch?fault=` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `.well-known/smart-configuration` answers 404 with an HTML page (the CapabilityStatement
    /// at `/metadata` still works).
    DiscoveryNotFound,
    /// `.well-known/smart-configuration` and `/metadata` both answer 200 with an HTML page.
    DiscoveryHtml,
    /// Discovery (both documents) names a token endpoint on another origin,
    /// `http://127.0.0.1:1/oauth2/token`.
    DiscoveryForeignEndpoints,
    /// `.well-known` lists only the `plain` PKCE method.
    DiscoveryNoS256,
    /// Authorize treats the client_id as unknown: a 400 error page, no redirect.
    AuthInvalidClientId,
    /// Authorize treats the redirect_uri as unregistered: a 400 error page, no redirect.
    AuthInvalidRedirectUri,
    /// Authorize redirects back with `error=invalid_scope`.
    AuthInvalidScope,
    /// Authorize redirects back with `error=access_denied` (the user declined).
    AccessDenied,
    /// Authorize echoes a `state` other than the one it was given.
    WrongState,
    /// Authorize leaves `state` out of the redirect.
    MissingState,
    /// Authorize sends both a `code` and an `error`.
    CodeAndError,
    /// Authorize redirects carry the RFC 9207 `iss` of another server,
    /// `https://evil.example/oauth2`.
    IssMismatch,
    /// The token endpoint answers 400 `invalid_grant` to a code exchange.
    TokenInvalidGrant,
    /// The token endpoint answers 500.
    TokenServerError,
    /// The token response has no `access_token`.
    TokenWithoutAccessToken,
    /// The token response's `token_type` is `mac`.
    TokenWrongType,
    /// The first access token issued is already expired, so the first FHIR read answers 401;
    /// later ones (after a refresh) work.
    TokenInvalidToken,
    /// `expires_in` is the string `"3600"`.
    ExpiresInString,
    /// `expires_in` is 0.
    ExpiresInZero,
    /// The token response has no `expires_in`.
    ExpiresInMissing,
    /// The `id_token`'s signature has one byte flipped.
    IdTokenBadSignature,
    /// The `id_token`'s `aud` is another client.
    IdTokenWrongAudience,
    /// Every refresh-token grant answers 400 `invalid_grant`.
    RefreshInvalidGrant,
    /// FHIR reads answer 401.
    FhirUnauthorized,
    /// FHIR reads answer 403.
    FhirForbidden,
    /// FHIR reads answer 500 with an OperationOutcome.
    FhirServerError,
    /// FHIR reads answer 200 with a body that is not JSON.
    FhirMalformed,
    /// The first two FHIR reads answer 429 with `Retry-After: 1`; later ones work.
    FhirTooManyRequests,
    /// FHIR reads wait 2 s before answering.
    FhirSlow,
    /// Searches' `next` link points at the page it is on.
    FhirNextLinkSelf,
    /// Page 2's `next` link points back at page 1.
    FhirNextLinkCycle,
    /// Searches' `next` link points at another origin, `http://127.0.0.1:1/fhir/…`.
    FhirNextLinkForeignOrigin,
    /// Page 2 of a search repeats page 1's entries (its `next` link is right).
    FhirDuplicatePages,
    /// Page 3 of a search answers 500 the first time it is asked for, then works.
    FhirFailOnPage3,
    /// Page 2 of each search answers 503 with `Retry-After: 1` the first time it is asked for.
    FhirSearchBusy,
    /// The JWKS is answered without CORS headers (the browser blocks reading it).
    JwksCorsBlocked,
    /// The id_token's `kid` matches no key; the JWKS has a single key, which does verify it.
    IdTokenUnknownKid,
    /// The id_token's `iat` and `exp` are 20 minutes in the past (a skewed clock): it looks
    /// expired, but its signature is fine.
    IdTokenClockSkew,
    /// The id_token's `fhirUser` is written under `{origin}/oauth2/api/FHIR/R4/…`, as in Epic's
    /// specification example.
    IdTokenFhirUserOauth2Path,
    /// The id_token carries no `name` claim (nor `given_name`, `family_name`), outside Epic
    /// mode too: who signed in is known only from its `fhirUser`.
    IdTokenWithoutName,
    /// Practitioner scopes are left out of the grant, whatever was asked: the app may not read
    /// the clinician's own Practitioner resource by scope.
    PractitionerNotGranted,
    /// FHIR responses, preflights included, carry no `Access-Control-Allow-Origin`.
    FhirCorsBlocked,
    /// Token endpoint responses, preflights included, carry no `Access-Control-Allow-Origin`.
    TokenCorsBlocked,
    /// Patient reads answer 403 with no body and `WWW-Authenticate: Bearer
    /// error="insufficient_scope"`.
    PatientReadInsufficientScope,
    /// Patient reads answer 403 with Epic's break-the-glass OperationOutcome (4130).
    BreakTheGlass,
    /// Refresh-token grants answer HTTP 403 `{"error":"invalid_grant",…}`.
    RefreshForbiddenInvalidGrant,
    /// Observation search ignores `encounter=` with a 4122 warning and returns every
    /// observation of the patient (that matches the other parameters).
    ObservationEncounterIgnored,
    /// Observation searches for the `social-history` category are refused (400, 59111), so one
    /// of several per-category searches fails alone.
    ObservationCategoryRefused,
    /// Epic mode: the granted scope's permissions in mixed case (`user/Observation.Read`).
    EpicScopeMixedCase,
    /// Epic mode: the granted scope without prefixes, as Epic's specification sample
    /// (`Patient.read Patient.search Observation.read …`).
    EpicScopeUnprefixed,
    /// The granted v2 scopes split per permission (`patient/Observation.r
    /// patient/Observation.s`), as some servers do.
    ScopeV2Split,
    /// Each search's first `sessionID` next link is already expired the first time it is used
    /// (4113); the same search started again pages normally.
    EpicPagingSessionExpired,
    /// The token endpoint answers every grant with `307 Temporary Redirect` to
    /// `/oauth2/token-elsewhere`, another path of this server that takes the grant as the token
    /// endpoint would (and is logged): a client that follows re-posts the code and verifier
    /// (or refresh token) there.
    TokenRedirect,
    /// Encounter and Observation searches also return the matching rows of another patient
    /// (the next one listed), as a server with a broken compartment filter would.
    FhirLeakOtherPatient,
    /// Observation searches answer 200 with a 24 MiB body (spaces) and an honest
    /// `Content-Length`, more than Cairn reads for any answer, sent slowly (about 40 s): only
    /// a client that trusts the length stops at once.
    ObservationHugeBody,
    /// Observation searches answer 200 with a body streamed without `Content-Length` (chunked)
    /// that never ends: spaces, as fast as the client takes them.
    ObservationEndlessBody,
}

impl Fault {
    /// Every fault, in the order the EHR page lists them.
    pub const ALL: [Fault; 56] = [
        Fault::DiscoveryNotFound,
        Fault::DiscoveryHtml,
        Fault::DiscoveryForeignEndpoints,
        Fault::DiscoveryNoS256,
        Fault::AuthInvalidClientId,
        Fault::AuthInvalidRedirectUri,
        Fault::AuthInvalidScope,
        Fault::AccessDenied,
        Fault::WrongState,
        Fault::MissingState,
        Fault::CodeAndError,
        Fault::IssMismatch,
        Fault::TokenInvalidGrant,
        Fault::TokenServerError,
        Fault::TokenWithoutAccessToken,
        Fault::TokenWrongType,
        Fault::TokenInvalidToken,
        Fault::ExpiresInString,
        Fault::ExpiresInZero,
        Fault::ExpiresInMissing,
        Fault::IdTokenBadSignature,
        Fault::IdTokenWrongAudience,
        Fault::RefreshInvalidGrant,
        Fault::FhirUnauthorized,
        Fault::FhirForbidden,
        Fault::FhirServerError,
        Fault::FhirMalformed,
        Fault::FhirTooManyRequests,
        Fault::FhirSlow,
        Fault::FhirNextLinkSelf,
        Fault::FhirNextLinkCycle,
        Fault::FhirNextLinkForeignOrigin,
        Fault::FhirDuplicatePages,
        Fault::FhirFailOnPage3,
        Fault::FhirSearchBusy,
        Fault::JwksCorsBlocked,
        Fault::IdTokenUnknownKid,
        Fault::IdTokenClockSkew,
        Fault::IdTokenFhirUserOauth2Path,
        Fault::IdTokenWithoutName,
        Fault::PractitionerNotGranted,
        Fault::FhirCorsBlocked,
        Fault::TokenCorsBlocked,
        Fault::PatientReadInsufficientScope,
        Fault::BreakTheGlass,
        Fault::RefreshForbiddenInvalidGrant,
        Fault::ObservationEncounterIgnored,
        Fault::ObservationCategoryRefused,
        Fault::EpicScopeMixedCase,
        Fault::EpicScopeUnprefixed,
        Fault::ScopeV2Split,
        Fault::EpicPagingSessionExpired,
        Fault::TokenRedirect,
        Fault::FhirLeakOtherPatient,
        Fault::ObservationHugeBody,
        Fault::ObservationEndlessBody,
    ];

    /// The snake_case name, e.g. `auth_invalid_client_id`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::DiscoveryNotFound => "discovery_not_found",
            Fault::DiscoveryHtml => "discovery_html",
            Fault::DiscoveryForeignEndpoints => "discovery_foreign_endpoints",
            Fault::DiscoveryNoS256 => "discovery_no_s256",
            Fault::AuthInvalidClientId => "auth_invalid_client_id",
            Fault::AuthInvalidRedirectUri => "auth_invalid_redirect_uri",
            Fault::AuthInvalidScope => "auth_invalid_scope",
            Fault::AccessDenied => "access_denied",
            Fault::WrongState => "wrong_state",
            Fault::MissingState => "missing_state",
            Fault::CodeAndError => "code_and_error",
            Fault::IssMismatch => "iss_mismatch",
            Fault::TokenInvalidGrant => "token_invalid_grant",
            Fault::TokenServerError => "token_server_error",
            Fault::TokenWithoutAccessToken => "token_without_access_token",
            Fault::TokenWrongType => "token_wrong_type",
            Fault::TokenInvalidToken => "token_invalid_token",
            Fault::ExpiresInString => "expires_in_string",
            Fault::ExpiresInZero => "expires_in_zero",
            Fault::ExpiresInMissing => "expires_in_missing",
            Fault::IdTokenBadSignature => "id_token_bad_signature",
            Fault::IdTokenWrongAudience => "id_token_wrong_audience",
            Fault::RefreshInvalidGrant => "refresh_invalid_grant",
            Fault::FhirUnauthorized => "fhir_unauthorized",
            Fault::FhirForbidden => "fhir_forbidden",
            Fault::FhirServerError => "fhir_server_error",
            Fault::FhirMalformed => "fhir_malformed",
            Fault::FhirTooManyRequests => "fhir_too_many_requests",
            Fault::FhirSlow => "fhir_slow",
            Fault::FhirNextLinkSelf => "fhir_next_link_self",
            Fault::FhirNextLinkCycle => "fhir_next_link_cycle",
            Fault::FhirNextLinkForeignOrigin => "fhir_next_link_foreign_origin",
            Fault::FhirDuplicatePages => "fhir_duplicate_pages",
            Fault::FhirFailOnPage3 => "fhir_fail_on_page_3",
            Fault::FhirSearchBusy => "fhir_search_busy",
            Fault::JwksCorsBlocked => "jwks_cors_blocked",
            Fault::IdTokenUnknownKid => "id_token_unknown_kid",
            Fault::IdTokenClockSkew => "id_token_clock_skew",
            Fault::IdTokenFhirUserOauth2Path => "id_token_fhiruser_oauth2_path",
            Fault::IdTokenWithoutName => "id_token_without_name",
            Fault::PractitionerNotGranted => "practitioner_not_granted",
            Fault::FhirCorsBlocked => "fhir_cors_blocked",
            Fault::TokenCorsBlocked => "token_cors_blocked",
            Fault::PatientReadInsufficientScope => "patient_read_insufficient_scope",
            Fault::BreakTheGlass => "break_the_glass",
            Fault::RefreshForbiddenInvalidGrant => "refresh_forbidden_invalid_grant",
            Fault::ObservationEncounterIgnored => "observation_encounter_ignored",
            Fault::ObservationCategoryRefused => "observation_category_refused",
            Fault::EpicScopeMixedCase => "epic_scope_mixed_case",
            Fault::EpicScopeUnprefixed => "epic_scope_unprefixed",
            Fault::ScopeV2Split => "scope_v2_split",
            Fault::EpicPagingSessionExpired => "epic_paging_session_expired",
            Fault::TokenRedirect => "token_redirect",
            Fault::FhirLeakOtherPatient => "fhir_leak_other_patient",
            Fault::ObservationHugeBody => "observation_huge_body",
            Fault::ObservationEndlessBody => "observation_endless_body",
        }
    }

    /// The fault called `name` (see [`Fault::name`]), if any.
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A hostile configured server's mix-up attack (RFC 9700 §4.4): its authorize endpoint sends the
/// browser on to an honest server's, with the honest server's client id, `aud` and registered
/// redirect URI and Cairn's own `state` and PKCE challenge, hoping Cairn then posts the honest
/// server's code, and the verifier, to this server's token endpoint. Set with
/// [`Ehr::set_mix_up`] on a second `Ehr` that Cairn's configuration lists as another server.
#[derive(Debug, Clone)]
pub struct MixUp {
    /// The honest server's authorization endpoint.
    pub authorize: String,
    /// The honest server's FHIR base, sent as `aud`.
    pub aud: String,
    /// Cairn's client id at the honest server.
    pub client_id: String,
    /// Cairn's redirect URI registered at the honest server.
    pub redirect_uri: String,
    /// The issuer this server's discovery names (e.g. the honest server's): `None` names none
    /// and promises no RFC 9207 `iss`.
    pub issuer: Option<String>,
}

/// One request as the EHR received it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    pub path_and_query: String,
    pub authorization: Option<String>,
    pub origin: Option<String>,
    pub referer: Option<String>,
    pub if_none_match: Option<String>,
    /// The `Epic-Client-ID` header (Epic's client id on discovery, when configured).
    pub epic_client_id: Option<String>,
    /// When the request arrived, since the EHR started.
    pub received: Duration,
    /// When its response (headers) left, since the EHR started; `None` while in progress.
    pub answered: Option<Duration>,
}

/// A running EHR's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Ehr {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// The zero of [`LoggedRequest::received`] and [`LoggedRequest::answered`].
    started: Instant,
    store: store::Store,
    state: Mutex<Sessions>,
    log: Mutex<Vec<LoggedRequest>>,
    faults: Mutex<Vec<Fault>>,
    settings: Mutex<Settings>,
    /// Backend-services clients and the assertion ids they used (module `backend`).
    backends: Mutex<backend::Backends>,
}

/// What tests may change about how the EHR answers.
struct Settings {
    /// How long a new access token lives.
    token_lifetime: Duration,
    /// `need_patient_banner` in EHR-launch token responses.
    need_patient_banner: serde_json::Value,
    /// Launch tokens as long as Epic's JWTs (about 2 500 characters).
    long_launch_tokens: bool,
    /// Added before every response, as a wide-area network would.
    latency: Duration,
    /// Answer as Epic does (see the `epic` module).
    epic_mode: bool,
    /// Epic mode: the APIs registered on the app (see [`Ehr::set_registered_apis`]).
    registered_apis: Vec<String>,
    /// Epic mode: how long a `sessionID` next link stays usable.
    paging_session_lifetime: Duration,
    /// Epic mode: the most matches a Patient search may have (Epic: 100).
    patient_search_limit: usize,
    /// Epic mode: a search by name needs `gender` too (an organisation's stricter minimum).
    patient_search_requires_gender: bool,
    mix_up: Option<MixUp>,
}

/// Launches, pending sign-ins, codes and tokens issued so far.
#[derive(Default)]
struct Sessions {
    launches: HashMap<String, Launch>,
    /// Standalone sign-ins waiting for the user, by their opaque `txn`.
    pending: HashMap<String, oauth::Pending>,
    codes: HashMap<String, oauth::Grant>,
    tokens: HashMap<String, oauth::Token>,
    refresh_tokens: HashMap<String, oauth::RefreshToken>,
    /// Access tokens issued since the faults were last set (for [`Fault::TokenInvalidToken`]).
    access_tokens_issued: u32,
    /// FHIR reads refused with 429 since the faults were last set.
    throttled: u32,
    /// Whether page 3 of a search has failed since the faults were last set
    /// ([`Fault::FhirFailOnPage3`]).
    page_3_failed: bool,
    /// Search pages answered 503 since the faults were last set ([`Fault::FhirSearchBusy`]).
    busy_pages: std::collections::HashSet<String>,
    /// Epic mode: the searches behind `sessionID` next links.
    paging_sessions: HashMap<String, epic::PagingSession>,
    /// Searches whose first `sessionID` has already expired
    /// ([`Fault::EpicPagingSessionExpired`]).
    expired_searches: std::collections::HashSet<String>,
}

struct Launch {
    patient: String,
    created: Instant,
}

impl Ehr {
    pub fn new(config: Config) -> Ehr {
        Ehr::with_bundles(config, &[])
    }

    /// An EHR that also holds the patients of `bundles` (Synthea bundles, JSON text), listed
    /// after the built-in ones.
    pub fn with_bundles(config: Config, bundles: &[String]) -> Ehr {
        Ehr {
            inner: Arc::new(Inner {
                config,
                started: Instant::now(),
                store: store::Store::load(bundles),
                state: Mutex::new(Sessions::default()),
                log: Mutex::new(Vec::new()),
                faults: Mutex::new(Vec::new()),
                settings: Mutex::new(Settings {
                    token_lifetime: Duration::from_secs(3600),
                    need_patient_banner: serde_json::Value::Bool(true),
                    long_launch_tokens: false,
                    latency: Duration::ZERO,
                    epic_mode: false,
                    registered_apis: epic::DEFAULT_REGISTERED_APIS
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect(),
                    paging_session_lifetime: Duration::from_secs(10 * 60),
                    patient_search_limit: 100,
                    patient_search_requires_gender: false,
                    mix_up: None,
                }),
                backends: Mutex::default(),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn fhir_base(&self) -> String {
        format!("{}/fhir", self.inner.config.origin)
    }

    /// The authorization server's issuer (RFC 9207), distinct from the FHIR base.
    pub fn issuer(&self) -> String {
        format!("{}/oauth2", self.inner.config.origin)
    }

    pub fn patients(&self) -> Vec<PatientSummary> {
        self.inner.store.patients().to_vec()
    }

    /// The id of the generated "scale" patient: 10 000 Observations (vital signs and labs, over
    /// ten years from 2015) and 200 Encounters. Listed after the Synthea patients.
    /// Every `resource_type` resource in a patient's compartment, as served (for tests that
    /// compare what Cairn shows with the underlying data).
    /// In Epic mode, as Epic mode serves them.
    pub fn resources_of(&self, resource_type: &str, patient_id: &str) -> Vec<serde_json::Value> {
        self.inner
            .store
            .compartment(resource_type, patient_id)
            .into_iter()
            .map(|r| self.served(r))
            .collect()
    }

    /// A stored resource as this EHR serves it now (reshaped in Epic mode).
    pub(crate) fn served(&self, resource: &serde_json::Value) -> serde_json::Value {
        if self.epic_mode() {
            epic::reshape(resource)
        } else {
            resource.clone()
        }
    }

    pub fn scale_patient_id() -> &'static str {
        generated::SCALE_PATIENT_ID
    }

    /// The id of the generated "hostile" patient: markup in names and text, right-to-left
    /// names, a partial birth date and an Observation for every `value[x]`. Listed last.
    pub fn hostile_patient_id() -> &'static str {
        generated::HOSTILE_PATIENT_ID
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.inner.log).clone()
    }

    /// From now on, misbehave as `fault` says (as well as any fault injected before).
    pub fn inject(&self, fault: Fault) {
        lock(&self.inner.faults).push(fault);
    }

    /// From now on, misbehave only as `fault` says (`None`: behave), as a demo launch with a
    /// fault chosen does. Counting faults (429s, the first expired token) start again.
    pub fn set_fault(&self, fault: Option<Fault>) {
        *lock(&self.inner.faults) = fault.into_iter().collect();
        let mut sessions = self.sessions();
        sessions.access_tokens_issued = 0;
        sessions.throttled = 0;
        sessions.page_3_failed = false;
        sessions.busy_pages.clear();
        sessions.expired_searches.clear();
    }

    /// Turns this EHR into a hostile server that runs `mix_up` (or back into an honest one).
    pub fn set_mix_up(&self, mix_up: Option<MixUp>) {
        lock(&self.inner.settings).mix_up = mix_up;
    }

    pub(crate) fn mix_up(&self) -> Option<MixUp> {
        lock(&self.inner.settings).mix_up.clone()
    }

    /// Answers as Epic does (true) or as a standard SMART EHR (false, the default). The EHR
    /// page's `/ehr/launch?…&epic=1` sets it per launch; a launch without it turns it off.
    pub fn set_epic_mode(&self, on: bool) {
        lock(&self.inner.settings).epic_mode = on;
    }

    /// Whether the EHR answers as Epic does.
    pub fn epic_mode(&self) -> bool {
        lock(&self.inner.settings).epic_mode
    }

    /// Epic mode: the APIs registered on the app, which bound the granted scope. Each is a
    /// resource type (`Patient`, `Encounter`, `Practitioner`, `Observation`: its Read and Search
    /// APIs) or `Observation:<category>` (the Observation APIs of one category only). Default:
    /// Patient, Encounter, Observation (every category) and Practitioner.
    pub fn set_registered_apis(&self, apis: &[&str]) {
        lock(&self.inner.settings).registered_apis = apis.iter().map(|s| (*s).to_owned()).collect();
    }

    pub(crate) fn registered_apis(&self) -> Vec<String> {
        lock(&self.inner.settings).registered_apis.clone()
    }

    /// Epic mode: how long a search's `sessionID` next link stays usable (default 10 minutes);
    /// afterwards it answers 400 with OperationOutcome 4113.
    pub fn set_paging_session_lifetime(&self, lifetime: Duration) {
        lock(&self.inner.settings).paging_session_lifetime = lifetime;
    }

    pub(crate) fn paging_session_lifetime(&self) -> Duration {
        lock(&self.inner.settings).paging_session_lifetime
    }

    /// Epic mode: the most matches a Patient search may have before it is refused with 4127
    /// (default 100, as Epic; the store has only a few patients, so tests lower it).
    pub fn set_patient_search_limit(&self, limit: usize) {
        lock(&self.inner.settings).patient_search_limit = limit;
    }

    pub(crate) fn patient_search_limit(&self) -> usize {
        lock(&self.inner.settings).patient_search_limit
    }

    /// Epic mode: whether a Patient search by name must give `gender` as well as `family`,
    /// `given` and `birthdate` (default false). Epic's minimum data set is configurable per
    /// organisation; this is one that is stricter than the default, so that a search without
    /// the sex is refused with 59133 (an identifier or `_id` still suffices).
    pub fn set_patient_search_requires_gender(&self, required: bool) {
        lock(&self.inner.settings).patient_search_requires_gender = required;
    }

    pub(crate) fn patient_search_requires_gender(&self) -> bool {
        lock(&self.inner.settings).patient_search_requires_gender
    }

    pub(crate) fn has_fault(&self, fault: Fault) -> bool {
        lock(&self.inner.faults).contains(&fault)
    }

    /// Access tokens issued from now on live for `lifetime` (default 3600 s).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        lock(&self.inner.settings).token_lifetime = lifetime;
    }

    /// Every access token issued so far expires now (refresh tokens stay valid).
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for token in self.sessions().tokens.values_mut() {
            token.expires = now;
        }
    }

    /// The `need_patient_banner` EHR launches send (default `true`), e.g. the string `"false"`
    /// as Epic does. Standalone launches always send `true`.
    pub fn set_need_patient_banner(&self, value: serde_json::Value) {
        lock(&self.inner.settings).need_patient_banner = value;
    }

    /// From now on, issue launch tokens shaped and sized like Epic's signed JWTs (three
    /// base64url parts, about 2 500 characters), so that a GET authorize URL gets too long.
    pub fn use_long_launch_tokens(&self) {
        lock(&self.inner.settings).long_launch_tokens = true;
    }

    /// From now on, every response (preflights and pages included) leaves `latency` after its
    /// request arrived, at the earliest, like a hospital's wide-area network (default none).
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.inner.settings).latency = latency;
    }

    pub(crate) fn token_lifetime(&self) -> Duration {
        lock(&self.inner.settings).token_lifetime
    }

    pub(crate) fn need_patient_banner(&self) -> serde_json::Value {
        lock(&self.inner.settings).need_patient_banner.clone()
    }

    /// Starts an EHR launch for a patient, as opening the chart does. `None` for an unknown id.
    pub fn create_launch(&self, patient_id: &str) -> Option<String> {
        self.inner.store.get("Patient", patient_id)?;
        let mut launch = random_token("launch-");
        if lock(&self.inner.settings).long_launch_tokens {
            // A JWT-like token: what matters is its length and alphabet (`.`, `-`, `_`).
            let part = random_token("").repeat(38);
            launch = format!("eyJhbGciOiJSUzI1NiJ9.{part}.{launch}_{part}");
        }
        lock(&self.inner.state).launches.insert(
            launch.clone(),
            Launch {
                patient: patient_id.to_owned(),
                created: Instant::now(),
            },
        );
        Some(launch)
    }

    pub fn router(&self) -> Router {
        let config = &self.inner.config;
        let app_origins: Vec<HeaderValue> = std::iter::once(&config.app_origin)
            .chain(config.other_apps.iter().map(|app| &app.origin))
            .filter_map(|origin| HeaderValue::from_str(origin).ok())
            .collect();
        let cors = CorsLayer::new()
            .allow_origin(app_origins)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::ACCEPT,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                header::HeaderName::from_static("epic-client-id"),
            ])
            .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER, header::ETAG]);
        let api = Router::new()
            .route(
                "/fhir/.well-known/smart-configuration",
                get(fhir::smart_configuration),
            )
            .route("/fhir/metadata", get(fhir::metadata))
            .route("/fhir/Patient", get(fhir::search_patients))
            .route("/fhir/Patient/{id}", get(fhir::read_patient))
            .route("/fhir/Practitioner/{id}", get(fhir::read_practitioner))
            .route("/fhir/Encounter", get(search::search_encounters))
            .route("/fhir/Encounter/{id}", get(fhir::read_encounter))
            .route("/fhir/Observation", get(search::search_observations))
            .route("/fhir/Observation/{id}", get(search::read_observation))
            .route("/oauth2/token", post(oauth::token))
            .route("/oauth2/token-elsewhere", post(oauth::token_elsewhere))
            .route("/oauth2/jwks", get(jwt::jwks))
            .route("/ehr/smart-style.json", get(fhir::smart_style))
            .route("/brands.json", get(fhir::brands))
            .route("/logo.svg", get(pages::logo))
            .layer(cors)
            .layer(middleware::from_fn_with_state(self.clone(), cors_faults));
        Router::new()
            .route("/", get(pages::ehr_home))
            .route("/ehr/launch", get(pages::ehr_launch))
            .route(
                "/oauth2/authorize",
                get(oauth::authorize_get).post(oauth::authorize_post),
            )
            .route("/oauth2/authorize/login", post(oauth::login))
            .route("/oauth2/authorize/patient", post(oauth::pick_patient))
            .route("/oauth2/authorize/consent", post(oauth::consent))
            .merge(api)
            .layer(middleware::from_fn_with_state(self.clone(), delay))
            .layer(middleware::from_fn_with_state(self.clone(), log_request))
            .with_state(self.clone())
    }

    /// Serves the EHR on `listener` until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    fn sessions(&self) -> MutexGuard<'_, Sessions> {
        lock(&self.inner.state)
    }
}

/// The configuration Cairn needs to use this EHR (served as `cairn.config.json`).
pub fn cairn_config_json(ehr: &Ehr) -> String {
    let config = ehr.config();
    serde_json::json!({
        "redirect_uri": config.redirect_uri,
        "fhir_servers": [{
            "name": "Cairn development EHR",
            "client_id": config.client_id,
            "fhir_base": ehr.fhir_base(),
            "auth_origins": [config.origin],
            "issuer": ehr.issuer(),
            "logo": format!("{}/logo.svg", config.origin),
        }],
        "ehr_origins": [config.origin],
        "brand_bundle": format!("{}/brands.json", config.origin),
    })
    .to_string()
}

/// The configuration Cairn needs to use this EHR in Epic mode: the same server, with the MRN
/// named by its Epic identifier type (`MRN`) and the `Epic-Client-ID` header on discovery.
pub fn cairn_epic_config_json(ehr: &Ehr) -> String {
    let mut config: serde_json::Value =
        serde_json::from_str(&cairn_config_json(ehr)).expect("our own JSON parses");
    let server = &mut config["fhir_servers"][0];
    server["mrn"] = serde_json::json!({"type_text": "MRN"});
    server["epic_client_id_header"] = true.into();
    config.to_string()
}

/// Takes the CORS headers off the answers a CORS fault blocks (preflights included).
async fn cors_faults(State(ehr): State<Ehr>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let blocked = (ehr.has_fault(Fault::JwksCorsBlocked) && path == "/oauth2/jwks")
        || (ehr.has_fault(Fault::TokenCorsBlocked) && path == "/oauth2/token")
        || (ehr.has_fault(Fault::FhirCorsBlocked) && path.starts_with("/fhir/"));
    if blocked {
        let headers = response.headers_mut();
        for name in [
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
        ] {
            headers.remove(name);
        }
    }
    response
}

async fn log_request(State(ehr): State<Ehr>, request: Request, next: Next) -> Response {
    let entry = logged(&request, ehr.inner.started.elapsed());
    let index = {
        let mut log = lock(&ehr.inner.log);
        log.push(entry);
        log.len() - 1
    };
    let response = next.run(request).await;
    if let Some(entry) = lock(&ehr.inner.log).get_mut(index) {
        entry.answered = Some(ehr.inner.started.elapsed());
    }
    response
}

/// Holds every response back by the configured latency.
async fn delay(State(ehr): State<Ehr>, request: Request, next: Next) -> Response {
    let latency = lock(&ehr.inner.settings).latency;
    let response = next.run(request).await;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    response
}

fn logged(request: &Request, received: Duration) -> LoggedRequest {
    let header = |name: header::HeaderName| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    LoggedRequest {
        method: request.method().to_string(),
        path_and_query: request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        authorization: header(header::AUTHORIZATION),
        origin: header(header::ORIGIN),
        referer: header(header::REFERER),
        if_none_match: header(header::IF_NONE_MATCH),
        epic_client_id: header(header::HeaderName::from_static("epic-client-id")),
        received,
        answered: None,
    }
}

/// A poisoned lock only means another request panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `prefix` + 32 hex characters (128 bits) from the OS random source.
fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the OS random source works");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo xtask demo` serves the release as built, with the checked-in configuration: it
    /// must be the one this EHR gives for its default ports.
    #[test]
    fn the_checked_in_configuration_is_the_development_ehrs() {
        let checked_in: serde_json::Value =
            serde_json::from_str(include_str!("../../cairn.config.json")).unwrap();
        let ehr = Ehr::new(Config::dev(9090, 8080));
        let generated: serde_json::Value = serde_json::from_str(&cairn_config_json(&ehr)).unwrap();
        assert_eq!(checked_in, generated);
    }
}
