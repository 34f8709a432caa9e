//! The authorization server: authorize (EHR launch, auto-approved) and the token endpoint.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{Ehr, Fault, pages, random_token};

const LAUNCH_TTL: Duration = Duration::from_secs(5 * 60);
const CODE_TTL: Duration = Duration::from_secs(60);
const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// What an authorization code stands for.
pub struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    patient: String,
    issued: Instant,
}

pub struct Token {
    pub patient: String,
    pub scope: String,
    pub expires: Instant,
}

pub async fn authorize(
    State(ehr): State<Ehr>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let config = ehr.config();
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    // Without a trusted client and redirect URI, errors must not be redirected (RFC 6749 §4.1.2.1).
    if param("client_id") != config.client_id {
        return error_page("Unknown client_id: this app is not registered with this EHR.");
    }
    if param("redirect_uri") != config.redirect_uri {
        return error_page("The redirect_uri does not match the one registered for this app.");
    }
    let state = param("state");
    let fail = |error: &str, description: &str| -> Response {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if !state.is_empty() {
            pairs.push(("state", state));
        }
        redirect_with(&config.redirect_uri, &pairs)
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
    let scope = param("scope");
    if !scope.split_whitespace().any(|s| s == "launch") {
        return fail("invalid_scope", "an EHR launch needs the launch scope");
    }
    let mut sessions = ehr.sessions();
    let patient = match sessions.launches.get(param("launch")) {
        Some(l) if l.created.elapsed() < LAUNCH_TTL => l.patient.clone(),
        _ => {
            drop(sessions);
            return fail("invalid_request", "unknown or expired launch");
        }
    };
    let code = random_token("code-");
    sessions.codes.insert(
        code.clone(),
        Grant {
            client_id: config.client_id.clone(),
            redirect_uri: config.redirect_uri.clone(),
            code_challenge: challenge.to_owned(),
            scope: scope.to_owned(),
            patient,
            issued: Instant::now(),
        },
    );
    drop(sessions);
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
    redirect_with(&config.redirect_uri, &pairs)
}

pub async fn token(State(ehr): State<Ehr>, Form(form): Form<HashMap<String, String>>) -> Response {
    let param = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if param("grant_type") != "authorization_code" {
        return oauth_error(
            "unsupported_grant_type",
            "only authorization_code is supported",
        );
    }
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
    if param("client_id") != grant.client_id {
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
    let access_token = random_token("AT-CANARY-");
    ehr.sessions().tokens.insert(
        access_token.clone(),
        Token {
            patient: grant.patient.clone(),
            scope: grant.scope.clone(),
            expires: Instant::now() + TOKEN_TTL,
        },
    );
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_TTL.as_secs(),
        "scope": grant.scope,
        "patient": grant.patient,
        "need_patient_banner": true,
    });
    if ehr.has_fault(Fault::TokenWithoutAccessToken) {
        body["access_token"] = serde_json::Value::Null;
    }
    if ehr.has_fault(Fault::TokenWrongType) {
        body["token_type"] = "mac".into();
    }
    no_store((StatusCode::OK, axum::Json(body)).into_response())
}

/// The token behind an `Authorization: Bearer …` header, if it is valid now.
pub fn bearer(ehr: &Ehr, authorization: Option<&str>) -> Option<(String, String)> {
    let value = authorization?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let sessions = ehr.sessions();
    let t = sessions.tokens.get(token.trim())?;
    (t.expires > Instant::now()).then(|| (t.patient.clone(), t.scope.clone()))
}

pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let query: String = pairs
        .iter()
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

fn no_store(mut response: Response) -> Response {
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
