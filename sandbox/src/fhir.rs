//! The FHIR server: discovery, CapabilityStatement, Patient read.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::{Ehr, Fault, oauth};

pub async fn smart_configuration(State(ehr): State<Ehr>) -> Response {
    if ehr.has_fault(Fault::DiscoveryNotFound) {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/html"))],
            "<html><body><h1>404 Not Found</h1></body></html>",
        )
            .into_response();
    }
    let origin = &ehr.config().origin;
    let body = json!({
        "issuer": ehr.issuer(),
        "jwks_uri": format!("{origin}/oauth2/jwks"),
        "authorization_endpoint": format!("{origin}/oauth2/authorize"),
        "token_endpoint": format!("{origin}/oauth2/token"),
        "grant_types_supported": ["authorization_code"],
        "response_types_supported": ["code"],
        "scopes_supported": ["openid", "fhirUser", "launch", "launch/patient",
            "patient/Patient.rs", "patient/Encounter.rs", "patient/Observation.rs"],
        "token_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": ["launch-ehr", "client-public", "context-banner", "context-ehr-patient",
            "permission-patient", "permission-v2", "sso-openid-connect"],
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

pub async fn metadata(State(ehr): State<Ehr>) -> Response {
    let origin = &ehr.config().origin;
    fhir_json(
        StatusCode::OK,
        &json!({
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-22",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [{
                "mode": "server",
                "security": {
                    "service": [{"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR"}]}],
                    "extension": [{
                        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                        "extension": [
                            {"url": "authorize", "valueUri": format!("{origin}/oauth2/authorize")},
                            {"url": "token", "valueUri": format!("{origin}/oauth2/token")}
                        ]
                    }]
                },
                "resource": [{"type": "Patient", "interaction": [{"code": "read"}]}]
            }]
        }),
    )
}

pub async fn read_patient(
    State(ehr): State<Ehr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(response) = injected_fhir_fault(&ehr) {
        return response;
    }
    let Some((patient, _scope)) = oauth::bearer(&ehr, authorization) else {
        let mut r = outcome(
            StatusCode::UNAUTHORIZED,
            "login",
            "A valid bearer token is required.",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        return r;
    };
    let Some(resource) = ehr.inner.store.get("Patient", &id) else {
        return outcome(StatusCode::NOT_FOUND, "not-found", "No such Patient.");
    };
    if patient != id {
        return outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "This token is for another patient.",
        );
    }
    fhir_json(StatusCode::OK, resource)
}

fn injected_fhir_fault(ehr: &Ehr) -> Option<Response> {
    if ehr.has_fault(Fault::FhirUnauthorized) {
        return Some(outcome(
            StatusCode::UNAUTHORIZED,
            "login",
            "The token has expired.",
        ));
    }
    if ehr.has_fault(Fault::FhirForbidden) {
        return Some(outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not permitted.",
        ));
    }
    if ehr.has_fault(Fault::FhirServerError) {
        return Some(outcome(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            "<script>alert(1)</script> database unavailable",
        ));
    }
    if ehr.has_fault(Fault::FhirMalformed) {
        return Some(
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/fhir+json"),
                )],
                "{\"resourceType\": \"Patient\", \"id\": ",
            )
                .into_response(),
        );
    }
    None
}

fn outcome(status: StatusCode, code: &str, diagnostics: &str) -> Response {
    fhir_json(
        status,
        &json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]
        }),
    )
}

fn fhir_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/fhir+json"),
        )],
        body.to_string(),
    )
        .into_response()
}
