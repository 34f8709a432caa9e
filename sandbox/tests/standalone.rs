//! The standalone launch's pages (sign-in, patient picker, consent), `POST /oauth2/authorize`,
//! the launch context in token responses, and id_tokens checked against the JWKS.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;

const SCOPE: &str =
    "launch/patient openid fhirUser online_access patient/Patient.rs patient/Observation.rs";

#[tokio::test]
async fn patient_signs_in_unticks_a_scope_and_gets_the_narrowed_grant() {
    let h = harness();
    let login = h.get(&h.standalone_uri(SCOPE, &[])).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Sign in to Cairn development EHR"));
    let first = &h.ehr.patients()[0];
    assert!(login.body.contains(&format!(
        "<button name=\"user\" value=\"patient:{}\">Sign in as {} (patient)</button>",
        first.id, first.name
    )));
    assert!(login.body.contains(
        "<button name=\"user\" value=\"practitioner\">Sign in as Dr. Ada Clinician (clinician)</button>"
    ));

    let user = format!("patient:{}", h.patient(0));
    let consent = h.standalone_to_consent(SCOPE, &user, None).await;
    for scope in SCOPE.split_whitespace() {
        assert!(
            consent.body.contains(&format!(
                "<input type=\"checkbox\" name=\"scope\" value=\"{scope}\" checked>"
            )),
            "{scope} not offered: {}",
            consent.body
        );
    }
    assert!(
        consent
            .body
            .contains("Read and search your Observation records")
    );
    assert!(
        consent
            .body
            .contains("<button name=\"decision\" value=\"allow\">Allow</button>")
    );
    assert!(
        consent
            .body
            .contains("<button name=\"decision\" value=\"deny\">Deny</button>")
    );

    let ticked: Vec<&str> = SCOPE
        .split_whitespace()
        .filter(|s| *s != "patient/Observation.rs")
        .collect();
    let location = h.consent(&consent, &ticked, "allow").await;
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("state-123")
    );
    assert_eq!(query_param(&location, "iss").as_deref(), Some(ISSUER));
    let code = query_param(&location, "code").unwrap();
    let reply = h.exchange(&code, VERIFIER, REDIRECT_URI).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = reply.json();
    assert_eq!(
        token["scope"],
        "launch/patient openid fhirUser online_access patient/Patient.rs"
    );
    assert_eq!(token["patient"], h.patient(0));
    assert_eq!(token["need_patient_banner"], true);
    assert_eq!(token["tenant"], "dev");
    assert_eq!(token["fhirContext"], serde_json::json!([]));
    assert!(token.get("intent").is_none(), "intent is for EHR launches");
    assert!(
        token["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("RT-CANARY-")
    );

    // The txn is finished: posting to it again is refused.
    let again = h
        .post_form(
            "/oauth2/authorize/consent",
            &[("txn", &consent.txn()), ("decision", "allow")],
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);

    // The token reads the patient's own record.
    let access = token["access_token"].as_str().unwrap();
    let read = h
        .get_with_token(&format!("/fhir/Patient/{}", h.patient(0)), access)
        .await;
    assert_eq!(read.status, StatusCode::OK);
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let h = harness();
    let consent = h
        .standalone_to_consent(SCOPE, &format!("patient:{}", h.patient(1)), None)
        .await;
    let location = h.consent(&consent, &["openid"], "deny").await;
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("state-123")
    );
    assert_eq!(query_param(&location, "iss").as_deref(), Some(ISSUER));
    assert_eq!(query_param(&location, "code"), None);
}

#[tokio::test]
async fn a_clinician_picks_a_patient_or_has_none() {
    let h = harness();
    let picked = h.patient(2);
    let consent = h
        .standalone_to_consent(
            "launch/patient user/Patient.rs openid fhirUser",
            "practitioner",
            Some(&picked),
        )
        .await;
    let location = h
        .consent(
            &consent,
            &["launch/patient", "user/Patient.rs", "openid", "fhirUser"],
            "allow",
        )
        .await;
    let code = query_param(&location, "code").unwrap();
    let token = h.exchange(&code, VERIFIER, REDIRECT_URI).await.json();
    assert_eq!(token["patient"], picked);
    let claims = verified_claims(&h, token["id_token"].as_str().unwrap()).await;
    assert_eq!(
        claims["fhirUser"],
        "http://127.0.0.1:9090/fhir/Practitioner/dev-practitioner"
    );
    assert_eq!(claims["name"], "Dr. Ada Clinician");
    let me = h
        .get_with_token(
            "/fhir/Practitioner/dev-practitioner",
            token["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);

    // Without launch/patient: no picker and no patient context.
    let consent = h
        .standalone_to_consent("user/Patient.rs", "practitioner", None)
        .await;
    assert!(consent.body.contains("name=\"decision\""));
    let location = h.consent(&consent, &["user/Patient.rs"], "allow").await;
    let code = query_param(&location, "code").unwrap();
    let token = h.exchange(&code, VERIFIER, REDIRECT_URI).await.json();
    assert!(token.get("patient").is_none(), "{token}");
    assert!(token.get("id_token").is_none());
    assert!(token.get("refresh_token").is_none());
}

#[tokio::test]
async fn standalone_pages_trust_only_the_server_side_transaction() {
    let h = harness();
    let login = h.get(&h.standalone_uri(SCOPE, &[])).await;
    let txn = login.txn();
    // A forged txn, an unknown user, a patient pick out of turn, consent before sign-in.
    let forged = h
        .post_form(
            "/oauth2/authorize/login",
            &[("txn", "txn-forged"), ("user", "practitioner")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    let nobody = h
        .post_form(
            "/oauth2/authorize/login",
            &[("txn", &txn), ("user", "patient:nobody")],
        )
        .await;
    assert_eq!(nobody.status, StatusCode::BAD_REQUEST);
    let early = h
        .post_form(
            "/oauth2/authorize/consent",
            &[("txn", &txn), ("decision", "allow")],
        )
        .await;
    assert_eq!(early.status, StatusCode::BAD_REQUEST);
    let pick = h
        .post_form(
            "/oauth2/authorize/patient",
            &[("txn", &txn), ("patient", &h.patient(0))],
        )
        .await;
    assert_eq!(pick.status, StatusCode::BAD_REQUEST, "no user yet");
    // A patient cannot tick a scope that was not requested.
    let consent = h
        .post_form(
            "/oauth2/authorize/login",
            &[
                ("txn", &txn),
                ("user", &format!("patient:{}", h.patient(0))),
            ],
        )
        .await;
    let widened = h
        .post_form(
            "/oauth2/authorize/consent",
            &[
                ("txn", &consent.txn()),
                ("scope", "user/*.*"),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(widened.status, StatusCode::BAD_REQUEST);
    assert!(widened.location.is_none());
    // Names are escaped on every page.
    assert!(!login.body.contains("<script"));
}

#[tokio::test]
async fn standalone_authorize_keeps_the_strict_checks() {
    let h = harness();
    let bad_client = h
        .get(&h.standalone_uri(SCOPE, &[("client_id", "other")]))
        .await;
    assert_eq!(bad_client.status, StatusCode::BAD_REQUEST);
    assert!(bad_client.location.is_none());
    for (changes, error) in [
        (
            &[("aud", "http://127.0.0.1:9090/other")][..],
            "invalid_request",
        ),
        (&[("code_challenge_method", "plain")][..], "invalid_request"),
        (
            &[("scope", "launch patient/Patient.rs")][..],
            "invalid_request",
        ),
    ] {
        let reply = h.get(&h.standalone_uri(SCOPE, changes)).await;
        let location = reply.location.unwrap_or_else(|| panic!("{changes:?}"));
        assert_eq!(query_param(&location, "error").as_deref(), Some(error));
        assert_eq!(query_param(&location, "iss").as_deref(), Some(ISSUER));
    }
    let duplicated = h
        .get(&format!("{}&state=again", h.standalone_uri(SCOPE, &[])))
        .await;
    assert_eq!(duplicated.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn authorize_accepts_post_for_both_launches() {
    let h = harness();
    let post = |params: Vec<(String, String)>| {
        Request::post("/oauth2/authorize")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form(&params)))
            .unwrap()
    };
    let login = h.send(post(h.authorize_params(SCOPE, &[]))).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Sign in to"));
    let launch = h.ehr.create_launch(&h.patient(0)).unwrap();
    let ehr = h
        .send(post(h.authorize_params(
            "launch patient/Patient.rs",
            &[("launch", &launch)],
        )))
        .await;
    let location = ehr.location.expect("an EHR launch is approved at once");
    assert!(query_param(&location, "code").is_some(), "{location}");
    let smart = h.get("/fhir/.well-known/smart-configuration").await.json();
    let capabilities = smart["capabilities"].as_array().unwrap();
    for c in [
        "authorize-post",
        "launch-standalone",
        "permission-online",
        "permission-offline",
    ] {
        assert!(capabilities.contains(&c.into()), "{c}");
    }
    assert_eq!(
        smart["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        smart["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    // Backend services (docs/backend.md): signed assertions or secrets.
    assert_eq!(
        smart["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "none",
            "private_key_jwt",
            "client_secret_basic",
            "client_secret_post"
        ])
    );
    assert_eq!(
        smart["token_endpoint_auth_signing_alg_values_supported"],
        serde_json::json!(["RS384", "ES384"])
    );
    let scopes = smart["scopes_supported"].as_array().unwrap();
    assert!(scopes.contains(&"online_access".into()) && scopes.contains(&"offline_access".into()));
}

#[tokio::test]
async fn ehr_launch_context_encounter_intent_style_and_banner() {
    let h = harness();
    let token = h.tokens_for_scope(0, "launch patient/Patient.rs").await;
    assert_eq!(token["scope"], "launch patient/Patient.rs");
    assert_eq!(token["intent"], "summary");
    assert_eq!(token["tenant"], "dev");
    assert_eq!(token["need_patient_banner"], true);
    // Alejandro Riojas's most recent encounter (2008-12-21).
    assert_eq!(token["encounter"], "bd41a118-a98d-49c3-b3b4-6c1f87ef653e");
    assert_eq!(
        token["fhirContext"],
        serde_json::json!([{"reference": "Encounter/bd41a118-a98d-49c3-b3b4-6c1f87ef653e"}])
    );
    let style_url = token["smart_style_url"].as_str().unwrap();
    assert_eq!(style_url, "http://127.0.0.1:9090/ehr/smart-style.json");
    let style = h
        .send(
            Request::get("/ehr/smart-style.json")
                .header(header::ORIGIN, "http://127.0.0.1:8080")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        style.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://127.0.0.1:8080"
    );
    assert_eq!(style.json()["color_background"], "#edeae3");
    assert_eq!(style.json()["dim_border_radius"], "6px");

    h.ehr.set_need_patient_banner("false".into());
    let token = h.tokens_for_scope(1, "launch patient/Patient.rs").await;
    assert_eq!(token["need_patient_banner"], "false");
}

#[tokio::test]
async fn id_tokens_verify_against_the_jwks() {
    let h = harness();
    let token = h
        .tokens_for_scope(1, "launch openid fhirUser patient/Patient.rs")
        .await;
    let claims = verified_claims(&h, token["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "cairn-dev");
    assert_eq!(
        claims["sub"], "dev-practitioner",
        "an EHR launch is the clinician's"
    );
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 300);
    assert_eq!(
        claims["fhirUser"],
        "http://127.0.0.1:9090/fhir/Practitioner/dev-practitioner"
    );

    // A patient's own sign-in names the patient, with the nonce it was asked for.
    let login = h
        .get(&h.standalone_uri(SCOPE, &[("nonce", "n-0S6_WzA2Mj")]))
        .await;
    let consent = h
        .post_form(
            "/oauth2/authorize/login",
            &[
                ("txn", &login.txn()),
                ("user", &format!("patient:{}", h.patient(1))),
            ],
        )
        .await;
    let location = h
        .consent(
            &consent,
            &SCOPE.split_whitespace().collect::<Vec<_>>(),
            "allow",
        )
        .await;
    let code = query_param(&location, "code").unwrap();
    let token = h.exchange(&code, VERIFIER, REDIRECT_URI).await.json();
    let claims = verified_claims(&h, token["id_token"].as_str().unwrap()).await;
    assert_eq!(
        claims["fhirUser"],
        format!("http://127.0.0.1:9090/fhir/Patient/{}", h.patient(1))
    );
    assert_eq!(claims["name"], h.ehr.patients()[1].name);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
}
