//! FHIR Patient search, a clinician's reads, and the User-access Brand Bundle.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;

const CLINICIAN: &str = "user/Patient.rs openid fhirUser";

#[tokio::test]
async fn the_first_patient_has_an_mrn() {
    let h = harness();
    let first = &h.ehr.patients()[0];
    assert_eq!(first.name, "Alejandro Riojas");
    assert_eq!(first.mrn, "a9fcc685-c7a2-4474-bf25-26c8fe4b48f9");
}

#[tokio::test]
async fn a_clinician_searches_patients_by_name_and_mrn() {
    let h = harness();
    let token = h.standalone_tokens(CLINICIAN, "practitioner").await;
    let access = token["access_token"].as_str().unwrap();

    let by_name = h.get_with_token("/fhir/Patient?name=rIoJ", access).await;
    assert_eq!(by_name.status, StatusCode::OK, "{}", by_name.body);
    assert_eq!(
        by_name.headers[header::CONTENT_TYPE],
        "application/fhir+json"
    );
    let bundle = by_name.json();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    assert_eq!(bundle["total"], 1);
    assert_eq!(bundle["link"][0]["relation"], "self");
    assert_eq!(
        bundle["link"][0]["url"],
        "http://127.0.0.1:9090/fhir/Patient?name=rIoJ"
    );
    let entry = &bundle["entry"][0];
    assert_eq!(entry["search"]["mode"], "match");
    assert_eq!(
        entry["fullUrl"],
        format!("http://127.0.0.1:9090/fhir/Patient/{}", h.patient(0))
    );
    assert_eq!(entry["resource"]["id"], h.patient(0));

    let mrn = &h.ehr.patients()[1].mrn;
    for query in [
        format!("identifier={mrn}"),
        format!(
            "identifier={}",
            sandbox::url_encode(&format!("http://hospital.smarthealthit.org|{mrn}"))
        ),
    ] {
        let bundle = h
            .get_with_token(&format!("/fhir/Patient?{query}"), access)
            .await
            .json();
        assert_eq!(bundle["total"], 1, "{query}");
        assert_eq!(bundle["entry"][0]["resource"]["id"], h.patient(1));
    }
    // A standard server reads Epic's `MRN|…` as the system `MRN`, which no identifier has.
    for system in ["urn:x", "MRN"] {
        let wrong_system = h
            .get_with_token(
                &format!("/fhir/Patient?identifier={system}%7C{mrn}"),
                access,
            )
            .await
            .json();
        assert_eq!(wrong_system["total"], 0, "{system}");
        assert_eq!(wrong_system["entry"], serde_json::json!([]));
    }
    // Partial values do not match an identifier.
    let partial = h
        .get_with_token(&format!("/fhir/Patient?identifier={}", &mrn[..8]), access)
        .await
        .json();
    assert_eq!(partial["total"], 0);

    // Paging with _count.
    let page = h
        .get_with_token("/fhir/Patient?_count=4", access)
        .await
        .json();
    // Three Synthea patients, then the generated scale and hostile ones.
    assert_eq!(page["total"], 5);
    assert_eq!(page["entry"].as_array().unwrap().len(), 4);
    let next = page["link"][1]["url"].as_str().unwrap();
    assert_eq!(page["link"][1]["relation"], "next");
    let rest = h
        .get_with_token(next.strip_prefix("http://127.0.0.1:9090").unwrap(), access)
        .await
        .json();
    assert_eq!(rest["entry"].as_array().unwrap().len(), 1);
    assert_eq!(
        rest["link"].as_array().unwrap().len(),
        1,
        "no next on the last page"
    );

    let unsupported = h
        .get_with_token("/fhir/Patient?address-city=Boston", access)
        .await;
    assert_eq!(unsupported.status, StatusCode::BAD_REQUEST);
    assert_eq!(unsupported.json()["resourceType"], "OperationOutcome");
    let bad_count = h.get_with_token("/fhir/Patient?_count=many", access).await;
    assert_eq!(bad_count.status, StatusCode::BAD_REQUEST);

    // A clinician reads any patient.
    let read = h
        .get_with_token(&format!("/fhir/Patient/{}", h.patient(2)), access)
        .await;
    assert_eq!(read.status, StatusCode::OK);
}

#[tokio::test]
async fn patient_tokens_cannot_search() {
    let h = harness();
    // An EHR launch's patient-level token.
    let ehr = h.tokens_for_scope(0, "launch patient/Patient.rs").await;
    // A patient's own sign-in, even with a user-level scope.
    let own = h
        .standalone_tokens(
            "launch/patient user/Patient.rs patient/Patient.rs",
            &format!("patient:{}", h.patient(1)),
        )
        .await;
    for token in [ehr, own] {
        let reply = h
            .get_with_token(
                "/fhir/Patient?name=a",
                token["access_token"].as_str().unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{token}");
        assert_eq!(reply.json()["resourceType"], "OperationOutcome");
    }
    let none = h.get("/fhir/Patient?name=a").await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn brands_bundle_with_etag_and_cors() {
    let h = harness();
    let smart = h.get("/fhir/.well-known/smart-configuration").await.json();
    assert_eq!(
        smart["user_access_brand_bundle"],
        "http://127.0.0.1:9090/brands.json"
    );
    let get = |if_none_match: Option<&str>| {
        let mut req = Request::get("/brands.json").header(header::ORIGIN, "http://127.0.0.1:8080");
        if let Some(tag) = if_none_match {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        req.body(Body::empty()).unwrap()
    };
    let first = h.send(get(None)).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        first.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://127.0.0.1:8080"
    );
    let exposed = first.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("etag"), "{exposed}");
    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
    let bundle = first.json();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let org = &bundle["entry"][0]["resource"];
    assert_eq!(org["resourceType"], "Organization");
    assert_eq!(org["name"], "Cairn Development Health");
    assert_eq!(org["endpoint"][0]["reference"], "Endpoint/cairn-dev-r4");
    let portal = &org["extension"][0];
    assert_eq!(
        portal["url"],
        "http://hl7.org/fhir/StructureDefinition/organization-portal"
    );
    let endpoint = &bundle["entry"][1]["resource"];
    assert_eq!(endpoint["resourceType"], "Endpoint");
    assert_eq!(endpoint["id"], "cairn-dev-r4");
    assert_eq!(endpoint["address"], h.ehr.fhir_base());

    let cached = h.send(get(Some(&etag))).await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert!(cached.body.is_empty());
    assert_eq!(cached.headers[header::ETAG], etag.as_str());
    let weak = h.send(get(Some(&format!("\"other\", W/{etag}")))).await;
    assert_eq!(weak.status, StatusCode::NOT_MODIFIED);
    let stale = h.send(get(Some("\"stale\""))).await;
    assert_eq!(stale.status, StatusCode::OK);

    // A preflight for a conditional request is allowed.
    let preflight = h
        .send(
            Request::builder()
                .method("OPTIONS")
                .uri("/brands.json")
                .header(header::ORIGIN, "http://127.0.0.1:8080")
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
                .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "if-none-match")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let allowed = preflight.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("if-none-match"), "{allowed}");
}
