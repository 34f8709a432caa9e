//! Epic mode: the development EHR answering as Epic's published documentation says (discovery,
//! scopes, token and id_token, identifiers, Patient and Observation search, paging sessions,
//! long ids, codings), and the same requests in the standard mode where they differ.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use axum::http::{StatusCode, header};
use common::*;
use sandbox::{Ehr, Fault, url_encode};
use serde_json::{Value, json};

const ORIGIN: &str = "http://127.0.0.1:9090";
const BASE: &str = "http://127.0.0.1:9090/fhir";
const CLINICIAN_V1: &str =
    "user/Patient.read user/Encounter.read user/Observation.read openid fhirUser";
const MRN_SYSTEM: &str = "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14";
const EPI_SYSTEM: &str = "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.0";

async fn clinician(h: &Harness) -> String {
    let token = h.standalone_tokens(CLINICIAN_V1, "practitioner").await;
    token["access_token"].as_str().unwrap().to_owned()
}

async fn search(h: &Harness, uri: &str, token: &str) -> (StatusCode, Value) {
    let reply = h.get_with_token(uri, token).await;
    (reply.status, reply.json())
}

fn next_of(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .map(|l| l["url"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn discovery_is_shaped_like_an_epic_customers() {
    let h = epic_harness();
    let smart = h.get("/fhir/.well-known/smart-configuration").await.json();
    let capabilities: Vec<&str> = smart["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for wanted in [
        "authorize-post",
        "launch-ehr",
        "launch-standalone",
        "client-public",
        "context-ehr-patient",
        "context-standalone-patient",
        "sso-openid-connect",
        "permission-patient",
        "permission-user",
        "permission-offline",
        "context-banner",
        "context-style",
    ] {
        assert!(capabilities.contains(&wanted), "{wanted}: {capabilities:?}");
    }
    for absent in [
        "permission-v2",
        "permission-online",
        "context-ehr-encounter",
    ] {
        assert!(!capabilities.contains(&absent), "{absent}");
    }
    assert_eq!(smart["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(smart["issuer"], "http://127.0.0.1:9090/oauth2");
    assert_eq!(smart["token_endpoint"], format!("{ORIGIN}/oauth2/token"));
    assert_eq!(smart["jwks_uri"], format!("{ORIGIN}/oauth2/jwks"));

    // The standard mode keeps advertising SMART v2.
    let standard = harness();
    let smart = standard
        .get("/fhir/.well-known/smart-configuration")
        .await
        .json();
    assert!(
        smart["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("permission-v2"))
    );
}

#[tokio::test]
async fn cors_allows_the_epic_client_id_header_in_both_modes() {
    for h in [harness(), epic_harness()] {
        let reply = h
            .send(preflight(
                "/fhir/.well-known/smart-configuration",
                "GET",
                "epic-client-id",
            ))
            .await;
        assert_eq!(
            reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://127.0.0.1:8080"
        );
        let allowed = reply.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(allowed.contains("epic-client-id"), "{allowed}");
    }
}

#[tokio::test]
async fn the_ehr_page_switches_epic_mode_per_launch() {
    let h = harness();
    let home = h.get("/").await;
    assert!(
        home.body
            .contains("<input type=\"checkbox\" name=\"epic\" value=\"1\"> Epic mode"),
        "{}",
        home.body
    );
    let patient = h.patient(0);
    h.get(&format!("/ehr/launch?patient={patient}&fault=none&epic=1"))
        .await;
    assert!(h.ehr.epic_mode());
    // The home page keeps the mode in its links and its checkbox.
    let home = h.get("/").await;
    assert!(home.body.contains(&format!("patient={patient}&amp;epic=1")));
    assert!(home.body.contains("value=\"1\" checked> Epic mode"));
    h.get(&format!("/ehr/launch?patient={patient}")).await;
    assert!(!h.ehr.epic_mode(), "a launch without epic=1 turns it off");
    h.ehr.set_epic_mode(true);
    assert!(h.ehr.epic_mode());
}

#[tokio::test]
async fn tokens_are_lower_case_bearer_with_a_v1_grant() {
    let h = epic_harness();
    // An EHR launch: the clinician's grant, in v1 form, whatever level was asked.
    let token = h
        .tokens_for_scope(
            0,
            "launch openid fhirUser patient/Patient.read patient/Observation.read \
             patient/Encounter.read",
        )
        .await;
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(
        token["scope"],
        "launch openid fhirUser user/Patient.read user/Observation.read user/Encounter.read"
    );
    let access = token["access_token"].as_str().unwrap();
    let read = h
        .get_with_token(&format!("/fhir/Patient/{}", h.patient(0)), access)
        .await;
    assert_eq!(read.status, StatusCode::OK);

    // A patient's standalone sign-in: patient-level v1 scopes.
    let own = h
        .standalone_tokens(
            "launch/patient openid fhirUser patient/Patient.read patient/Observation.read",
            &format!("patient:{}", h.patient(1)),
        )
        .await;
    assert_eq!(own["token_type"], "bearer");
    assert_eq!(
        own["scope"],
        "launch/patient openid fhirUser patient/Patient.read patient/Observation.read"
    );
    // A wildcard is granted as the registered APIs.
    let all = h.tokens_for_scope(0, "launch user/*.read").await;
    assert_eq!(
        all["scope"],
        "launch user/Patient.read user/Encounter.read user/Observation.read \
         user/Practitioner.read"
    );
}

#[tokio::test]
async fn v2_and_unregistered_scopes_are_refused_with_invalid_scope() {
    let h = epic_harness();
    h.ehr
        .set_registered_apis(&["Patient", "Encounter", "Observation:laboratory"]);
    let cases = [
        ("launch patient/Patient.rs", "invalid_scope"),
        ("launch patient/Patient.r", "invalid_scope"),
        ("launch user/Observation.cruds", "invalid_scope"),
        (
            "launch patient/Observation.rs?category=laboratory",
            "invalid_scope",
        ),
        ("launch patient/Condition.read", "invalid_scope"),
        ("launch user/Practitioner.read", "invalid_scope"),
    ];
    for (scope, error) in cases {
        let launch = h.ehr.create_launch(&h.patient(0)).unwrap();
        let reply = h
            .get(&h.standalone_uri(scope, &[("launch", &launch)]))
            .await;
        let location = reply.location.unwrap_or_else(|| panic!("{scope}"));
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some(error),
            "{scope}"
        );
        assert_eq!(
            query_param(&location, "state").as_deref(),
            Some("state-123")
        );
        assert!(query_param(&location, "error_description").is_some());
        assert_eq!(query_param(&location, "code"), None);
    }
    // Standalone too, before any sign-in page.
    let reply = h.get(&h.standalone_uri("patient/Patient.rs", &[])).await;
    let location = reply.location.expect("a redirect");
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_scope")
    );
    // Observation is registered for one category: the scope is granted.
    let token = h
        .tokens_for_scope(0, "launch user/Observation.read user/Patient.read")
        .await;
    assert_eq!(
        token["scope"],
        "launch user/Observation.read user/Patient.read"
    );
}

#[tokio::test]
async fn the_standard_mode_accepts_v1_requests_as_asked() {
    let h = harness();
    let token = h
        .tokens_for_scope(0, "launch patient/Patient.read patient/Observation.read")
        .await;
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(
        token["scope"],
        "launch patient/Patient.read patient/Observation.read"
    );
    let access = token["access_token"].as_str().unwrap();
    let patient = h.patient(0);
    let read = h
        .get_with_token(&format!("/fhir/Patient/{patient}"), access)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let found = h
        .get_with_token(
            &format!("/fhir/Observation?patient={patient}&category=vital-signs"),
            access,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK);
}

#[tokio::test]
async fn grant_spelling_faults_still_work_for_reads_and_searches() {
    let requested = "launch patient/Patient.read patient/Observation.read";
    let v2 = "launch patient/Patient.rs patient/Observation.rs";
    let cases = [
        (
            true,
            Fault::EpicScopeMixedCase,
            requested,
            "launch user/Patient.Read user/Observation.Read",
        ),
        (
            true,
            Fault::EpicScopeUnprefixed,
            requested,
            "launch Patient.read Patient.search Observation.read Observation.search",
        ),
        (
            false,
            Fault::ScopeV2Split,
            v2,
            "launch patient/Patient.r patient/Patient.s patient/Observation.r \
             patient/Observation.s",
        ),
    ];
    for (epic, fault, scope, granted) in cases {
        let h = if epic { epic_harness() } else { harness() };
        h.ehr.inject(fault);
        let token = h.tokens_for_scope(0, scope).await;
        assert_eq!(token["scope"], granted, "{fault:?}");
        let access = token["access_token"].as_str().unwrap();
        let patient = h.patient(0);
        for uri in [
            format!("/fhir/Patient/{patient}"),
            format!("/fhir/Observation?patient={patient}&category=vital-signs"),
        ] {
            let reply = h.get_with_token(&uri, access).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{fault:?} {uri}: {}",
                reply.body
            );
        }
    }
}

#[tokio::test]
async fn id_tokens_as_epic_writes_them() {
    let h = epic_harness();
    let token = h
        .tokens_for_scope(0, "launch openid fhirUser user/Patient.read")
        .await;
    let (header, claims, verified) = jwks_verified(&h, token["id_token"].as_str().unwrap()).await;
    verified.expect("the signature verifies");
    let kid = header["header"]["kid"].as_str().unwrap();
    assert_eq!(header["jwks_kid"], kid, "the JWKS publishes the same kid");
    assert_eq!(kid.len(), 43, "base64url of a SHA-256: {kid}");
    assert!(
        kid.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    assert_eq!(header["header"]["alg"], "RS256");
    for absent in ["name", "given_name", "family_name"] {
        assert!(claims.get(absent).is_none(), "{absent}: {claims}");
    }
    assert_eq!(
        claims["fhirUser"],
        format!("{BASE}/Practitioner/dev-practitioner")
    );
    assert!(claims["iss"].as_str().unwrap().ends_with("/oauth2"));
    assert_eq!(claims["aud"], "cairn-dev");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );

    assert!(
        claims.get("preferred_username").is_none(),
        "only with profile"
    );
    let token = h
        .tokens_for_scope(0, "launch openid fhirUser profile user/Patient.read")
        .await;
    let (_, claims, _) = jwks_verified(&h, token["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["preferred_username"], "ACLINICIAN");
    assert!(claims.get("name").is_none());

    // Epic's specification example: fhirUser under the OAuth 2.0 server's path.
    h.ehr.inject(Fault::IdTokenFhirUserOauth2Path);
    let token = h
        .tokens_for_scope(0, "launch openid fhirUser user/Patient.read")
        .await;
    let (_, claims, verified) = jwks_verified(&h, token["id_token"].as_str().unwrap()).await;
    verified.unwrap();
    assert_eq!(
        claims["fhirUser"],
        format!("{ORIGIN}/oauth2/api/FHIR/R4/Practitioner/dev-practitioner")
    );
    // The standard mode keeps its name claim.
    let standard = harness();
    let token = standard
        .tokens_for_scope(0, "launch openid fhirUser patient/Patient.rs")
        .await;
    let claims = verified_claims(&standard, token["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["name"], "Dr. Ada Clinician");
}

#[tokio::test]
async fn patients_carry_epic_identifiers_only() {
    let h = epic_harness();
    let token = clinician(&h).await;
    for (n, summary) in h.ehr.patients().iter().enumerate() {
        let patient = h
            .get_with_token(&format!("/fhir/Patient/{}", h.patient(n)), &token)
            .await
            .json();
        let identifiers = patient["identifier"].as_array().unwrap();
        let texts: Vec<&str> = identifiers
            .iter()
            .map(|i| i["type"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, ["EPI", "MRN", "CEID"], "{}", summary.name);
        for i in identifiers {
            assert!(i["type"].get("coding").is_none(), "{i}");
            assert!(
                i["system"]
                    .as_str()
                    .unwrap()
                    .starts_with("urn:oid:1.2.840.114350.1.13.0.1.7.5.737384."),
                "{i}"
            );
        }
        assert_eq!(identifiers[0]["system"], EPI_SYSTEM);
        assert_eq!(identifiers[1]["system"], MRN_SYSTEM);
        assert_eq!(identifiers[1]["value"], summary.mrn.as_str());
    }
    // The standard mode's identifiers are Synthea's, with v2-0203 codings.
    let standard = harness();
    let patient = &standard.ehr.resources_of("Patient", &standard.patient(0));
    assert!(
        patient.is_empty(),
        "a Patient is not in its own compartment"
    );
    let token = standard
        .standalone_tokens("user/Patient.rs", "practitioner")
        .await;
    let patient = standard
        .get_with_token(
            &format!("/fhir/Patient/{}", standard.patient(0)),
            token["access_token"].as_str().unwrap(),
        )
        .await
        .json();
    assert_eq!(patient["identifier"][1]["type"]["coding"][0]["code"], "MR");
}

#[tokio::test]
async fn patient_search_needs_epics_minimum_data_set() {
    let h = epic_harness();
    let token = clinician(&h).await;
    let alfreda = &h.ehr.patients()[1];
    let mrn = alfreda.mrn.clone();
    let found = [
        format!("identifier=MRN%7C{mrn}"),
        format!("identifier={}", url_encode(&format!("{MRN_SYSTEM}|{mrn}"))),
        format!("identifier={mrn}"),
        format!(
            "family=Wyman&given=Alfreda&birthdate={}",
            alfreda.birth_date
        ),
        format!(
            "family=wyman&given=alf&gender=female&birthdate={}",
            alfreda.birth_date
        ),
        format!("_id={}", alfreda.id),
    ];
    for query in found {
        let (status, bundle) = search(&h, &format!("/fhir/Patient?{query}"), &token).await;
        assert_eq!(status, StatusCode::OK, "{query}: {bundle}");
        let matches = matched(&bundle);
        assert_eq!(matches.len(), 1, "{query}");
        assert_eq!(matches[0]["id"], alfreda.id.as_str());
        assert_eq!(bundle["total"], 1);
    }
    // Epic's EPI identifier by its type too.
    let epi = h
        .get_with_token(&format!("/fhir/Patient/{}", alfreda.id), &token)
        .await
        .json()["identifier"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, bundle) = search(&h, &format!("/fhir/Patient?identifier=EPI%7C{epi}"), &token).await;
    assert_eq!(matched(&bundle).len(), 1);

    // Too few elements: 59133.
    for query in [
        "name=Wyman".to_owned(),
        "family=Wyman&given=Alfreda".to_owned(),
        format!("family=Wyman&birthdate={}", alfreda.birth_date),
        "gender=female".to_owned(),
        String::new(),
    ] {
        let (status, outcome) = search(&h, &format!("/fhir/Patient?{query}"), &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(epic_code(&outcome), "59133", "{query}");
        assert_eq!(outcome["issue"][0]["severity"], "fatal");
        assert!(
            outcome["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .contains("family name, given name and birth date")
        );
    }
    // More matches than the limit: 4127.
    h.ehr.set_patient_search_limit(2);
    let ids: Vec<String> = (0..3).map(|n| h.patient(n)).collect();
    let (status, outcome) =
        search(&h, &format!("/fhir/Patient?_id={}", ids.join(",")), &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(epic_code(&outcome), "4127");
    // An unknown parameter is ignored with a warning; nothing found is 4101.
    let (status, bundle) = search(
        &h,
        &format!("/fhir/Patient?identifier=MRN%7C{mrn}&address-city=Boston"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(matched(&bundle).len(), 1);
    assert_eq!(
        outcome_entries(&bundle),
        [("4122".to_owned(), "warning".to_owned())]
    );
    let (status, bundle) = search(&h, "/fhir/Patient?identifier=MRN%7Cnobody", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bundle["total"], 0);
    assert_eq!(
        outcome_entries(&bundle),
        [("4101".to_owned(), "warning".to_owned())]
    );
}

/// An organisation may set a stricter minimum data set than Epic's default: here, a search by
/// name also needs the sex; an identifier still suffices, and the standard mode ignores it.
#[tokio::test]
async fn a_stricter_minimum_data_set_needs_the_sex_too() {
    let h = epic_harness();
    let token = clinician(&h).await;
    let alfreda = &h.ehr.patients()[1];
    let by_name = format!(
        "family=Wyman&given=Alfreda&birthdate={}",
        alfreda.birth_date
    );
    h.ehr.set_patient_search_requires_gender(true);
    let (status, outcome) = search(&h, &format!("/fhir/Patient?{by_name}"), &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    assert_eq!(epic_code(&outcome), "59133");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("birth date and gender"),
        "{outcome}"
    );
    for query in [
        format!("{by_name}&gender=female"),
        format!("identifier=MRN%7C{}", alfreda.mrn),
        format!("_id={}", alfreda.id),
    ] {
        let (status, bundle) = search(&h, &format!("/fhir/Patient?{query}"), &token).await;
        assert_eq!(status, StatusCode::OK, "{query}: {bundle}");
        let matches = matched(&bundle);
        assert_eq!(matches.len(), 1, "{query}");
        assert_eq!(matches[0]["id"], alfreda.id.as_str());
    }
    // Another sex finds nobody (4101), not a refusal.
    let (status, bundle) =
        search(&h, &format!("/fhir/Patient?{by_name}&gender=male"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(matched(&bundle).is_empty());
    // Back to Epic's default minimum data set.
    h.ehr.set_patient_search_requires_gender(false);
    let (status, bundle) = search(&h, &format!("/fhir/Patient?{by_name}"), &token).await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    assert_eq!(matched(&bundle).len(), 1);

    // The standard mode has no minimum data set at all.
    let standard = harness();
    standard.ehr.set_patient_search_requires_gender(true);
    let token = standard
        .standalone_tokens("user/Patient.rs", "practitioner")
        .await;
    let (status, bundle) = search(
        &standard,
        &format!("/fhir/Patient?{by_name}"),
        token["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    assert_eq!(bundle["total"], 1);
}

#[tokio::test]
async fn standard_patient_search_by_identifier_and_demographics() {
    let h = harness();
    let token = h.standalone_tokens("user/Patient.rs", "practitioner").await;
    let access = token["access_token"].as_str().unwrap();
    let alfreda = &h.ehr.patients()[1];
    let mrn = &alfreda.mrn;
    let cases = [
        (format!("identifier={mrn}"), 1),
        (
            format!(
                "identifier={}",
                url_encode(&format!("http://hospital.smarthealthit.org|{mrn}"))
            ),
            1,
        ),
        (format!("identifier=MRN%7C{mrn}"), 0),
        (format!("identifier=EPI%7C{mrn}"), 0),
        (
            format!(
                "family=Wyman&given=Alfreda&birthdate={}",
                alfreda.birth_date
            ),
            1,
        ),
        ("family=wyman&gender=male".to_owned(), 0),
        ("family=Wyman".to_owned(), 1),
    ];
    for (query, n) in cases {
        let (status, bundle) = search(&h, &format!("/fhir/Patient?{query}"), access).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(bundle["total"], n, "{query}");
        assert_eq!(bundle["entry"].as_array().unwrap().len(), n, "{query}");
    }
}

#[tokio::test]
async fn observation_search_refusals_and_outcomes() {
    let h = epic_harness();
    let token = clinician(&h).await;
    let patient = h.patient(0);
    // Neither category nor code.
    let (status, outcome) =
        search(&h, &format!("/fhir/Observation?patient={patient}"), &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(epic_code(&outcome), "4111");
    // An unknown category is fatal.
    for category in ["vitals", "vital-signs,nonsense"] {
        let (status, outcome) = search(
            &h,
            &format!("/fhir/Observation?patient={patient}&category={category}"),
            &token,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{category}");
        assert_eq!(epic_code(&outcome), "59111");
        assert_eq!(outcome["issue"][0]["severity"], "fatal");
    }
    // Unknown parameters are ignored with a warning entry.
    let (status, bundle) = search(
        &h,
        &format!(
            "/fhir/Observation?patient={patient}&category=vital-signs&_include=Observation:encounter"
        ),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!matched(&bundle).is_empty());
    assert_eq!(
        outcome_entries(&bundle),
        [("4122".to_owned(), "warning".to_owned())]
    );
    let warning = &bundle["entry"].as_array().unwrap().last().unwrap()["resource"]["issue"][0];
    assert_eq!(warning["location"], json!(["http._include"]));
    assert_eq!(warning["code"], "informational");
    // Nothing found: total 0 and a 4101 outcome entry.
    let (status, bundle) = search(
        &h,
        &format!("/fhir/Observation?patient={patient}&category=social-history"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bundle["total"], 0);
    assert_eq!(bundle["entry"].as_array().unwrap().len(), 1);
    assert_eq!(
        outcome_entries(&bundle),
        [("4101".to_owned(), "warning".to_owned())]
    );
    // A category whose APIs are not registered: 403.
    h.ehr
        .set_registered_apis(&["Patient", "Encounter", "Observation:laboratory"]);
    let (status, outcome) = search(
        &h,
        &format!("/fhir/Observation?patient={patient}&category=vital-signs"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(epic_code(&outcome), "4118");
    let (status, _) = search(
        &h,
        &format!("/fhir/Observation?patient={patient}&category=laboratory"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn one_category_with_an_encounter_is_a_search_in_both_modes() {
    for h in [harness(), epic_harness()] {
        let token = clinician(&h).await;
        let scale = Ehr::scale_patient_id();
        for category in ["vital-signs", "laboratory"] {
            let (status, bundle) = search(
                &h,
                &format!(
                    "/fhir/Observation?patient={scale}&category={category}&encounter=Encounter/scale-enc-010"
                ),
                &token,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{category}: {bundle}");
            let found = matched(&bundle);
            assert!(!found.is_empty());
            for o in found {
                assert_eq!(o["encounter"]["reference"], "Encounter/scale-enc-010");
            }
        }
    }
}

#[tokio::test]
async fn pages_are_session_links_and_total_is_the_page_size() {
    let h = epic_harness();
    let token = clinician(&h).await;
    let scale = Ehr::scale_patient_id();
    for (resource, query, all) in [
        ("Observation", "category=laboratory", 3750),
        ("Encounter", "", 200),
    ] {
        let mut url = format!("/fhir/{resource}?patient={scale}&{query}&_count=200");
        let mut seen = HashSet::new();
        let mut pages = 0;
        loop {
            let (status, bundle) = search(&h, &url, &token).await;
            assert_eq!(status, StatusCode::OK, "{url}: {bundle}");
            let found = matched(&bundle);
            assert_eq!(bundle["total"], found.len(), "total is the page size");
            seen.extend(found.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
            pages += 1;
            match next_of(&bundle) {
                Some(next) => {
                    let session = next
                        .strip_prefix(&format!("{BASE}/{resource}?sessionID="))
                        .unwrap_or_else(|| panic!("{next}"));
                    assert!(!session.is_empty() && !session.contains('&'), "{next}");
                    url = next.strip_prefix(ORIGIN).unwrap().to_owned();
                }
                None => break,
            }
        }
        assert_eq!(seen.len(), all, "{resource}");
        assert_eq!(pages, all.div_ceil(200), "{resource}");
    }
}

#[tokio::test]
async fn paging_sessions_expire_with_4113() {
    let h = epic_harness();
    let token = clinician(&h).await;
    let scale = Ehr::scale_patient_id();
    let first = format!("/fhir/Observation?patient={scale}&category=vital-signs&_count=10");
    h.ehr.set_paging_session_lifetime(Duration::ZERO);
    let (_, bundle) = search(&h, &first, &token).await;
    let next = next_of(&bundle).unwrap();
    let (status, outcome) = search(&h, next.strip_prefix(ORIGIN).unwrap(), &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(epic_code(&outcome), "4113");
    // A sessionID that never was: 404, 4113.
    let (status, outcome) = search(&h, "/fhir/Observation?sessionID=16-nothing", &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(epic_code(&outcome), "4113");

    // The fault: each search's first sessionID is dead on first use; the search started
    // again pages.
    h.ehr.set_paging_session_lifetime(Duration::from_secs(600));
    h.ehr.set_fault(Some(Fault::EpicPagingSessionExpired));
    let (_, bundle) = search(&h, &first, &token).await;
    let dead = next_of(&bundle).unwrap();
    let (status, outcome) = search(&h, dead.strip_prefix(ORIGIN).unwrap(), &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(epic_code(&outcome), "4113");
    let (_, bundle) = search(&h, &first, &token).await;
    let next = next_of(&bundle).unwrap();
    let (status, page2) = search(&h, next.strip_prefix(ORIGIN).unwrap(), &token).await;
    assert_eq!(status, StatusCode::OK, "{page2}");
    assert_eq!(matched(&page2).len(), 10);
    let page3 = next_of(&page2).unwrap();
    let (status, _) = search(&h, page3.strip_prefix(ORIGIN).unwrap(), &token).await;
    assert_eq!(status, StatusCode::OK, "later sessions live");
}

#[tokio::test]
async fn observation_ids_are_long_and_read_consistently() {
    let h = epic_harness();
    let token = clinician(&h).await;
    let patient = h.patient(0);
    let (_, bundle) = search(
        &h,
        &format!("/fhir/Observation?patient={patient}&category=vital-signs,laboratory"),
        &token,
    )
    .await;
    let entries = bundle["entry"].as_array().unwrap();
    assert!(!entries.is_empty());
    for entry in entries {
        let id = entry["resource"]["id"].as_str().unwrap();
        assert_eq!(id.len(), 90, "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
            "{id}"
        );
        assert_eq!(entry["fullUrl"], format!("{BASE}/Observation/{id}"));
    }
    let first = &entries[0]["resource"];
    let id = first["id"].as_str().unwrap();
    let read = h
        .get_with_token(&format!("/fhir/Observation/{id}"), &token)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(&read.json(), first);
    // The stored (short) id is not an Epic id.
    let stored = &h.ehr.resources_of("Observation", &patient);
    assert!(
        stored.iter().any(|o| o["id"] == id),
        "resources_of serves the same ids"
    );
    let standard = harness();
    let short = standard.ehr.resources_of("Observation", &patient)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(short.len() <= 64);
    let reply = h
        .get_with_token(&format!("/fhir/Observation/{short}"), &token)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn encounter_class_and_vital_signs_carry_epic_codings() {
    let h = epic_harness();
    let token = clinician(&h).await;
    let patient = h.patient(0);
    let (_, bundle) = search(&h, &format!("/fhir/Encounter?patient={patient}"), &token).await;
    let encounters = matched(&bundle);
    assert!(!encounters.is_empty());
    for e in &encounters {
        let class = &e["class"];
        assert_eq!(
            class["system"],
            "urn:oid:1.2.840.114350.1.72.1.7.7.10.696784.13260"
        );
        assert!(class["code"].is_string());
        assert!(
            ["Outpatient", "Inpatient", "Emergency"].contains(&class["display"].as_str().unwrap()),
            "{class}"
        );
    }
    assert!(
        encounters
            .iter()
            .any(|e| e["class"]["display"] == "Outpatient")
    );
    let (_, bundle) = search(
        &h,
        &format!("/fhir/Observation?patient={patient}&category=vital-signs"),
        &token,
    )
    .await;
    for o in matched(&bundle) {
        let codings = o["code"]["coding"].as_array().unwrap();
        assert_eq!(
            codings[0]["system"], "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679",
            "{o}"
        );
        assert!(codings[0]["code"].is_string() && codings[0]["display"].is_string());
        assert_eq!(codings[1]["system"], "http://loinc.org");
    }
    // A body weight is flowsheet row 14, and LOINC search still finds it.
    let (_, bundle) = search(
        &h,
        &format!("/fhir/Observation?patient={patient}&code=http://loinc.org%7C29463-7"),
        &token,
    )
    .await;
    let weights = matched(&bundle);
    assert_eq!(weights.len(), 4);
    assert_eq!(weights[0]["code"]["coding"][0]["code"], "14");
    assert_eq!(weights[0]["code"]["coding"][0]["display"], "Weight");
    // Labs keep their LOINC coding first.
    let (_, bundle) = search(
        &h,
        &format!("/fhir/Observation?patient={patient}&category=laboratory"),
        &token,
    )
    .await;
    assert_eq!(
        matched(&bundle)[0]["code"]["coding"][0]["system"],
        "http://loinc.org"
    );
}

#[test]
fn the_epic_configuration_adds_the_per_server_fields() {
    let ehr = Ehr::new(sandbox::Config::dev(9090, 8080));
    let standard: Value = serde_json::from_str(&sandbox::cairn_config_json(&ehr)).unwrap();
    let epic: Value = serde_json::from_str(&sandbox::cairn_epic_config_json(&ehr)).unwrap();
    let mut expected = standard.clone();
    expected["fhir_servers"][0]["mrn"] = json!({"type_text": "MRN"});
    expected["fhir_servers"][0]["epic_client_id_header"] = json!(true);
    assert_eq!(epic, expected);
}
