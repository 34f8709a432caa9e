//! What `cargo xtask bench` needs of the EHR: a second registered app (the `fhirclient`
//! baseline), a latency knob, and request times in the log.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Harness, VERIFIER, query_param};
use sandbox::{Config, Ehr, RegisteredApp};

const BASELINE_ORIGIN: &str = "http://127.0.0.1:8181";
const BASELINE_REDIRECT: &str = "http://127.0.0.1:8181/";

fn with_baseline() -> Harness {
    let mut config = Config::dev(9090, 8080);
    config.other_apps.push(RegisteredApp {
        name: "baseline".into(),
        launch_url: BASELINE_REDIRECT.into(),
        origin: BASELINE_ORIGIN.into(),
        client_id: "fhirclient-baseline".into(),
        redirect_uri: BASELINE_REDIRECT.into(),
    });
    let ehr = Ehr::new(config);
    let app = ehr.router();
    Harness { ehr, app }
}

#[tokio::test]
async fn a_registered_app_launches_with_its_own_client_id_redirect_and_origin() {
    let h = with_baseline();
    let page = h
        .get(&format!(
            "/ehr/launch?patient={}&app=baseline",
            h.patient(1)
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("src=\"http://127.0.0.1:8181/?launch=launch-"),
        "{}",
        page.body
    );
    let unknown = h
        .get(&format!("/ehr/launch?patient={}&app=nope", h.patient(1)))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let as_baseline = [
        ("client_id", "fhirclient-baseline"),
        ("redirect_uri", BASELINE_REDIRECT),
    ];
    let reply = h.get(&h.authorize_uri(1, &as_baseline)).await;
    let location = reply.location.expect("a redirect with a code");
    assert!(location.starts_with(BASELINE_REDIRECT), "{location}");
    let code = query_param(&location, "code").expect("a code");
    let token = h
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", BASELINE_REDIRECT),
                ("client_id", "fhirclient-baseline"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.body);
    assert_eq!(token.json()["patient"], h.patient(1));

    // Each client keeps its own redirect URI.
    let crossed = h
        .get(&h.authorize_uri(1, &[("client_id", "fhirclient-baseline")]))
        .await;
    assert_eq!(crossed.status, StatusCode::BAD_REQUEST, "{}", crossed.body);
    // Cairn still launches as before.
    assert!(h.get(&h.authorize_uri(1, &[])).await.location.is_some());

    let preflight = h
        .send(
            Request::builder()
                .method("OPTIONS")
                .uri("/fhir/Patient/x")
                .header(header::ORIGIN, BASELINE_ORIGIN)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
                .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        preflight.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        BASELINE_ORIGIN
    );
}

#[tokio::test]
async fn latency_holds_every_response_back_and_the_log_times_each_request() {
    let h = common::harness();
    h.ehr.set_latency(Duration::from_millis(80));
    let before = Instant::now();
    let discovery = h.get("/fhir/.well-known/smart-configuration").await;
    assert_eq!(discovery.status, StatusCode::OK);
    assert!(before.elapsed() >= Duration::from_millis(80));
    let token = h
        .post_form("/oauth2/token", &[("grant_type", "password")])
        .await;
    assert_eq!(token.status, StatusCode::BAD_REQUEST, "{}", token.body);

    let log = h.ehr.requests();
    assert_eq!(log.len(), 2);
    for entry in &log {
        let answered = entry.answered.expect("answered");
        assert!(
            answered - entry.received >= Duration::from_millis(80),
            "{entry:?}"
        );
    }
    // One after the other: the second arrived after the first was answered.
    assert!(log[1].received >= log[0].answered.unwrap());
}
