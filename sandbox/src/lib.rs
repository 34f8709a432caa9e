//! Cairn's development EHR: a strict SMART on FHIR authorization server and FHIR R4 server
//! for loopback, with an EHR page that opens Cairn in an iframe as Epic's embedded browser does.
//!
//! It is deliberately strict (exact `redirect_uri`, `aud`, PKCE S256, single-use short-lived
//! codes) so that Cairn's mistakes fail here rather than at a hospital. Tokens look like
//! `AT-CANARY-<hex>` so that tests can search for leaks. Every request is logged for tests.

pub mod apphost;
mod fhir;
mod oauth;
mod pages;
mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::cors::CorsLayer;

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
}

impl Config {
    /// The development set-up: the EHR on `ehr_port`, Cairn on `app_port`, both on 127.0.0.1.
    pub fn dev(ehr_port: u16, app_port: u16) -> Config {
        let app_origin = format!("http://127.0.0.1:{app_port}");
        Config {
            origin: format!("http://127.0.0.1:{ehr_port}"),
            app_launch_url: format!("{app_origin}/"),
            redirect_uri: format!("{app_origin}/"),
            app_origin,
            client_id: "cairn-dev".into(),
        }
    }
}

/// A misbehaviour the EHR can be told to show, for testing Cairn's handling of it. Names follow
/// smart-launcher-v2's simulated errors where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `.well-known/smart-configuration` answers 404 with an HTML page (the CapabilityStatement
    /// at `/metadata` still works).
    DiscoveryNotFound,
    /// Authorize redirects back with `error=access_denied` (the user declined).
    AccessDenied,
    /// Authorize echoes a `state` other than the one it was given.
    WrongState,
    /// Authorize leaves `state` out of the redirect.
    MissingState,
    /// Authorize sends both a `code` and an `error`.
    CodeAndError,
    /// The token endpoint answers 400 `invalid_grant`.
    TokenInvalidGrant,
    /// The token endpoint answers 500.
    TokenServerError,
    /// The token response has no `access_token`.
    TokenWithoutAccessToken,
    /// The token response's `token_type` is `mac`.
    TokenWrongType,
    /// FHIR reads answer 401.
    FhirUnauthorized,
    /// FHIR reads answer 403.
    FhirForbidden,
    /// FHIR reads answer 500 with an OperationOutcome.
    FhirServerError,
    /// FHIR reads answer 200 with a body that is not JSON.
    FhirMalformed,
}

/// One request as the EHR received it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    pub path_and_query: String,
    pub authorization: Option<String>,
    pub origin: Option<String>,
    pub referer: Option<String>,
}

/// A running EHR's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Ehr {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: store::Store,
    state: Mutex<Sessions>,
    log: Mutex<Vec<LoggedRequest>>,
    faults: Mutex<Vec<Fault>>,
}

/// Launches, codes and tokens issued so far.
#[derive(Default)]
struct Sessions {
    launches: HashMap<String, Launch>,
    codes: HashMap<String, oauth::Grant>,
    tokens: HashMap<String, oauth::Token>,
}

struct Launch {
    patient: String,
    created: Instant,
}

impl Ehr {
    pub fn new(config: Config) -> Ehr {
        Ehr {
            inner: Arc::new(Inner {
                config,
                store: store::Store::load(),
                state: Mutex::new(Sessions::default()),
                log: Mutex::new(Vec::new()),
                faults: Mutex::new(Vec::new()),
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

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.inner.log).clone()
    }

    /// From now on, misbehave as `fault` says.
    pub fn inject(&self, fault: Fault) {
        lock(&self.inner.faults).push(fault);
    }

    pub(crate) fn has_fault(&self, fault: Fault) -> bool {
        lock(&self.inner.faults).contains(&fault)
    }

    /// Starts an EHR launch for a patient, as opening the chart does. `None` for an unknown id.
    pub fn create_launch(&self, patient_id: &str) -> Option<String> {
        self.inner.store.get("Patient", patient_id)?;
        let launch = random_token("launch-");
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
        let app_origin = HeaderValue::from_str(&self.inner.config.app_origin)
            .unwrap_or(HeaderValue::from_static("null"));
        let cors = CorsLayer::new()
            .allow_origin(app_origin)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::ACCEPT, header::CONTENT_TYPE])
            .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER]);
        let api = Router::new()
            .route(
                "/fhir/.well-known/smart-configuration",
                get(fhir::smart_configuration),
            )
            .route("/fhir/metadata", get(fhir::metadata))
            .route("/fhir/Patient/{id}", get(fhir::read_patient))
            .route("/oauth2/token", post(oauth::token))
            .layer(cors);
        Router::new()
            .route("/", get(pages::ehr_home))
            .route("/ehr/launch", get(pages::ehr_launch))
            .route("/oauth2/authorize", get(oauth::authorize))
            .merge(api)
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
        "client_id": config.client_id,
        "redirect_uri": config.redirect_uri,
        "fhir_servers": [{
            "name": "Cairn development EHR",
            "fhir_base": ehr.fhir_base(),
            "auth_origins": [config.origin],
        }],
    })
    .to_string()
}

async fn log_request(State(ehr): State<Ehr>, request: Request, next: Next) -> Response {
    let entry = logged(&request);
    lock(&ehr.inner.log).push(entry);
    next.run(request).await
}

fn logged(request: &Request) -> LoggedRequest {
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
