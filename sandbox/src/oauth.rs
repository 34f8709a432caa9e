//! The authorization server: authorize (EHR launch, auto-approved; standalone launch, with
//! sign-in, patient picker and consent pages), and the token endpoint (authorization code and
//! rotating refresh tokens).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::store::{PRACTITIONER_ID, PRACTITIONER_NAME};
use crate::{Ehr, Fault, epic, jwt, pages, random_token};

const LAUNCH_TTL: Duration = Duration::from_secs(5 * 60);
const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a standalone sign-in may wait on the user.
const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// The EHR's name on its sign-in pages.
const EHR_NAME: &str = "Cairn development EHR";
/// The RFC 9207 `iss` sent under [`Fault::IssMismatch`].
const EVIL_ISSUER: &str = "https://evil.example/oauth2";

/// Who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    /// A patient, signed in to their own record (standalone launch).
    Patient(String),
    /// The EHR's clinician, Dr. Ada Clinician (every EHR launch, or a standalone sign-in).
    Practitioner,
}

/// How the app was launched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchKind {
    /// Opened from a chart with a `launch` parameter; approved at once.
    Ehr,
    /// Started by the app; the user signs in and consents on the EHR's pages.
    Standalone,
}

/// What the user approved: the context every token of one authorization carries.
#[derive(Debug, Clone)]
pub struct Context {
    pub client_id: String,
    /// The granted scope, space-separated.
    pub scope: String,
    pub user: User,
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub launch: LaunchKind,
}

/// What an authorization code stands for.
pub struct Grant {
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    context: Context,
    issued: Instant,
}

/// An access token.
pub struct Token {
    pub context: Context,
    /// The authorization it descends from; reuse of a refresh token revokes the whole family.
    family: String,
    pub expires: Instant,
}

/// A refresh token. Used ones are kept, so that their reuse can be detected.
pub struct RefreshToken {
    context: Context,
    family: String,
    used: bool,
    revoked: bool,
}

/// A checked authorize request.
#[derive(Clone)]
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: String,
    code_challenge: String,
    nonce: Option<String>,
}

/// A standalone sign-in waiting for the user, kept server-side under its `txn`.
pub struct Pending {
    request: AuthRequest,
    created: Instant,
    user: Option<User>,
    patient: Option<String>,
}

/// `GET /oauth2/authorize`.
pub async fn authorize_get(
    State(ehr): State<Ehr>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    authorize(&ehr, params)
}

/// `POST /oauth2/authorize` (capability `authorize-post`): the same parameters, form-encoded.
pub async fn authorize_post(
    State(ehr): State<Ehr>,
    Form(params): Form<Vec<(String, String)>>,
) -> Response {
    authorize(&ehr, params)
}

fn authorize(ehr: &Ehr, params: Vec<(String, String)>) -> Response {
    if let Some(mix_up) = ehr.mix_up() {
        return bounce(&mix_up, params);
    }
    let Some(q) = single_valued(params) else {
        return error_page("A parameter appears more than once in the authorization request.");
    };
    let config = ehr.config();
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    // Without a trusted client and redirect URI, errors must not be redirected (RFC 6749 §4.1.2.1).
    let client_id = param("client_id");
    let Some(redirect_uri) = config
        .redirect_uri_of(client_id)
        .filter(|_| !ehr.has_fault(Fault::AuthInvalidClientId))
    else {
        return error_page("Unknown client_id: this app is not registered with this EHR.");
    };
    if param("redirect_uri") != redirect_uri || ehr.has_fault(Fault::AuthInvalidRedirectUri) {
        return error_page("The redirect_uri does not match the one registered for this app.");
    }
    let state = param("state");
    let fail = |error: &str, description: &str| -> Response {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if !state.is_empty() {
            pairs.push(("state", state));
        }
        redirect_with(ehr, redirect_uri, &pairs)
    };
    if param("response_type") != "code" {
        return fail("unsupported_response_type", "response_type must be code");
    }
    if state.is_empty() {
        return fail("invalid_request", "state is required");
    }
    if param("aud") != ehr.fhir_base() {
        return fail("invalid_request", "aud must be this EHR's FHIR base URL");
    }
    let challenge = param("code_challenge");
    if param("code_challenge_method") != "S256" || !(43..=128).contains(&challenge.len()) {
        return fail(
            "invalid_request",
            "PKCE with code_challenge_method=S256 is required",
        );
    }
    if ehr.has_fault(Fault::AuthInvalidScope) {
        return fail("invalid_scope", "this app may not ask for that scope");
    }
    let scope = param("scope");
    if let Some(system) = scope.split_whitespace().find(|s| s.starts_with("system/")) {
        return fail(
            "invalid_scope",
            &format!("{system} is for backend services (client_credentials), not a sign-in"),
        );
    }
    if ehr.epic_mode()
        && let Err(why) = epic::grant(scope, false, &ehr.registered_apis())
    {
        return fail("invalid_scope", &why);
    }
    let request = AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scope: scope.to_owned(),
        state: state.to_owned(),
        code_challenge: challenge.to_owned(),
        nonce: q.get("nonce").filter(|n| !n.is_empty()).cloned(),
    };
    let launch = param("launch");
    if !launch.is_empty() {
        if !has_scope(scope, "launch") {
            return fail("invalid_scope", "an EHR launch needs the launch scope");
        }
        let patient = match ehr.sessions().launches.get(launch) {
            Some(l) if l.created.elapsed() < LAUNCH_TTL => l.patient.clone(),
            _ => return fail("invalid_request", "unknown or expired launch"),
        };
        let context = Context {
            client_id: request.client_id.clone(),
            scope: granted_scope(ehr, &request.scope, false),
            user: User::Practitioner,
            encounter: ehr.inner.store.encounters_of(&patient).into_iter().next(),
            patient: Some(patient),
            launch: LaunchKind::Ehr,
        };
        return issue_code(ehr, &request, context);
    }
    if has_scope(scope, "launch") {
        return fail(
            "invalid_request",
            "the launch scope needs the launch parameter of an EHR launch",
        );
    }
    if scope.split_whitespace().next().is_none() {
        return fail("invalid_scope", "scope is required");
    }
    // Standalone launch: the user signs in and consents on the EHR's own pages.
    let txn = random_token("txn-");
    let mut sessions = ehr.sessions();
    sessions
        .pending
        .retain(|_, p| p.created.elapsed() < PENDING_TTL);
    sessions.pending.insert(
        txn.clone(),
        Pending {
            request,
            created: Instant::now(),
            user: None,
            patient: None,
        },
    );
    drop(sessions);
    login_page(ehr, &txn)
}

/// The hostile server's mix-up: the same request, sent on to the honest server as if Cairn had
/// made it there (only what identifies the client and the resource changed).
fn bounce(mix_up: &crate::MixUp, params: Vec<(String, String)>) -> Response {
    let query = params
        .into_iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                "client_id" => mix_up.client_id.clone(),
                "aud" => mix_up.aud.clone(),
                "redirect_uri" => mix_up.redirect_uri.clone(),
                _ => v,
            };
            format!("{k}={}", pages::url_encode(&v))
        })
        .collect::<Vec<_>>()
        .join("&");
    let sep = if mix_up.authorize.contains('?') {
        '&'
    } else {
        '?'
    };
    Redirect::to(&format!("{}{sep}{query}", mix_up.authorize)).into_response()
}

/// `POST /oauth2/authorize/login`: `txn` and `user` (`patient:<id>` or `practitioner`).
pub async fn login(State(ehr): State<Ehr>, Form(form): Form<Vec<(String, String)>>) -> Response {
    let Some(form) = single_valued(form) else {
        return error_page("A field appears more than once.");
    };
    let user = match form.get("user").map(String::as_str) {
        Some("practitioner") => User::Practitioner,
        Some(choice) => match choice.strip_prefix("patient:") {
            Some(id) if ehr.inner.store.get("Patient", id).is_some() => {
                User::Patient(id.to_owned())
            }
            _ => return error_page("No such user."),
        },
        None => return error_page("Choose who to sign in as."),
    };
    let txn = form.get("txn").map(String::as_str).unwrap_or("");
    let mut sessions = ehr.sessions();
    let Some(pending) = live_pending(&mut sessions.pending, txn) else {
        return expired_page();
    };
    if pending.user.is_some() {
        return error_page("This sign-in has already chosen its user.");
    }
    pending.user = Some(user.clone());
    let picker = user == User::Practitioner && has_scope(&pending.request.scope, "launch/patient");
    let request = pending.request.clone();
    drop(sessions);
    if picker {
        patient_picker_page(&ehr, txn)
    } else {
        consent_page(&ehr, txn, &request, &user, None)
    }
}

/// `POST /oauth2/authorize/patient`: `txn` and `patient`, the clinician's choice of record.
pub async fn pick_patient(
    State(ehr): State<Ehr>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let Some(form) = single_valued(form) else {
        return error_page("A field appears more than once.");
    };
    let patient = form.get("patient").map(String::as_str).unwrap_or("");
    if ehr.inner.store.get("Patient", patient).is_none() {
        return error_page("No such patient.");
    }
    let txn = form.get("txn").map(String::as_str).unwrap_or("");
    let mut sessions = ehr.sessions();
    let Some(pending) = live_pending(&mut sessions.pending, txn) else {
        return expired_page();
    };
    let picks = pending.user == Some(User::Practitioner)
        && has_scope(&pending.request.scope, "launch/patient");
    if !picks || pending.patient.is_some() {
        return error_page("This sign-in does not choose a patient now.");
    }
    pending.patient = Some(patient.to_owned());
    let request = pending.request.clone();
    drop(sessions);
    consent_page(&ehr, txn, &request, &User::Practitioner, Some(patient))
}

/// `POST /oauth2/authorize/consent`: `txn`, `decision` (`allow` or `deny`) and the ticked
/// `scope` values, a subset of those requested.
pub async fn consent(State(ehr): State<Ehr>, Form(form): Form<Vec<(String, String)>>) -> Response {
    let ticked: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    let field = |name: &str| {
        let mut values = form.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (Some(v), None) => Some(v.as_str()),
            _ => None,
        }
    };
    let (Some(txn), Some(decision)) = (field("txn"), field("decision")) else {
        return error_page("The consent form is incomplete.");
    };
    let mut sessions = ehr.sessions();
    let Some(pending) = live_pending(&mut sessions.pending, txn) else {
        return expired_page();
    };
    let Some(user) = pending.user.clone() else {
        return error_page("Sign in first.");
    };
    let picks = user == User::Practitioner && has_scope(&pending.request.scope, "launch/patient");
    if picks && pending.patient.is_none() {
        return error_page("Choose a patient first.");
    }
    // The consent decision ends the sign-in, whatever it is.
    let Some(pending) = sessions.pending.remove(txn) else {
        return expired_page();
    };
    drop(sessions);
    let request = pending.request;
    let requested: Vec<&str> = request.scope.split_whitespace().collect();
    if let Some(extra) = ticked.iter().find(|s| !requested.contains(s)) {
        return error_page(&format!("The scope {extra} was not requested."));
    }
    match decision {
        "deny" => redirect_with(
            &ehr,
            &request.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "The user denied access."),
                ("state", &request.state),
            ],
        ),
        "allow" => {
            let mut granted: Vec<&str> = Vec::new();
            for s in requested.iter().filter(|s| ticked.contains(s)) {
                if !granted.contains(s) {
                    granted.push(s);
                }
            }
            let patient = match &user {
                User::Patient(id) => Some(id.clone()),
                User::Practitioner => pending.patient,
            };
            let scope = granted_scope(&ehr, &granted.join(" "), matches!(user, User::Patient(_)));
            let context = Context {
                client_id: request.client_id.clone(),
                scope,
                user,
                patient,
                encounter: None,
                launch: LaunchKind::Standalone,
            };
            issue_code(&ehr, &request, context)
        }
        _ => error_page("Choose Allow or Deny."),
    }
}

/// The scope granted for `requested` (already checked at authorize): as asked, or in Epic mode
/// as Epic grants it ([`epic::grant`]); without Practitioner scopes under
/// [`Fault::PractitionerNotGranted`]; then spelled as a scope fault says.
fn granted_scope(ehr: &Ehr, requested: &str, patient_user: bool) -> String {
    let epic_mode = ehr.epic_mode();
    let requested = if ehr.has_fault(Fault::PractitionerNotGranted) {
        requested
            .split_whitespace()
            .filter(|s| !s.contains("/Practitioner.") && !s.starts_with("Practitioner."))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        requested.to_owned()
    };
    let requested = requested.as_str();
    let granted = if epic_mode {
        epic::grant(requested, patient_user, &ehr.registered_apis()).unwrap_or_default()
    } else {
        requested.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    epic::spell(
        &granted,
        epic_mode && ehr.has_fault(Fault::EpicScopeMixedCase),
        epic_mode && ehr.has_fault(Fault::EpicScopeUnprefixed),
        ehr.has_fault(Fault::ScopeV2Split),
    )
}

/// The pending sign-in `txn`, if it exists and has not expired.
fn live_pending<'a>(
    pending: &'a mut HashMap<String, Pending>,
    txn: &str,
) -> Option<&'a mut Pending> {
    pending
        .get_mut(txn)
        .filter(|p| p.created.elapsed() < PENDING_TTL)
}

/// Stores a code for `context` and redirects to the app with it (or as a fault says).
fn issue_code(ehr: &Ehr, request: &AuthRequest, context: Context) -> Response {
    let code = random_token("code-");
    ehr.sessions().codes.insert(
        code.clone(),
        Grant {
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            nonce: request.nonce.clone(),
            context,
            issued: Instant::now(),
        },
    );
    let state = request.state.as_str();
    let pairs: Vec<(&str, &str)> = if ehr.has_fault(Fault::AccessDenied) {
        vec![
            ("error", "access_denied"),
            ("error_description", "The user <b>declined</b> access."),
            ("state", state),
        ]
    } else if ehr.has_fault(Fault::WrongState) {
        vec![("code", &code), ("state", "forged-state")]
    } else if ehr.has_fault(Fault::MissingState) {
        vec![("code", &code)]
    } else if ehr.has_fault(Fault::CodeAndError) {
        vec![("code", &code), ("error", "server_error"), ("state", state)]
    } else {
        vec![("code", &code), ("state", state)]
    };
    redirect_with(ehr, &request.redirect_uri, &pairs)
}

/// `POST /oauth2/token`: `grant_type=authorization_code` (PKCE, exact redirect_uri) or
/// `grant_type=refresh_token` (rotation; a reused refresh token revokes its whole family).
pub async fn token(
    State(ehr): State<Ehr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if ehr.has_fault(Fault::TokenRedirect) {
        return (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "/oauth2/token-elsewhere")],
        )
            .into_response();
    }
    grant(&ehr, &headers, &form).await
}

/// `POST /oauth2/token-elsewhere`: where [`Fault::TokenRedirect`] sends token requests. It
/// answers them as the token endpoint would, so a client that followed the redirect signs in.
pub async fn token_elsewhere(
    State(ehr): State<Ehr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    grant(&ehr, &headers, &form).await
}

async fn grant(ehr: &Ehr, headers: &HeaderMap, form: &HashMap<String, String>) -> Response {
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(ehr, form),
        Some("refresh_token") => refresh_grant(ehr, form),
        Some("client_credentials") => crate::backend::client_credentials(ehr, headers, form).await,
        _ => oauth_error(
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials",
        ),
    }
}

fn code_grant(ehr: &Ehr, form: &HashMap<String, String>) -> Response {
    let param = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    for field in ["code", "redirect_uri", "client_id", "code_verifier"] {
        if param(field).is_empty() {
            return oauth_error("invalid_request", &format!("{field} is required"));
        }
    }
    // A code is consumed when first presented, whether or not the exchange succeeds.
    let Some(grant) = ehr.sessions().codes.remove(param("code")) else {
        return oauth_error("invalid_grant", "unknown or already used code");
    };
    if grant.issued.elapsed() > CODE_TTL {
        return oauth_error("invalid_grant", "the code has expired");
    }
    if param("client_id") != grant.context.client_id {
        return oauth_error("invalid_grant", "client_id does not match the code");
    }
    if param("redirect_uri") != grant.redirect_uri {
        return oauth_error("invalid_grant", "redirect_uri does not match the code");
    }
    if s256(param("code_verifier")) != grant.code_challenge {
        return oauth_error(
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        );
    }
    if ehr.has_fault(Fault::TokenInvalidGrant) {
        return oauth_error("invalid_grant", "the code was revoked");
    }
    if ehr.has_fault(Fault::TokenServerError) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "token service down").into_response();
    }
    let family = random_token("family-");
    let id_token = has_scope(&grant.context.scope, "openid")
        .then(|| id_token_for(ehr, &grant.context, grant.nonce.as_deref()));
    issue_tokens(ehr, &grant.context, &family, &grant.context.scope, id_token)
}

fn refresh_grant(ehr: &Ehr, form: &HashMap<String, String>) -> Response {
    let param = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    for field in ["refresh_token", "client_id"] {
        if param(field).is_empty() {
            return oauth_error("invalid_request", &format!("{field} is required"));
        }
    }
    if ehr.has_fault(Fault::RefreshInvalidGrant) {
        return oauth_error("invalid_grant", "the refresh token was revoked");
    }
    if ehr.has_fault(Fault::RefreshForbiddenInvalidGrant) {
        let body = json!({
            "error": "invalid_grant",
            "error_description": "The refresh token has expired or was revoked.",
        });
        return no_store((StatusCode::FORBIDDEN, axum::Json(body)).into_response());
    }
    let mut sessions = ehr.sessions();
    let Some(refresh) = sessions.refresh_tokens.get_mut(param("refresh_token")) else {
        return oauth_error("invalid_grant", "unknown refresh token");
    };
    if refresh.revoked {
        return oauth_error("invalid_grant", "the refresh token was revoked");
    }
    if param("client_id") != refresh.context.client_id {
        return oauth_error(
            "invalid_grant",
            "client_id does not match the refresh token",
        );
    }
    if refresh.used {
        // Reuse means the token was stolen or the client is confused: end the whole sign-in.
        let family = refresh.family.clone();
        for rt in sessions.refresh_tokens.values_mut() {
            if rt.family == family {
                rt.revoked = true;
            }
        }
        sessions.tokens.retain(|_, t| t.family != family);
        return oauth_error(
            "invalid_grant",
            "the refresh token was already used; every token of this sign-in is now revoked",
        );
    }
    // A refused narrowing leaves the refresh token usable.
    let mut access = refresh.context.clone();
    let narrowed = param("scope");
    if !narrowed.is_empty() {
        if let Some(extra) = narrowed
            .split_whitespace()
            .find(|s| !has_scope(&refresh.context.scope, s))
        {
            return oauth_error(
                "invalid_scope",
                &format!("{extra} was not granted to this refresh token"),
            );
        }
        access.scope = narrowed.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    refresh.used = true;
    let context = refresh.context.clone();
    let family = refresh.family.clone();
    drop(sessions);
    // The new refresh token keeps the original scope (RFC 6749 §6).
    issue_tokens(ehr, &access, &family, &context.scope, None)
}

/// An id_token naming the user of `context`.
fn id_token_for(ehr: &Ehr, context: &Context, nonce: Option<&str>) -> String {
    let (sub, fhir_user, name) = match &context.user {
        User::Patient(id) => {
            let name = ehr
                .inner
                .store
                .patients()
                .iter()
                .find(|p| &p.id == id)
                .map(|p| p.name.clone())
                .unwrap_or_default();
            (
                id.as_str(),
                format!("{}/Patient/{id}", ehr.fhir_base()),
                name,
            )
        }
        User::Practitioner => (
            PRACTITIONER_ID,
            format!("{}/Practitioner/{PRACTITIONER_ID}", ehr.fhir_base()),
            PRACTITIONER_NAME.to_owned(),
        ),
    };
    // Epic's specification example writes fhirUser under the OAuth 2.0 server's path.
    let fhir_user = if ehr.has_fault(Fault::IdTokenFhirUserOauth2Path) {
        let relative = fhir_user
            .strip_prefix(&format!("{}/", ehr.fhir_base()))
            .unwrap_or(&fhir_user);
        format!("{}/oauth2/api/FHIR/R4/{relative}", ehr.config().origin)
    } else {
        fhir_user
    };
    // Epic sends no name claim; with `profile`, the user's login.
    let name = (!ehr.epic_mode() && !ehr.has_fault(Fault::IdTokenWithoutName)).then_some(name);
    let username =
        (ehr.epic_mode() && has_scope(&context.scope, "profile")).then(|| match &context.user {
            User::Patient(id) => format!(
                "MYCHART{}",
                id.chars().take(8).collect::<String>().to_uppercase()
            ),
            User::Practitioner => "ACLINICIAN".to_owned(),
        });
    jwt::id_token(
        ehr,
        &context.client_id,
        &jwt::Subject {
            sub,
            fhir_user: has_scope(&context.scope, "fhirUser").then_some(fhir_user.as_str()),
            name: name.as_deref(),
            nonce,
            preferred_username: username.as_deref(),
        },
    )
}

/// Issues an access token for `access` (and a refresh token with `refresh_scope` when that asks
/// for one) in `family`, and answers with the token response.
fn issue_tokens(
    ehr: &Ehr,
    access: &Context,
    family: &str,
    refresh_scope: &str,
    id_token: Option<String>,
) -> Response {
    let lifetime = ehr.token_lifetime();
    let invalid_first = ehr.has_fault(Fault::TokenInvalidToken);
    let access_token = random_token("AT-CANARY-");
    let refresh_token = (has_scope(refresh_scope, "online_access")
        || has_scope(refresh_scope, "offline_access"))
    .then(|| random_token("RT-CANARY-"));
    let mut sessions = ehr.sessions();
    let now = Instant::now();
    let expires = if invalid_first && sessions.access_tokens_issued == 0 {
        now
    } else {
        now + lifetime
    };
    sessions.access_tokens_issued = sessions.access_tokens_issued.saturating_add(1);
    sessions.tokens.insert(
        access_token.clone(),
        Token {
            context: access.clone(),
            family: family.to_owned(),
            expires,
        },
    );
    if let Some(rt) = &refresh_token {
        sessions.refresh_tokens.insert(
            rt.clone(),
            RefreshToken {
                context: Context {
                    scope: refresh_scope.to_owned(),
                    ..access.clone()
                },
                family: family.to_owned(),
                used: false,
                revoked: false,
            },
        );
    }
    drop(sessions);
    let fhir_context: Vec<serde_json::Value> = access
        .encounter
        .iter()
        .map(|e| json!({"reference": format!("Encounter/{e}")}))
        .collect();
    let mut body = json!({
        "access_token": access_token,
        "token_type": if ehr.epic_mode() { "bearer" } else { "Bearer" },
        "expires_in": lifetime.as_secs(),
        "scope": access.scope,
        "fhirContext": fhir_context,
        "tenant": "dev",
        "smart_style_url": format!("{}/ehr/smart-style.json", ehr.config().origin),
    });
    if let Some(rt) = refresh_token {
        body["refresh_token"] = rt.into();
    }
    if let Some(id_token) = id_token {
        body["id_token"] = id_token.into();
    }
    if let Some(patient) = &access.patient {
        body["patient"] = patient.as_str().into();
    }
    if let Some(encounter) = &access.encounter {
        body["encounter"] = encounter.as_str().into();
    }
    match access.launch {
        LaunchKind::Ehr => {
            body["need_patient_banner"] = ehr.need_patient_banner();
            body["intent"] = "summary".into();
        }
        LaunchKind::Standalone => body["need_patient_banner"] = true.into(),
    }
    if ehr.has_fault(Fault::TokenWithoutAccessToken) {
        body["access_token"] = serde_json::Value::Null;
    }
    if ehr.has_fault(Fault::TokenWrongType) {
        body["token_type"] = "mac".into();
    }
    if ehr.has_fault(Fault::ExpiresInString) {
        body["expires_in"] = lifetime.as_secs().to_string().into();
    }
    if ehr.has_fault(Fault::ExpiresInZero) {
        body["expires_in"] = 0.into();
    }
    if ehr.has_fault(Fault::ExpiresInMissing)
        && let Some(fields) = body.as_object_mut()
    {
        fields.remove("expires_in");
    }
    no_store((StatusCode::OK, axum::Json(body)).into_response())
}

/// A new access token for `context` alone (no refresh token, no id_token), as the
/// client-credentials grant issues: the token and its lifetime.
pub(crate) fn issue_access_token(ehr: &Ehr, context: Context) -> (String, Duration) {
    let lifetime = ehr.token_lifetime();
    let access_token = random_token("AT-CANARY-");
    ehr.sessions().tokens.insert(
        access_token.clone(),
        Token {
            family: random_token("system-"),
            context,
            expires: Instant::now() + lifetime,
        },
    );
    (access_token, lifetime)
}

/// The context behind an `Authorization: Bearer …` header, if its token is valid now.
pub fn bearer(ehr: &Ehr, authorization: Option<&str>) -> Option<Context> {
    let value = authorization?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let sessions = ehr.sessions();
    let t = sessions.tokens.get(token.trim())?;
    (t.expires > Instant::now()).then(|| t.context.clone())
}

/// Whether the space-separated `scope` contains `wanted` exactly.
pub fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split_whitespace().any(|s| s == wanted)
}

/// Whether `scope` lets a token act at `level` (`patient` or `user`) on `resource_type` for
/// `action` (`'r'` read, `'s'` search), in SMART v2 (`.rs`, or `.r` and `.s` apart) or v1
/// (`.read`, `.*`, in any case) syntax, or Epic's unprefixed form (`Patient.read
/// Patient.search`, at any level).
pub fn permits(scope: &str, level: &str, resource_type: &str, action: char) -> bool {
    scope.split_whitespace().any(|s| {
        let (lvl, rest) = match s.split_once('/') {
            Some((lvl, rest)) => (Some(lvl), rest),
            None => (None, s),
        };
        let Some((ty, permissions)) = rest.split_once('.') else {
            return false;
        };
        if lvl.is_some_and(|l| l != level) || (ty != "*" && ty != resource_type) {
            return false;
        }
        // A v2 filter (`?category=…`) narrows a scope; none applies to the resources served.
        let permissions = permissions.split('?').next().unwrap_or("");
        match permissions.to_ascii_lowercase().as_str() {
            "read" | "*" => true,
            "search" => action == 's',
            "write" | "" => false,
            p => p.chars().all(|c| "cruds".contains(c)) && p.contains(action),
        }
    })
}

/// A human description of one scope for the consent page.
fn scope_label(scope: &str) -> String {
    match scope {
        "openid" => return "Confirm who you are (OpenID Connect)".into(),
        "fhirUser" => return "Share which FHIR user you are".into(),
        "launch/patient" => return "Know which patient's record is open".into(),
        "launch/encounter" => return "Know which encounter is open".into(),
        "online_access" => return "Stay connected while you are signed in".into(),
        "offline_access" => return "Stay connected after you sign out".into(),
        _ => {}
    }
    let parsed = scope.split_once('/').and_then(|(level, rest)| {
        let (ty, permissions) = rest.split_once('.')?;
        let whose = match level {
            "patient" => "your",
            "user" => "the",
            "system" => "all",
            _ => return None,
        };
        let what = if ty == "*" {
            "all".to_owned()
        } else {
            ty.to_owned()
        };
        let verbs = match permissions.split('?').next().unwrap_or("") {
            "read" | "rs" => "Read and search",
            "r" => "Read",
            "s" => "Search",
            "*" | "cruds" => "Read, search and change",
            _ => "Use",
        };
        let scope_of = if level == "user" { " you can see" } else { "" };
        Some(format!("{verbs} {whose} {what} records{scope_of}"))
    });
    parsed.unwrap_or_else(|| format!("Use {scope}"))
}

fn login_page(ehr: &Ehr, txn: &str) -> Response {
    let mut buttons: String = ehr
        .inner
        .store
        .patients()
        .iter()
        .map(|p| {
            format!(
                "<li><button name=\"user\" value=\"patient:{}\">Sign in as {} (patient)</button></li>",
                pages::escape(&p.id),
                pages::escape(&p.name)
            )
        })
        .collect();
    buttons.push_str(&format!(
        "<li><button name=\"user\" value=\"practitioner\">Sign in as {} (clinician)</button></li>",
        pages::escape(PRACTITIONER_NAME)
    ));
    let title = format!("Sign in to {EHR_NAME}");
    Html(pages::page(
        &title,
        &format!(
            "<header class=\"bar\">{EHR_NAME}</header><main><h1>{}</h1>\
             <p>The app <b>{}</b> asks you to sign in.</p>\
             <form method=\"post\" action=\"/oauth2/authorize/login\">\
             <input type=\"hidden\" name=\"txn\" value=\"{}\"><ul class=\"choices\">{buttons}</ul>\
             </form></main>",
            pages::escape(&title),
            pages::escape(&ehr.config().client_id),
            pages::escape(txn)
        ),
    ))
    .into_response()
}

fn patient_picker_page(ehr: &Ehr, txn: &str) -> Response {
    let buttons: String = ehr
        .inner
        .store
        .patients()
        .iter()
        .map(|p| {
            format!(
                "<li><button name=\"patient\" value=\"{}\">{} ({}, born {})</button></li>",
                pages::escape(&p.id),
                pages::escape(&p.name),
                pages::escape(&p.gender),
                pages::escape(&p.birth_date)
            )
        })
        .collect();
    Html(pages::page(
        "Choose a patient",
        &format!(
            "<header class=\"bar\">{EHR_NAME}</header><main><h1>Choose a patient</h1>\
             <p>Signed in as {}. Which patient's record should the app open?</p>\
             <form method=\"post\" action=\"/oauth2/authorize/patient\">\
             <input type=\"hidden\" name=\"txn\" value=\"{}\"><ul class=\"choices\">{buttons}</ul>\
             </form></main>",
            pages::escape(PRACTITIONER_NAME),
            pages::escape(txn)
        ),
    ))
    .into_response()
}

fn consent_page(
    ehr: &Ehr,
    txn: &str,
    request: &AuthRequest,
    user: &User,
    picked: Option<&str>,
) -> Response {
    let name_of = |id: &str| {
        ehr.inner
            .store
            .patients()
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    let who = match user {
        User::Patient(id) => format!("{} (patient)", name_of(id)),
        User::Practitioner => format!("{PRACTITIONER_NAME} (clinician)"),
    };
    let record = match (user, picked) {
        (User::Patient(id), _) => format!("<p>Record: {}</p>", pages::escape(&name_of(id))),
        (User::Practitioner, Some(id)) => {
            format!("<p>Record: {}</p>", pages::escape(&name_of(id)))
        }
        (User::Practitioner, None) => String::new(),
    };
    let mut seen: Vec<&str> = Vec::new();
    let boxes: String = request
        .scope
        .split_whitespace()
        .filter(|s| {
            let new = !seen.contains(s);
            seen.push(s);
            new
        })
        .map(|s| {
            format!(
                "<li><label><input type=\"checkbox\" name=\"scope\" value=\"{}\" checked> {} \
                 <code>{}</code></label></li>",
                pages::escape(s),
                pages::escape(&scope_label(s)),
                pages::escape(s)
            )
        })
        .collect();
    let title = format!("Allow {} to use your account?", request.client_id);
    Html(pages::page(
        &title,
        &format!(
            "<header class=\"bar\">{EHR_NAME}</header><main><h1>{}</h1>\
             <p>Signed in as {}.</p>{record}\
             <form method=\"post\" action=\"/oauth2/authorize/consent\">\
             <input type=\"hidden\" name=\"txn\" value=\"{}\">\
             <fieldset><legend>The app asks to</legend><ul class=\"choices\">{boxes}</ul></fieldset>\
             <p><button name=\"decision\" value=\"allow\">Allow</button> \
             <button name=\"decision\" value=\"deny\">Deny</button></p></form></main>",
            pages::escape(&title),
            pages::escape(&who),
            pages::escape(txn)
        ),
    ))
    .into_response()
}

fn expired_page() -> Response {
    error_page("This sign-in has expired or was already finished. Start again from the app.")
}

/// The parameters as a map, or `None` if one appears more than once (RFC 6749 §3.1).
fn single_valued(params: Vec<(String, String)>) -> Option<HashMap<String, String>> {
    let mut map = HashMap::new();
    for (k, v) in params {
        if map.insert(k, v).is_some() {
            return None;
        }
    }
    Some(map)
}

pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Redirects to the app with `pairs` and the RFC 9207 `iss`, as every authorize answer that
/// reaches the app does.
fn redirect_with(ehr: &Ehr, redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let issuer = if ehr.has_fault(Fault::IssMismatch) {
        EVIL_ISSUER.to_owned()
    } else {
        ehr.issuer()
    };
    let query: String = pairs
        .iter()
        .copied()
        .chain([("iss", issuer.as_str())])
        .map(|(k, v)| format!("{k}={}", pages::url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{redirect_uri}{sep}{query}")).into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    no_store((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
}

/// `response` with `Cache-Control: no-store`: no cache keeps a token answer or a refusal
/// (RFC 6749 §5.1).
pub(crate) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_page(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(pages::page(
            "Sign-in error",
            &format!(
                "<main><h1>Sign-in error</h1><p>{}</p></main>",
                pages::escape(message)
            ),
        )),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_permissions_in_v1_and_v2() {
        assert!(permits("patient/Patient.rs", "patient", "Patient", 'r'));
        assert!(permits("patient/Patient.read", "patient", "Patient", 's'));
        assert!(permits("user/*.*", "user", "Patient", 's'));
        assert!(permits("user/Patient.s", "user", "Patient", 's'));
        assert!(!permits("user/Patient.r", "user", "Patient", 's'));
        assert!(!permits("patient/Patient.rs", "user", "Patient", 'r'));
        assert!(!permits(
            "patient/Observation.rs",
            "patient",
            "Patient",
            'r'
        ));
        assert!(!permits("patient/Patient.write", "patient", "Patient", 'r'));
        assert!(!permits("patient/Patient.xyz", "patient", "Patient", 'r'));
        // Epic's spellings, and v2 permissions granted apart.
        assert!(permits("user/Observation.Read", "user", "Observation", 's'));
        assert!(permits("Patient.read", "user", "Patient", 'r'));
        assert!(permits("Patient.search", "patient", "Patient", 's'));
        assert!(!permits("Patient.search", "patient", "Patient", 'r'));
        assert!(permits(
            "patient/Observation.r patient/Observation.s",
            "patient",
            "Observation",
            's'
        ));
        assert!(!permits("launch/patient", "patient", "Patient", 'r'));
    }

    #[test]
    fn scope_labels_are_human() {
        assert_eq!(
            scope_label("patient/Observation.rs"),
            "Read and search your Observation records"
        );
        assert_eq!(
            scope_label("user/Patient.read"),
            "Read and search the Patient records you can see"
        );
        assert_eq!(scope_label("weird"), "Use weird");
    }
}
