//! Encounter and Observation search for the chart: paging, filters, access rules, paging
//! faults, and the generated scale and hostile patients.

mod common;

use std::collections::HashSet;

use axum::http::StatusCode;
use common::*;
use sandbox::{Ehr, Fault, url_encode};
use serde_json::Value;

const CLINICIAN: &str = "user/Patient.rs user/Encounter.rs user/Observation.rs openid fhirUser";
const ORIGIN: &str = "http://127.0.0.1:9090";

async fn clinician(h: &Harness) -> String {
    let token = h.standalone_tokens(CLINICIAN, "practitioner").await;
    token["access_token"].as_str().unwrap().to_owned()
}

/// Every page of a search from `first`, following `next` links; panics on a loop.
async fn walk(h: &Harness, first: &str, token: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut url = first.to_owned();
    loop {
        let reply = h.get_with_token(&url, token).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.body);
        let bundle = reply.json();
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "searchset");
        let next = bundle["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_owned());
        pages.push(bundle);
        assert!(pages.len() < 500, "too many pages");
        match next {
            Some(next) => url = next.strip_prefix(ORIGIN).unwrap().to_owned(),
            None => return pages,
        }
    }
}

fn entries(pages: &[Value]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|p| p["entry"].as_array().unwrap().clone())
        .collect()
}

fn ids(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect()
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
async fn generated_patients_come_after_the_synthea_ones() {
    let h = harness();
    let patients = h.ehr.patients();
    assert_eq!(patients.len(), 5);
    assert_eq!(patients[0].name, "Alejandro Riojas");
    assert_eq!(patients[3].id, Ehr::scale_patient_id());
    assert_eq!(patients[4].id, Ehr::hostile_patient_id());
    assert_eq!(patients[4].birth_date, "1970");
    let home = h.get("/").await;
    assert!(
        home.body
            .contains(&format!("patient={}", Ehr::scale_patient_id()))
    );
    assert!(home.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!home.body.contains("<img"), "{}", home.body);
    for name in [
        "fhir_next_link_self",
        "fhir_next_link_cycle",
        "fhir_next_link_foreign_origin",
        "fhir_duplicate_pages",
        "fhir_fail_on_page_3",
    ] {
        assert!(home.body.contains(name), "{name}");
        assert_eq!(Fault::from_name(name).unwrap().name(), name);
    }
}

#[tokio::test]
async fn encounter_paging_sees_each_encounter_once_newest_first() {
    let h = harness();
    let token = clinician(&h).await;
    let scale = Ehr::scale_patient_id();
    let pages = walk(&h, &format!("/fhir/Encounter?patient={scale}"), &token).await;
    assert_eq!(pages.len(), 4, "200 encounters, 50 a page by default");
    assert_eq!(pages[0]["total"], 200);
    assert_eq!(
        pages[0]["link"][0]["url"],
        format!("{ORIGIN}/fhir/Encounter?patient={scale}")
    );
    let all = entries(&pages);
    let ids = ids(&all);
    assert_eq!(ids.len(), 200);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 200);
    let starts: Vec<&str> = all
        .iter()
        .map(|e| e["resource"]["period"]["start"].as_str().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] > w[1]), "newest first");
    let first = &all[0];
    assert_eq!(first["search"]["mode"], "match");
    assert_eq!(
        first["fullUrl"],
        format!("{ORIGIN}/fhir/Encounter/{}", ids[0])
    );
    // The fullUrl reads.
    let read = h
        .get_with_token(&format!("/fhir/Encounter/{}", ids[0]), &token)
        .await;
    assert_eq!(read.status, StatusCode::OK);

    // Oldest first, and _count capped at 200.
    let oldest = h
        .get_with_token(
            &format!("/fhir/Encounter?patient=Patient/{scale}&_sort=date&_count=1000"),
            &token,
        )
        .await
        .json();
    let oldest_ids = self::ids(oldest["entry"].as_array().unwrap());
    assert_eq!(oldest_ids.len(), 200);
    assert!(next_of(&oldest).is_none());
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(oldest_ids, reversed);

    // Statuses, comma for OR.
    for (status, n) in [
        ("cancelled", 7),
        ("in-progress", 1),
        ("cancelled,in-progress", 8),
    ] {
        let bundle = h
            .get_with_token(
                &format!("/fhir/Encounter?patient={scale}&status={status}"),
                &token,
            )
            .await
            .json();
        assert_eq!(bundle["total"], n, "{status}");
    }
    // A Synthea patient's encounters.
    let synthea = h
        .get_with_token(&format!("/fhir/Encounter?patient={}", h.patient(0)), &token)
        .await
        .json();
    assert_eq!(synthea["total"], 10);
}

#[tokio::test]
async fn date_filters_take_prefixes_and_partial_dates() {
    let h = harness();
    let token = clinician(&h).await;
    let scale = Ehr::scale_patient_id();
    let all = entries(
        &walk(
            &h,
            &format!("/fhir/Encounter?patient={scale}&_count=200"),
            &token,
        )
        .await,
    );
    let starts: Vec<String> = all
        .iter()
        .map(|e| {
            e["resource"]["period"]["start"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let expect = |keep: &dyn Fn(&str) -> bool| starts.iter().filter(|s| keep(s)).count();
    let cases: Vec<(&str, usize)> = vec![
        ("date=2020", expect(&|s| s.starts_with("2020"))),
        ("date=eq2020-05", expect(&|s| s.starts_with("2020-05"))),
        (
            "date=ge2020-05&date=lt2021",
            expect(&|s| ("2020-05".."2021").contains(&s)),
        ),
        ("date=gt2020", expect(&|s| s >= "2021")),
        ("date=lt2016", expect(&|s| s < "2016")),
        ("date=le2015-01", expect(&|s| s < "2015-02")),
        (
            "date=ge2019-03-04T00:00:00Z",
            expect(&|s| s >= "2019-03-04"),
        ),
        ("date=1999", 0),
    ];
    for (query, n) in cases {
        assert!(n > 0 || query == "date=1999");
        let bundle = h
            .get_with_token(
                &format!("/fhir/Encounter?patient={scale}&_count=200&{query}"),
                &token,
            )
            .await
            .json();
        assert_eq!(bundle["total"], n, "{query}");
        assert_eq!(bundle["entry"].as_array().unwrap().len(), n, "{query}");
    }
    // A time zone offset (+ encoded) counts.
    let late = h
        .get_with_token(
            &format!(
                "/fhir/Encounter?patient={}&date=ge2021-03-04T04:30:00%2B00:00",
                Ehr::hostile_patient_id()
            ),
            &token,
        )
        .await
        .json();
    assert_eq!(late["total"], 1);
    // A partial period.start (2020-05) is within 2020 and May 2020, not within one day of it.
    let hostile = Ehr::hostile_patient_id();
    for (date, n) in [
        ("2020", 1),
        ("2020-05", 1),
        ("2020-05-10", 0),
        ("ge2020-05-10", 1),
    ] {
        let bundle = h
            .get_with_token(
                &format!("/fhir/Encounter?patient={hostile}&date={date}&date=lt2021"),
                &token,
            )
            .await
            .json();
        assert_eq!(bundle["total"], n, "{date}");
    }
    // Observations by date.
    let may = h
        .get_with_token(
            &format!(
                "/fhir/Observation?patient={hostile}&category=vital-signs,laboratory&date=2020-05"
            ),
            &token,
        )
        .await
        .json();
    assert_eq!(may["total"], 3, "{may}");
    for bad in [
        "date=yesterday",
        "date=2020-13",
        "date=xx2020",
        "_sort=name",
    ] {
        let reply = h
            .get_with_token(&format!("/fhir/Encounter?patient={scale}&{bad}"), &token)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.json()["resourceType"], "OperationOutcome");
    }
}

#[tokio::test]
async fn observation_search_needs_a_category_or_code_and_known_parameters() {
    let h = harness();
    let token = clinician(&h).await;
    let patient = h.patient(0);
    let refused = h
        .get_with_token(&format!("/fhir/Observation?patient={patient}"), &token)
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let outcome = refused.json();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("category or code"),
        "{outcome}"
    );
    for query in [
        format!("patient={patient}&category=vital-signs&_include=Observation:encounter"),
        format!("patient={patient}&category=vital-signs&status=final"),
        format!("patient={patient}&category=vital-signs&_count=lots"),
        "category=vital-signs".to_owned(),
    ] {
        let reply = h
            .get_with_token(&format!("/fhir/Observation?{query}"), &token)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.json()["resourceType"], "OperationOutcome");
    }
    let unsupported = h
        .get_with_token(
            &format!("/fhir/Encounter?patient={patient}&class=AMB"),
            &token,
        )
        .await;
    assert_eq!(unsupported.status, StatusCode::BAD_REQUEST);
    let ok = h
        .get_with_token(
            &format!("/fhir/Observation?patient={patient}&category=vital-signs"),
            &token,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.json()["total"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn categories_and_codes_are_tokens_with_comma_for_or() {
    let h = harness();
    let token = clinician(&h).await;
    let scale = Ehr::scale_patient_id();
    let system = "http://terminology.hl7.org/CodeSystem/observation-category";
    let cases = [
        ("category=vital-signs".to_owned(), 6250),
        ("category=laboratory".to_owned(), 3750),
        ("category=vital-signs,laboratory".to_owned(), 10_000),
        (
            format!("category={}", url_encode(&format!("{system}|laboratory"))),
            3750,
        ),
        ("category=urn:other%7Claboratory".to_owned(), 0),
        ("category=social-history".to_owned(), 0),
        ("code=http://loinc.org%7C8867-4".to_owned(), 1250),
        ("code=8867-4,718-7".to_owned(), 2500),
        ("category=laboratory&code=8867-4".to_owned(), 0),
        ("code=85354-9".to_owned(), 1250),
    ];
    for (query, n) in cases {
        let bundle = h
            .get_with_token(
                &format!("/fhir/Observation?patient={scale}&{query}&_count=1"),
                &token,
            )
            .await
            .json();
        assert_eq!(bundle["total"], n, "{query}");
    }
    let bp = h
        .get_with_token(
            &format!("/fhir/Observation?patient={scale}&code=85354-9&_count=1"),
            &token,
        )
        .await
        .json();
    let components = &bp["entry"][0]["resource"]["component"];
    assert_eq!(components[0]["code"]["coding"][0]["code"], "8480-6");
    assert_eq!(components[1]["code"]["coding"][0]["code"], "8462-4");
}

#[tokio::test]
async fn the_encounter_parameter_narrows_to_one_encounter() {
    let h = harness();
    let token = clinician(&h).await;
    let scale = Ehr::scale_patient_id();
    for encounter in ["scale-enc-010", "Encounter/scale-enc-010"] {
        let bundle = h
            .get_with_token(
                &format!(
                    "/fhir/Observation?patient={scale}&category=vital-signs,laboratory&encounter={}",
                    url_encode(encounter)
                ),
                &token,
            )
            .await
            .json();
        assert_eq!(bundle["total"], 50, "{encounter}");
        for e in bundle["entry"].as_array().unwrap() {
            assert_eq!(
                e["resource"]["encounter"]["reference"],
                "Encounter/scale-enc-010"
            );
        }
    }
    // Synthea's bundles say `urn:uuid:<id>`; served, every reference is `Encounter/<id>`, as a
    // FHIR server stores it.
    // An encounter that has vital signs: that of the patient's first vital-sign observation.
    let encounter = h
        .get_with_token(
            &format!(
                "/fhir/Observation?patient={}&category=vital-signs&_count=1",
                h.patient(0)
            ),
            &token,
        )
        .await
        .json()["entry"][0]["resource"]["encounter"]["reference"]
        .as_str()
        .unwrap()
        .trim_start_matches("Encounter/")
        .to_owned();
    let bundle = h
        .get_with_token(
            &format!(
                "/fhir/Observation?patient={}&category=vital-signs,laboratory,survey&encounter={encounter}",
                h.patient(0)
            ),
            &token,
        )
        .await
        .json();
    let entries = bundle["entry"].as_array().unwrap();
    assert!(!entries.is_empty());
    for e in entries {
        assert_eq!(
            e["resource"]["encounter"]["reference"],
            format!("Encounter/{encounter}")
        );
        assert_eq!(
            e["resource"]["subject"]["reference"],
            format!("Patient/{}", h.patient(0))
        );
    }
}

#[tokio::test]
async fn searches_follow_the_access_rules_of_reads() {
    let h = harness();
    let (own, other) = (h.patient(0), h.patient(1));
    let patient_token = h
        .tokens_for_scope(0, "launch patient/Encounter.rs patient/Observation.read")
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let search = |patient: &str| {
        [
            format!("/fhir/Encounter?patient={patient}"),
            format!("/fhir/Observation?patient={patient}&category=vital-signs"),
        ]
    };
    for url in search(&own) {
        let reply = h.get_with_token(&url, &patient_token).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.body);
    }
    for url in search(&other) {
        let reply = h.get_with_token(&url, &patient_token).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{url}");
        let outcome = reply.json();
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        assert!(outcome.to_string().contains("another patient"), "{outcome}");
    }
    // Reading without the search permission, or with Patient only.
    for scope in [
        "launch patient/Patient.rs",
        "launch patient/Encounter.r patient/Observation.r",
    ] {
        let token = h.tokens_for_scope(0, scope).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        for url in search(&own) {
            let reply = h.get_with_token(&url, &token).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{scope}: {url}");
        }
    }
    // A patient signed in on their own with user-level scopes still sees only themselves.
    let signed_in = h
        .standalone_tokens(
            "launch/patient user/Encounter.rs patient/Encounter.rs",
            &format!("patient:{other}"),
        )
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = h
        .get_with_token(&format!("/fhir/Encounter?patient={other}"), &signed_in)
        .await;
    assert_eq!(theirs.status, StatusCode::OK);
    let not_theirs = h
        .get_with_token(&format!("/fhir/Encounter?patient={own}"), &signed_in)
        .await;
    assert_eq!(not_theirs.status, StatusCode::FORBIDDEN);
    // A clinician searches anyone's.
    let token = clinician(&h).await;
    for url in search(&other) {
        assert_eq!(h.get_with_token(&url, &token).await.status, StatusCode::OK);
    }
    // No token, or an unknown one.
    for url in search(&own) {
        assert_eq!(h.get(&url).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            h.get_with_token(&url, "AT-CANARY-unknown").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Observation reads follow the same rules.
    let observation = h
        .get_with_token(&search(&own)[1], &patient_token)
        .await
        .json()["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = h
        .get_with_token(&format!("/fhir/Observation/{observation}"), &patient_token)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let foreign = h
        .get_with_token(
            &format!("/fhir/Observation/{}", "scale-obs-00000"),
            &patient_token,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn injected_fhir_faults_apply_to_searches() {
    let h = harness();
    let token = clinician(&h).await;
    h.ehr.inject(Fault::FhirServerError);
    let reply = h
        .get_with_token(&format!("/fhir/Encounter?patient={}", h.patient(0)), &token)
        .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    h.ehr.set_fault(Some(Fault::FhirMalformed));
    let reply = h
        .get_with_token(
            &format!(
                "/fhir/Observation?patient={}&category=laboratory",
                h.patient(0)
            ),
            &token,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&reply.body).is_err());
}

#[tokio::test]
async fn each_paging_fault_is_observable() {
    let h = harness();
    let token = clinician(&h).await;
    let scale = Ehr::scale_patient_id();
    let first_url = format!("/fhir/Encounter?patient={scale}");
    let get = |url: String| {
        let h = &h;
        let token = &token;
        async move { h.get_with_token(&url, token).await }
    };
    let local = |url: &str| url.strip_prefix(ORIGIN).unwrap().to_owned();

    h.ehr.set_fault(Some(Fault::FhirNextLinkSelf));
    let page1 = get(first_url.clone()).await.json();
    let next = next_of(&page1).unwrap();
    let again = get(local(&next)).await.json();
    assert_eq!(
        ids(again["entry"].as_array().unwrap()),
        ids(page1["entry"].as_array().unwrap())
    );
    assert_eq!(next_of(&again).unwrap(), next);

    h.ehr.set_fault(Some(Fault::FhirNextLinkCycle));
    let page1 = get(first_url.clone()).await.json();
    let page2 = get(local(&next_of(&page1).unwrap())).await.json();
    assert_ne!(
        ids(page2["entry"].as_array().unwrap()),
        ids(page1["entry"].as_array().unwrap())
    );
    let back = next_of(&page2).unwrap();
    assert_eq!(back, format!("{ORIGIN}{first_url}"));

    h.ehr.set_fault(Some(Fault::FhirNextLinkForeignOrigin));
    let page1 = get(first_url.clone()).await.json();
    let next = next_of(&page1).unwrap();
    assert!(
        next.starts_with("http://127.0.0.1:1/fhir/Encounter?"),
        "{next}"
    );

    h.ehr.set_fault(Some(Fault::FhirDuplicatePages));
    let pages = walk(&h, &first_url, &token).await;
    assert_eq!(pages.len(), 4);
    assert_eq!(
        ids(pages[1]["entry"].as_array().unwrap()),
        ids(pages[0]["entry"].as_array().unwrap())
    );
    let all = ids(&entries(&pages));
    assert_eq!(all.len(), 200);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 150);

    h.ehr.set_fault(Some(Fault::FhirFailOnPage3));
    let page1 = get(first_url.clone()).await.json();
    let page2 = get(local(&next_of(&page1).unwrap())).await.json();
    let page3 = local(&next_of(&page2).unwrap());
    let failed = get(page3.clone()).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.json()["resourceType"], "OperationOutcome");
    let retried = get(page3).await;
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(walk(&h, &first_url, &token).await.len(), 4);
    // Choosing the fault again (as opening a chart with it does) fails page 3 once more.
    h.ehr.set_fault(Some(Fault::FhirFailOnPage3));
    let page3 = format!("{first_url}&_offset=100");
    assert_eq!(
        get(page3.clone()).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(get(page3).await.status, StatusCode::OK);

    h.ehr.set_fault(None);
    let pages = walk(&h, &first_url, &token).await;
    assert_eq!(
        ids(&entries(&pages)).iter().collect::<HashSet<_>>().len(),
        200
    );
}

#[tokio::test]
async fn every_scale_observation_is_reachable_by_paging_per_category() {
    let h = harness();
    let token = clinician(&h).await;
    let scale = Ehr::scale_patient_id();
    let mut seen = HashSet::new();
    for (category, n, pages_expected) in [("vital-signs", 6250, 32), ("laboratory", 3750, 19)] {
        let pages = walk(
            &h,
            &format!("/fhir/Observation?patient={scale}&category={category}&_count=200"),
            &token,
        )
        .await;
        assert_eq!(pages.len(), pages_expected, "{category}");
        let all = entries(&pages);
        assert_eq!(all.len(), n, "{category}");
        for e in &all {
            assert_eq!(e["resource"]["category"][0]["coding"][0]["code"], category);
            assert!(seen.insert(e["resource"]["id"].as_str().unwrap().to_owned()));
        }
        let dates: Vec<&str> = all
            .iter()
            .map(|e| e["resource"]["effectiveDateTime"].as_str().unwrap())
            .collect();
        assert!(dates.windows(2).all(|w| w[0] > w[1]), "newest first");
        assert!(dates.last().unwrap().starts_with("2015-01-0"));
        assert!(dates[0].starts_with("2024-12-"), "{}", dates[0]);
    }
    assert_eq!(seen.len(), 10_000);
    // With _count=50, everything is 200 pages.
    let first = h
        .get_with_token(
            &format!("/fhir/Observation?patient={scale}&category=vital-signs,laboratory&_count=50"),
            &token,
        )
        .await
        .json();
    assert_eq!(first["total"], 10_000);
    let last = h
        .get_with_token(
            &format!("/fhir/Observation?patient={scale}&category=vital-signs,laboratory&_count=50&_offset=9950"),
            &token,
        )
        .await
        .json();
    assert_eq!(last["entry"].as_array().unwrap().len(), 50);
    assert!(next_of(&last).is_none());
    // Some labs are flagged, against a reference range.
    let labs = h
        .get_with_token(
            &format!("/fhir/Observation?patient={scale}&code=2339-0&_count=200"),
            &token,
        )
        .await
        .json();
    let flags: HashSet<String> = labs["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["resource"]["interpretation"][0]["coding"][0]["code"].as_str())
        .map(str::to_owned)
        .collect();
    assert_eq!(
        flags,
        ["H", "L", "N"].map(str::to_owned).into_iter().collect()
    );
    assert_eq!(
        labs["entry"][0]["resource"]["referenceRange"][0]["high"]["value"],
        99.0
    );
}

#[tokio::test]
async fn hostile_data_is_served_as_written() {
    let h = harness();
    let token = clinician(&h).await;
    let hostile = Ehr::hostile_patient_id();
    let patient = h
        .get_with_token(&format!("/fhir/Patient/{hostile}"), &token)
        .await
        .json();
    assert_eq!(patient["birthDate"], "1970");
    assert_eq!(
        patient["name"][0]["given"][0],
        "<img src=x onerror=alert(1)>"
    );
    assert!(
        patient["name"][1]["text"]
            .as_str()
            .unwrap()
            .starts_with('\u{202E}')
    );
    assert!(
        patient["text"]["div"]
            .as_str()
            .unwrap()
            .contains("<script>")
    );

    let bundle = h
        .get_with_token(
            &format!(
                "/fhir/Observation?patient={hostile}&category=vital-signs,laboratory,social-history,survey,exam"
            ),
            &token,
        )
        .await
        .json();
    let observations: Vec<Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .collect();
    assert_eq!(observations.len(), 16);
    for value in [
        "valueQuantity",
        "valueCodeableConcept",
        "valueString",
        "valueBoolean",
        "valueInteger",
        "valueRange",
        "valueRatio",
        "valueSampledData",
        "valueTime",
        "valueDateTime",
        "valuePeriod",
    ] {
        assert!(
            observations.iter().any(|o| o.get(value).is_some()),
            "{value}"
        );
    }
    let has = |f: &dyn Fn(&Value) -> bool| observations.iter().any(f);
    assert!(has(&|o| o["valueString"] == "<script>alert(1)</script>"));
    assert!(has(&|o| o["component"].is_array()
        && !o
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("value"))));
    assert!(has(&|o| o["dataAbsentReason"].is_object()));
    assert!(has(
        &|o| o["valueQuantity"].is_object() && o["valueQuantity"].get("unit").is_none()
    ));
    assert!(has(&|o| o["effectiveDateTime"] == "2020-05"));
    assert!(has(&|o| o["code"]["text"] == "<img src=x onerror=alert(1)>"));
    assert!(has(&|o| o["text"]["div"]
        .as_str()
        .is_some_and(|d| d.contains("<script>"))));
    // The one dated only by `issued` still sorts by it.
    assert!(has(
        &|o| o["issued"].is_string() && o.get("effectiveDateTime").is_none()
    ));

    // Its encounters, one with a partial start.
    let encounters = h
        .get_with_token(&format!("/fhir/Encounter?patient={hostile}"), &token)
        .await
        .json();
    assert_eq!(encounters["total"], 2);
    assert_eq!(
        encounters["entry"][1]["resource"]["period"]["start"],
        "2020-05"
    );
}

#[tokio::test]
async fn the_capability_statement_lists_the_searches() {
    let h = harness();
    let metadata = h.get("/fhir/metadata").await.json();
    let resources = metadata["rest"][0]["resource"].as_array().unwrap();
    let params = |ty: &str| -> Vec<String> {
        resources.iter().find(|r| r["type"] == ty).unwrap()["searchParam"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        params("Encounter"),
        ["patient", "date", "status", "_count", "_sort"]
    );
    assert_eq!(
        params("Observation"),
        [
            "patient",
            "category",
            "code",
            "encounter",
            "date",
            "_count",
            "_sort"
        ]
    );
}
