//! The development EHR's OAuth exchange and FHIR read, in process (no sockets).

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use serde_json::Value;

#[tokio::test]
async fn full_exchange_then_patient_read() {
    let h = harness();
    let code = h.code_for(1).await;
    let reply = h.exchange(&code, VERIFIER, "http://127.0.0.1:8080/").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let token: Value = serde_json::from_str(&reply.body).unwrap();
    let access = token["access_token"].as_str().unwrap();
    assert!(access.starts_with("AT-CANARY-") && access.len() == 10 + 32);
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["patient"], h.patient(1));
    assert_eq!(token["need_patient_banner"], true);
    assert!(token["expires_in"].as_u64().unwrap() > 0);

    let uri = format!("/fhir/Patient/{}", h.patient(1));
    let read = |auth: Option<String>, uri: String| {
        let mut req = Request::get(uri);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        req.body(Body::empty()).unwrap()
    };
    let ok = h
        .send(read(Some(format!("bearer {access}")), uri.clone()))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers[header::CONTENT_TYPE], "application/fhir+json");
    let patient: Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(patient["resourceType"], "Patient");
    assert_eq!(patient["id"], h.patient(1));

    let none = h.send(read(None, uri.clone())).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.headers.contains_key(header::WWW_AUTHENTICATE));
    assert!(none.body.contains("OperationOutcome"));
    let forged = h
        .send(read(Some("Bearer AT-CANARY-forged".into()), uri))
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let other = h
        .send(read(
            Some(format!("Bearer {access}")),
            format!("/fhir/Patient/{}", h.patient(0)),
        ))
        .await;
    assert_eq!(
        other.status,
        StatusCode::FORBIDDEN,
        "a token reads only its own patient"
    );
}

#[tokio::test]
async fn wrong_code_verifier_is_refused_and_burns_the_code() {
    let h = harness();
    let code = h.code_for(0).await;
    let wrong = h
        .exchange(&code, &"x".repeat(43), "http://127.0.0.1:8080/")
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("invalid_grant"), "{}", wrong.body);
    let retry = h.exchange(&code, VERIFIER, "http://127.0.0.1:8080/").await;
    assert_eq!(
        retry.status,
        StatusCode::BAD_REQUEST,
        "a failed attempt consumes the code"
    );
}

#[tokio::test]
async fn a_code_works_once() {
    let h = harness();
    let code = h.code_for(0).await;
    assert_eq!(
        h.exchange(&code, VERIFIER, "http://127.0.0.1:8080/")
            .await
            .status,
        StatusCode::OK
    );
    let again = h.exchange(&code, VERIFIER, "http://127.0.0.1:8080/").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("invalid_grant"));
}

#[tokio::test]
async fn redirect_uri_must_match_exactly() {
    let h = harness();
    // At authorize: an error page, never a redirect to the unregistered address.
    for bad in [
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/?x=1",
        "http://evil.example/",
    ] {
        let reply = h.get(&h.authorize_uri(0, &[("redirect_uri", bad)])).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(reply.location.is_none());
    }
    // At the token endpoint.
    let code = h.code_for(0).await;
    let reply = h.exchange(&code, VERIFIER, "http://127.0.0.1:8080").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("invalid_grant"));
}

#[tokio::test]
async fn authorize_refusals() {
    let h = harness();
    let unknown_client = h.get(&h.authorize_uri(0, &[("client_id", "other")])).await;
    assert_eq!(unknown_client.status, StatusCode::BAD_REQUEST);
    assert!(unknown_client.location.is_none());

    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("aud", "http://127.0.0.1:9090/other")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("launch", "launch-unknown")], "invalid_request"),
        (&[("scope", "patient/Patient.rs")], "invalid_scope"),
        (&[("response_type", "token")], "unsupported_response_type"),
    ];
    for (changes, error) in cases {
        let reply = h.get(&h.authorize_uri(0, changes)).await;
        let location = reply
            .location
            .unwrap_or_else(|| panic!("{changes:?}: no redirect"));
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some(*error),
            "{changes:?}"
        );
        assert_eq!(
            query_param(&location, "state").as_deref(),
            Some("state-123"),
            "{changes:?}"
        );
        assert_eq!(query_param(&location, "code"), None);
    }
}

#[tokio::test]
async fn discovery_and_metadata() {
    let h = harness();
    let smart = h.get("/fhir/.well-known/smart-configuration").await;
    assert_eq!(smart.status, StatusCode::OK);
    let smart: Value = serde_json::from_str(&smart.body).unwrap();
    assert_eq!(
        smart["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        smart["authorization_endpoint"],
        "http://127.0.0.1:9090/oauth2/authorize"
    );
    assert_eq!(
        smart["token_endpoint"],
        "http://127.0.0.1:9090/oauth2/token"
    );
    let meta = h.get("/fhir/metadata").await;
    assert_eq!(meta.headers[header::CONTENT_TYPE], "application/fhir+json");
    assert!(meta.body.contains("oauth-uris") && meta.body.contains("/oauth2/token"));
}

#[tokio::test]
async fn cors_allows_only_the_app_origin() {
    let h = harness();
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/fhir/Patient/x")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = h.send(preflight("http://127.0.0.1:8080")).await;
    assert_eq!(
        allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://127.0.0.1:8080"
    );
    let other = h.send(preflight("http://evil.example")).await;
    // The browser compares this header with the page's origin: anything else is a refusal.
    let granted = other.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    assert!(
        granted.is_none_or(|v| v != "http://evil.example" && v != "*"),
        "{granted:?}"
    );
    let log = h.ehr.requests();
    assert_eq!(log.len(), 2, "preflights are logged");
    assert_eq!(log[0].method, "OPTIONS");
    assert_eq!(log[0].origin.as_deref(), Some("http://127.0.0.1:8080"));
}

#[tokio::test]
async fn ehr_pages_list_patients_and_embed_cairn() {
    let h = harness();
    let home = h.get("/").await;
    let patients = h.ehr.patients();
    // Three Synthea patients, then the generated scale and hostile ones.
    assert_eq!(patients.len(), 5);
    for p in &patients {
        let escaped = p.name.replace('<', "&lt;").replace('>', "&gt;");
        assert!(home.body.contains(&escaped), "{} missing", p.name);
    }
    let page = h
        .get(&format!("/ehr/launch?patient={}", patients[2].id))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let src_start = page.body.find("src=\"").unwrap() + 5;
    let src = &page.body[src_start..src_start + page.body[src_start..].find('"').unwrap()];
    assert!(
        src.starts_with("http://127.0.0.1:8080/launch.html?launch=launch-"),
        "{src}"
    );
    assert!(
        src.contains("&amp;iss=http%3A%2F%2F127.0.0.1%3A9090%2Ffhir"),
        "{src}"
    );
    assert_eq!(
        h.get("/ehr/launch?patient=nobody").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let h = harness();
    let first = h
        .tokens_for_scope(0, "launch online_access patient/Patient.rs")
        .await;
    let at1 = first["access_token"].as_str().unwrap().to_owned();
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    assert!(
        rt1.starts_with("RT-CANARY-") && rt1.len() == 10 + 32,
        "{rt1}"
    );
    let uri = format!("/fhir/Patient/{}", h.patient(0));
    assert_eq!(h.get_with_token(&uri, &at1).await.status, StatusCode::OK);

    // The access token expires: 401 invalid_token, then a refresh and a retry work.
    h.ehr.expire_access_tokens();
    let expired = h.get_with_token(&uri, &at1).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        expired.headers[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    let second = h.refresh(&rt1, &[]).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(second.headers[header::CACHE_CONTROL], "no-store");
    let second = second.json();
    let at2 = second["access_token"].as_str().unwrap().to_owned();
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt2, rt1, "the refresh token rotates");
    assert_ne!(at2, at1);
    assert_eq!(second["scope"], "launch online_access patient/Patient.rs");
    assert_eq!(second["patient"], h.patient(0));
    assert_eq!(h.get_with_token(&uri, &at2).await.status, StatusCode::OK);

    // The rotated-out token is replayed: refused, and everything of this sign-in is revoked.
    let replay = h.refresh(&rt1, &[]).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.json()["error"], "invalid_grant");
    assert_eq!(
        h.get_with_token(&uri, &at2).await.status,
        StatusCode::UNAUTHORIZED
    );
    let revoked = h.refresh(&rt2, &[]).await;
    assert_eq!(revoked.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn refresh_narrows_scope_and_checks_the_client() {
    let h = harness();
    let first = h
        .tokens_for_scope(
            1,
            "launch offline_access patient/Patient.rs patient/Observation.rs",
        )
        .await;
    let rt = first["refresh_token"].as_str().unwrap();
    let wrong_client = h
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("client_id", "other"),
            ],
        )
        .await;
    assert_eq!(wrong_client.json()["error"], "invalid_grant");
    let wider = h.refresh(rt, &[("scope", "user/*.*")]).await;
    assert_eq!(wider.json()["error"], "invalid_scope");
    let narrowed = h.refresh(rt, &[("scope", "patient/Patient.rs")]).await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
    let narrowed = narrowed.json();
    assert_eq!(narrowed["scope"], "patient/Patient.rs");
    // The new refresh token keeps the original grant.
    let again = h
        .refresh(narrowed["refresh_token"].as_str().unwrap(), &[])
        .await
        .json();
    assert_eq!(
        again["scope"],
        "launch offline_access patient/Patient.rs patient/Observation.rs"
    );
    let missing = h
        .post_form(
            "/oauth2/token",
            &[("grant_type", "refresh_token"), ("client_id", "cairn-dev")],
        )
        .await;
    assert_eq!(missing.json()["error"], "invalid_request");
    let unknown = h.refresh("RT-CANARY-forged", &[]).await;
    assert_eq!(unknown.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn no_refresh_token_without_online_or_offline_access() {
    let h = harness();
    let token = h.tokens_for_scope(0, "launch patient/Patient.rs").await;
    assert!(token.get("refresh_token").is_none(), "{token}");
}

#[tokio::test]
async fn short_token_lifetimes_expire() {
    let h = harness();
    h.ehr
        .set_token_lifetime(std::time::Duration::from_millis(300));
    let token = h.tokens_for_scope(0, "launch patient/Patient.rs").await;
    assert_eq!(token["expires_in"], 0);
    let uri = format!("/fhir/Patient/{}", h.patient(0));
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(h.get_with_token(&uri, access).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        h.get_with_token(&uri, access).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_hostile_server_bounces_authorize_to_the_honest_one() {
    let h = harness();
    h.ehr.set_mix_up(Some(sandbox::MixUp {
        authorize: "http://127.0.0.1:7070/oauth2/authorize".into(),
        aud: "http://127.0.0.1:7070/fhir".into(),
        client_id: "honest-client".into(),
        redirect_uri: "http://127.0.0.1:8080/".into(),
        issuer: None,
    }));
    let smart = h.get("/fhir/.well-known/smart-configuration").await.json();
    assert!(smart.get("issuer").is_none(), "{smart}");
    assert_eq!(
        smart["authorization_response_iss_parameter_supported"],
        false
    );
    let bounced = h
        .get(
            "/oauth2/authorize?response_type=code&client_id=cairn-dev&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Findex.html\
             &state=S&aud=http%3A%2F%2F127.0.0.1%3A9090%2Ffhir&code_challenge=C&code_challenge_method=S256",
        )
        .await;
    assert!(bounced.status.is_redirection(), "{}", bounced.status);
    assert_eq!(
        bounced.location.as_deref(),
        Some(
            "http://127.0.0.1:7070/oauth2/authorize?response_type=code&client_id=honest-client\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F&state=S\
             &aud=http%3A%2F%2F127.0.0.1%3A7070%2Ffhir&code_challenge=C&code_challenge_method=S256"
        )
    );
    // Claiming the honest server's issuer instead.
    h.ehr.set_mix_up(Some(sandbox::MixUp {
        authorize: "http://127.0.0.1:7070/oauth2/authorize".into(),
        aud: "http://127.0.0.1:7070/fhir".into(),
        client_id: "honest-client".into(),
        redirect_uri: "http://127.0.0.1:8080/".into(),
        issuer: Some("http://127.0.0.1:7070/oauth2".into()),
    }));
    let smart = h.get("/fhir/.well-known/smart-configuration").await.json();
    assert_eq!(smart["issuer"], "http://127.0.0.1:7070/oauth2");
    assert_eq!(
        smart["authorization_response_iss_parameter_supported"],
        true
    );
}

/// The log keeps the `Epic-Client-ID` header a request carried (Cairn sends it on discovery
/// when configured for Epic), and `None` when there was none.
#[tokio::test]
async fn the_request_log_records_the_epic_client_id_header() {
    let h = harness();
    let with = Request::get("/fhir/.well-known/smart-configuration")
        .header("Epic-Client-ID", "cairn-dev")
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(with).await.status, StatusCode::OK);
    let without = Request::get("/fhir/metadata").body(Body::empty()).unwrap();
    assert_eq!(h.send(without).await.status, StatusCode::OK);
    let log = h.ehr.requests();
    assert_eq!(log[0].epic_client_id.as_deref(), Some("cairn-dev"));
    assert_eq!(log[1].epic_client_id, None);
}

/// A backend client's `client_credentials` answers, a token or a refusal, are never cached.
#[tokio::test]
async fn client_credentials_answers_are_not_stored() {
    let h = harness();
    h.ehr.register_backend_client(sandbox::BackendClient {
        client_id: "svc".into(),
        keys: sandbox::ClientKeys::Secret("s3cret".into()),
        scope: "system/Patient.rs".into(),
    });
    for (secret, scope, status) in [
        ("s3cret", "system/Patient.rs", StatusCode::OK),
        ("guess", "system/Patient.rs", StatusCode::UNAUTHORIZED),
        ("s3cret", "system/Observation.rs", StatusCode::BAD_REQUEST),
    ] {
        let reply = h
            .post_form(
                "/oauth2/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "svc"),
                    ("client_secret", secret),
                    ("scope", scope),
                ],
            )
            .await;
        assert_eq!(reply.status, status, "{}", reply.body);
        assert_eq!(
            reply.json()["access_token"].is_string(),
            status == StatusCode::OK
        );
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store", "{scope}");
    }
}
