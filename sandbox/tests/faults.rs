//! Each fault the development EHR can be told to show, observed through its router.

mod common;

use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use common::*;
use sandbox::Fault;

fn with(fault: Fault) -> Harness {
    let h = harness();
    h.ehr.inject(fault);
    h
}

#[test]
fn fault_names_round_trip() {
    for fault in Fault::ALL {
        assert_eq!(Fault::from_name(fault.name()), Some(fault));
        assert!(
            fault
                .name()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{fault:?}"
        );
    }
    assert_eq!(
        Fault::from_name("auth_invalid_client_id"),
        Some(Fault::AuthInvalidClientId)
    );
    assert_eq!(
        Fault::from_name("fhir_too_many_requests"),
        Some(Fault::FhirTooManyRequests)
    );
    assert_eq!(Fault::from_name("nonsense"), None);
}

#[tokio::test]
async fn the_ehr_page_chooses_a_fault_per_launch() {
    let h = harness();
    let home = h.get("/").await;
    assert!(home.body.contains("<select name=\"fault\">"));
    assert!(
        home.body
            .contains("<option value=\"none\" selected>none</option>")
    );
    assert!(home.body.contains("<option value=\"token_invalid_grant\">"));
    let patient = h.patient(0);
    let page = h
        .get(&format!(
            "/ehr/launch?patient={patient}&fault=access_denied"
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let denied = h.get(&h.authorize_uri(0, &[])).await.location.unwrap();
    assert_eq!(
        query_param(&denied, "error").as_deref(),
        Some("access_denied")
    );
    // Another choice replaces it; `none` clears it.
    h.get(&format!(
        "/ehr/launch?patient={patient}&fault=auth_invalid_scope"
    ))
    .await;
    let scope = h.get(&h.authorize_uri(0, &[])).await.location.unwrap();
    assert_eq!(
        query_param(&scope, "error").as_deref(),
        Some("invalid_scope")
    );
    h.get(&format!("/ehr/launch?patient={patient}&fault=none"))
        .await;
    h.code_for(0).await;
    let unknown = h
        .get(&format!("/ehr/launch?patient={patient}&fault=nonsense"))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn authorize_faults() {
    for fault in [Fault::AuthInvalidClientId, Fault::AuthInvalidRedirectUri] {
        let h = with(fault);
        let reply = h.get(&h.authorize_uri(0, &[])).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{fault:?}");
        assert!(reply.location.is_none(), "{fault:?}");
        assert!(reply.body.contains("Sign-in error"));
    }
    let h = with(Fault::AuthInvalidScope);
    let location = h.get(&h.authorize_uri(0, &[])).await.location.unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_scope")
    );
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("state-123")
    );
    assert_eq!(query_param(&location, "iss").as_deref(), Some(ISSUER));

    let h = with(Fault::IssMismatch);
    let location = h.get(&h.authorize_uri(0, &[])).await.location.unwrap();
    assert!(query_param(&location, "code").is_some());
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some("https://evil.example/oauth2")
    );
}

#[tokio::test]
async fn expires_in_faults() {
    let cases = [
        (Fault::ExpiresInString, Some(serde_json::json!("3600"))),
        (Fault::ExpiresInZero, Some(serde_json::json!(0))),
        (Fault::ExpiresInMissing, None),
    ];
    for (fault, expected) in cases {
        let h = with(fault);
        let token = h.tokens_for_scope(0, "launch patient/Patient.rs").await;
        assert_eq!(token.get("expires_in").cloned(), expected, "{fault:?}");
    }
}

#[tokio::test]
async fn discovery_faults() {
    let h = with(Fault::DiscoveryHtml);
    for uri in ["/fhir/.well-known/smart-configuration", "/fhir/metadata"] {
        let reply = h.get(uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], "text/html", "{uri}");
        assert!(reply.body.starts_with("<html>"));
    }

    let h = with(Fault::DiscoveryForeignEndpoints);
    let smart = h.get("/fhir/.well-known/smart-configuration").await.json();
    assert_eq!(smart["token_endpoint"], "http://127.0.0.1:1/oauth2/token");
    let meta = h.get("/fhir/metadata").await.json();
    let uris = &meta["rest"][0]["security"]["extension"][0]["extension"];
    assert_eq!(uris[1]["url"], "token");
    assert_eq!(uris[1]["valueUri"], "http://127.0.0.1:1/oauth2/token");

    let h = with(Fault::DiscoveryNoS256);
    let smart = h.get("/fhir/.well-known/smart-configuration").await.json();
    assert_eq!(
        smart["code_challenge_methods_supported"],
        serde_json::json!(["plain"])
    );
}

#[tokio::test]
async fn too_many_requests_twice_then_normal() {
    let h = with(Fault::FhirTooManyRequests);
    let token = h.tokens_for_scope(0, "launch patient/Patient.rs").await;
    let access = token["access_token"].as_str().unwrap();
    let uri = format!("/fhir/Patient/{}", h.patient(0));
    for _ in 0..2 {
        let reply = h.get_with_token(&uri, access).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.headers[header::RETRY_AFTER], "1");
        assert_eq!(reply.json()["resourceType"], "OperationOutcome");
    }
    assert_eq!(h.get_with_token(&uri, access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn slow_fhir_reads() {
    let h = with(Fault::FhirSlow);
    let token = h.tokens_for_scope(0, "launch patient/Patient.rs").await;
    let started = Instant::now();
    let reply = h
        .get_with_token(
            &format!("/fhir/Patient/{}", h.patient(0)),
            token["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test]
async fn first_access_token_is_already_expired_then_refresh_works() {
    let h = with(Fault::TokenInvalidToken);
    let token = h
        .tokens_for_scope(0, "launch online_access patient/Patient.rs")
        .await;
    let uri = format!("/fhir/Patient/{}", h.patient(0));
    let first = h
        .get_with_token(&uri, token["access_token"].as_str().unwrap())
        .await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        first.headers[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    let refreshed = h
        .refresh(token["refresh_token"].as_str().unwrap(), &[])
        .await
        .json();
    let again = h
        .get_with_token(&uri, refreshed["access_token"].as_str().unwrap())
        .await;
    assert_eq!(again.status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_invalid_grant() {
    let h = with(Fault::RefreshInvalidGrant);
    let token = h
        .tokens_for_scope(0, "launch online_access patient/Patient.rs")
        .await;
    let reply = h
        .refresh(token["refresh_token"].as_str().unwrap(), &[])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn id_token_faults() {
    let scope = "launch openid fhirUser patient/Patient.rs";
    let h = with(Fault::IdTokenBadSignature);
    let token = h.tokens_for_scope(0, scope).await;
    assert!(
        try_verified_claims(&h, token["id_token"].as_str().unwrap())
            .await
            .is_err()
    );
    let h = with(Fault::IdTokenWrongAudience);
    let token = h.tokens_for_scope(0, scope).await;
    let claims = verified_claims(&h, token["id_token"].as_str().unwrap()).await;
    assert_ne!(claims["aud"], "cairn-dev");
}

/// Whether a reply lets the app's origin read it.
fn cors_allowed(reply: &Reply) -> bool {
    reply
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_some_and(|v| v == "http://127.0.0.1:8080")
}

#[tokio::test]
async fn cors_faults_block_one_endpoint_each() {
    let token_post = || {
        axum::http::Request::post("/oauth2/token")
            .header(header::ORIGIN, "http://127.0.0.1:8080")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from("grant_type=nothing"))
            .unwrap()
    };
    let cases = [
        (Fault::JwksCorsBlocked, [false, true, true, true, true]),
        (Fault::FhirCorsBlocked, [true, false, false, true, true]),
        (Fault::TokenCorsBlocked, [true, true, true, false, false]),
    ];
    for (fault, expected) in cases {
        let h = with(fault);
        let jwks = h.send(cors_get("/oauth2/jwks", None)).await;
        assert_eq!(jwks.status, StatusCode::OK, "{fault:?}: still answered");
        assert_eq!(jwks.json()["keys"].as_array().unwrap().len(), 1);
        let fhir = h.send(cors_get("/fhir/metadata", None)).await;
        assert_eq!(fhir.status, StatusCode::OK);
        let fhir_preflight = h
            .send(preflight("/fhir/Patient/x", "GET", "authorization"))
            .await;
        let token_preflight = h
            .send(preflight("/oauth2/token", "POST", "content-type"))
            .await;
        let token = h.send(token_post()).await;
        assert_eq!(token.json()["error"], "unsupported_grant_type");
        let got = [
            cors_allowed(&jwks),
            cors_allowed(&fhir),
            cors_allowed(&fhir_preflight),
            cors_allowed(&token_preflight),
            cors_allowed(&token),
        ];
        assert_eq!(got, expected, "{fault:?}");
    }
}

#[tokio::test]
async fn id_token_kid_and_clock_faults_keep_a_good_signature() {
    let scope = "launch openid fhirUser patient/Patient.rs";
    let h = with(Fault::IdTokenUnknownKid);
    let token = h.tokens_for_scope(0, scope).await;
    let (header, _, verified) = jwks_verified(&h, token["id_token"].as_str().unwrap()).await;
    verified.expect("the single published key verifies it");
    assert_ne!(header["header"]["kid"], header["jwks_kid"]);
    assert_eq!(header["jwks_kid"], "dev-1");

    let h = with(Fault::IdTokenClockSkew);
    let token = h.tokens_for_scope(0, scope).await;
    let claims = verified_claims(&h, token["id_token"].as_str().unwrap()).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let iat = claims["iat"].as_u64().unwrap();
    let exp = claims["exp"].as_u64().unwrap();
    assert!(exp < now, "expired: {exp} < {now}");
    assert!((now - 1200 - 5..=now - 1200).contains(&iat), "{iat} {now}");
    assert_eq!(exp - iat, 300);
}

/// An id_token without a name outside Epic mode, and a grant without the Practitioner scope
/// that was asked for.
#[tokio::test]
async fn id_token_without_name_and_practitioner_not_granted() {
    let scope = "launch openid fhirUser patient/Patient.rs user/Practitioner.rs";
    let h = with(Fault::IdTokenWithoutName);
    let token = h.tokens_for_scope(0, scope).await;
    let claims = verified_claims(&h, token["id_token"].as_str().unwrap()).await;
    for absent in ["name", "given_name", "family_name"] {
        assert!(claims.get(absent).is_none(), "{absent}: {claims}");
    }
    assert!(
        claims["fhirUser"]
            .as_str()
            .unwrap()
            .ends_with("/Practitioner/dev-practitioner")
    );
    assert_eq!(token["scope"], scope, "the scope is granted as asked");

    let h = with(Fault::PractitionerNotGranted);
    let token = h.tokens_for_scope(0, scope).await;
    assert_eq!(token["scope"], "launch openid fhirUser patient/Patient.rs");
    let claims = verified_claims(&h, token["id_token"].as_str().unwrap()).await;
    assert_eq!(
        claims["name"], "Dr. Ada Clinician",
        "only the scope changes"
    );
}

#[tokio::test]
async fn patient_read_refusals() {
    let h = with(Fault::PatientReadInsufficientScope);
    let token = h.tokens_for_scope(0, "launch patient/Patient.rs").await;
    let access = token["access_token"].as_str().unwrap();
    let uri = format!("/fhir/Patient/{}", h.patient(0));
    let reply = h.get_with_token(&uri, access).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.is_empty());
    assert_eq!(
        reply.headers[header::WWW_AUTHENTICATE],
        "Bearer error=\"insufficient_scope\""
    );

    let h = with(Fault::BreakTheGlass);
    let token = h.tokens_for_scope(0, "launch patient/Patient.rs").await;
    let reply = h
        .get_with_token(&uri, token["access_token"].as_str().unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let outcome = reply.json();
    assert_eq!(epic_code(&outcome), "4130");
    assert!(
        outcome["issue"][0]["details"]["text"]
            .as_str()
            .unwrap()
            .contains("Break-the-Glass")
    );
}

#[tokio::test]
async fn refresh_forbidden_invalid_grant() {
    let h = with(Fault::RefreshForbiddenInvalidGrant);
    let token = h
        .tokens_for_scope(0, "launch online_access patient/Patient.rs")
        .await;
    let reply = h
        .refresh(token["refresh_token"].as_str().unwrap(), &[])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let body = reply.json();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().len() > 10);
}

#[tokio::test]
async fn observation_search_faults() {
    let scale = sandbox::Ehr::scale_patient_id();
    let h = with(Fault::ObservationEncounterIgnored);
    let token = h
        .standalone_tokens("user/Observation.rs", "practitioner")
        .await;
    let access = token["access_token"].as_str().unwrap();
    let reply = h
        .get_with_token(
            &format!(
                "/fhir/Observation?patient={scale}&category=vital-signs&encounter=scale-enc-010&_count=200"
            ),
            access,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let bundle = reply.json();
    assert_eq!(bundle["total"], 6250, "every vital sign of the patient");
    let found = matched(&bundle);
    assert!(
        found
            .iter()
            .any(|o| o["encounter"]["reference"] != "Encounter/scale-enc-010")
    );
    assert_eq!(
        outcome_entries(&bundle),
        [("4122".to_owned(), "warning".to_owned())]
    );

    let h = with(Fault::ObservationCategoryRefused);
    let token = h
        .standalone_tokens("user/Observation.rs", "practitioner")
        .await;
    let access = token["access_token"].as_str().unwrap();
    let refused = h
        .get_with_token(
            &format!("/fhir/Observation?patient={scale}&category=social-history"),
            access,
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(epic_code(&refused.json()), "59111");
    let ok = h
        .get_with_token(
            &format!("/fhir/Observation?patient={scale}&category=vital-signs"),
            access,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn the_ehr_page_lists_every_fault() {
    let h = harness();
    let home = h.get("/").await;
    for fault in Fault::ALL {
        assert!(
            home.body
                .contains(&format!("<option value=\"{0}\">{0}</option>", fault.name())),
            "{fault:?}"
        );
    }
    for name in [
        "jwks_cors_blocked",
        "id_token_unknown_kid",
        "id_token_clock_skew",
        "id_token_fhiruser_oauth2_path",
        "id_token_without_name",
        "practitioner_not_granted",
        "fhir_cors_blocked",
        "token_cors_blocked",
        "patient_read_insufficient_scope",
        "break_the_glass",
        "refresh_forbidden_invalid_grant",
        "observation_encounter_ignored",
        "observation_category_refused",
        "epic_scope_mixed_case",
        "epic_scope_unprefixed",
        "scope_v2_split",
        "epic_paging_session_expired",
    ] {
        assert!(Fault::from_name(name).is_some(), "{name}");
    }
}
