//! End to end in real headless Chromium, with the development EHR in Epic mode (issue 11):
//! the journeys of `tests/launch.rs` and `tests/chart.rs` again against an EHR that answers as Epic's published
//! documentation says (v1 scopes bounded by the registered APIs, `bearer`, id_tokens without a
//! name, identifiers with `type.text` only, Patient.Search's minimum data set and limits,
//! flowsheet codings, ids longer than 64 characters), and the identity and scope faults Cairn
//! must survive. Run by `cargo xtask test` (which builds `dist/` and sets `CAIRN_DIST`);
//! screenshots go to `target/e2e/`.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::json;
use support::*;

/// The id of the development EHR's clinician user (`fhirUser`, `sub`).
const PRACTITIONER_ID: &str = "dev-practitioner";
/// The clinician's name, in standard mode's id_token only.
const PRACTITIONER_NAME: &str = "Dr. Ada Clinician";
/// The title of the problem screen for `invalid_scope` at authorize.
const INVALID_SCOPE_TITLE: &str = "Your EHR did not accept the permissions Cairn asks for";

/// The scope an authorize request asked for, from the EHR's log (GET authorize: the query).
fn authorize_scope(stack: &Stack) -> String {
    let log = stack.ehr.requests();
    let authorize = log
        .iter()
        .find(|r| r.method == "GET" && r.path_and_query.starts_with("/oauth2/authorize?"))
        .unwrap_or_else(|| panic!("no GET authorize request: {log:#?}"));
    query_param(&authorize.path_and_query, "scope").expect("the authorize request has a scope")
}

/// Every resource scope in `scope` is SMART v1 (`<level>/<Type>.read`), at `level`, and the
/// three resource types Cairn needs are there.
fn assert_v1_scope(scope: &str, level: &str) {
    let resources: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| s.contains('/'))
        .collect();
    for wanted in ["Patient", "Encounter", "Observation"] {
        assert!(
            resources.contains(&format!("{level}/{wanted}.read").as_str()),
            "{wanted} not asked as {level}/{wanted}.read: {scope}"
        );
    }
    for s in &resources {
        if s.starts_with("launch/") {
            continue;
        }
        assert!(s.ends_with(".read"), "{s} is not a v1 scope: {scope}");
    }
}

/// The latest weight (at clinical precision) and one laboratory value of `patient_id` are
/// shown, and the chart lists every encounter; no view says its permission is missing.
async fn assert_chart_shows_vitals_labs_and_encounters(
    c: &Client,
    stack: &Stack,
    patient_id: &str,
) {
    wait_until_loaded(c).await;
    let (_, weight) = latest_observation(stack, patient_id, "29463-7", Some(1))
        .expect("the patient has body weights");
    assert_eq!(
        text_of(c, ".vital[data-kind='Weight'] .vital__value").await,
        weight
    );
    let lab_code = stack
        .ehr
        .resources_of("Observation", patient_id)
        .into_iter()
        .find(|o| {
            o["category"][0]["coding"][0]["code"] == "laboratory"
                && o["valueQuantity"]["value"].is_number()
                && PLAIN_UNITS.contains(&o["valueQuantity"]["unit"].as_str().unwrap_or_default())
                && o["code"]["coding"][0]["system"] == "http://loinc.org"
        })
        .and_then(|o| o["code"]["coding"][0]["code"].as_str().map(str::to_owned))
        .expect("the patient has lab results");
    let (_, lab) = latest_observation(stack, patient_id, &lab_code, None).unwrap();
    show_section(c, "results").await;
    assert_eq!(
        text_of(c, &format!("tr[data-test='loinc:{lab_code}'] .lab__value")).await,
        lab
    );
    let encounters = stack.ehr.resources_of("Encounter", patient_id).len();
    assert!(encounters > 0);
    show_section(c, "encounters").await;
    assert_eq!(
        c.find_all(Locator::Css(".encounter")).await.unwrap().len(),
        encounters
    );
    // The summary shows the notices of the vital signs, labs and encounters; the results
    // those of every category.
    for section in ["summary", "results"] {
        show_section(c, section).await;
        let mut refused = Vec::new();
        for n in c
            .find_all(Locator::Css(".notice--not-granted, .notice--partial"))
            .await
            .unwrap()
        {
            refused.push(n.text().await.unwrap());
        }
        assert!(refused.is_empty(), "the chart says: {refused:?}");
    }
}

/// The clinician's EHR launch inside the EHR's frame, with the EHR answering as Epic: the
/// banner with the MRN Epic marks only by `type.text`, vital signs coded flowsheet row first,
/// observation ids of 90 characters, `bearer` in lower case, no name in the id_token (so no
/// "Signed in as", and never an id in its place), and v1 scopes asked because discovery has no
/// `permission-v2`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epic_ehr_launch_in_the_frame_shows_the_banner_with_mrn_and_the_charts_values() {
    let stack = start_epic_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[1];

    // The EHR page's own link, which keeps Epic mode on.
    open_chart(c, &stack, &patient.name).await;
    assert!(stack.ehr.epic_mode(), "the EHR page's link left Epic mode");

    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    let facts = text_of(c, ".banner__facts").await;
    assert!(
        facts.contains(&patient.mrn),
        "{facts:?} lacks the MRN {}",
        patient.mrn
    );
    assert!(facts.contains(&patient.birth_date), "{facts:?}");
    // The MRN is Epic's `type.text` "MRN" identifier: no v2-0203 coding to find it by.
    let read = stack
        .ehr
        .requests()
        .iter()
        .any(|r| r.path_and_query == format!("/fhir/Patient/{}", patient.id));
    assert!(read, "the banner came from the Patient read");

    // The chart's values, at their precision, from observations whose ids are longer than 64
    // characters and whose vital signs carry the flowsheet coding first.
    let (weight, _) = latest_observation(&stack, &patient.id, "29463-7", Some(1)).unwrap();
    assert!(
        weight["id"].as_str().unwrap().len() > 64,
        "{}",
        weight["id"]
    );
    assert_ne!(
        weight["code"]["coding"][0]["system"], "http://loinc.org",
        "Epic mode codes the flowsheet row first"
    );
    assert_chart_shows_vitals_labs_and_encounters(c, &stack, &patient.id).await;
    let observations = stack.ehr.resources_of("Observation", &patient.id).len();
    assert_eq!(
        text_of(c, ".all__count").await,
        format!("{observations} of {observations} results"),
        "every observation (90-character ids) is in the table of all results"
    );

    // Epic's id_token has no name: nothing is shown, and no id stands in for a name.
    wait_for_identity_check(c).await;
    assert!(
        c.find_all(Locator::Css(".signed-in"))
            .await
            .unwrap()
            .is_empty(),
        "a name was shown from a token without one"
    );
    let markup = page_markup(c).await;
    for id in [PRACTITIONER_ID, "ACLINICIAN", "Practitioner/"] {
        assert!(!markup.contains(id), "the page shows {id}");
    }
    // The chart is still there after the check.
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    screenshot(c, "epic-ehr-launch-chart").await;

    // v1 scopes, since Epic's discovery lists no permission-v2.
    let scope = authorize_scope(&stack);
    assert_v1_scope(&scope, "patient");
    assert!(scope.split_whitespace().any(|s| s == "launch"), "{scope}");
    // The token came as `bearer`; Cairn's reads carried it as a Bearer token and worked.
    let log = stack.ehr.requests();
    let fhir_reads: Vec<_> = log
        .iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/"))
        .filter(|r| !r.path_and_query.starts_with("/fhir/.well-known"))
        .filter(|r| r.path_and_query != "/fhir/metadata")
        .collect();
    assert!(!fhir_reads.is_empty());
    for r in &fhir_reads {
        assert!(
            r.authorization
                .as_deref()
                .is_some_and(|a| a.starts_with("Bearer AT-CANARY-")),
            "{r:?}"
        );
    }
    // Epic refuses an Observation search without a category or code: every one had one.
    for r in fhir_reads
        .iter()
        .filter(|r| r.path_and_query.starts_with("/fhir/Observation?"))
        .filter(|r| !r.path_and_query.contains("sessionID="))
    {
        assert!(
            query_param(&r.path_and_query, "category").is_some()
                || query_param(&r.path_and_query, "code").is_some(),
            "{r:?}"
        );
    }
    assert_eq!(count(&log, "POST", "/oauth2/token"), 1, "{log:#?}");
    assert_address_is_clean(c).await;
    assert_canary_contained(c, &stack).await;
    c.clone().close().await.unwrap();
}

/// A patient opens Cairn on a phone, against an EHR answering as Epic: start page, sign in as
/// that patient, their banner with the MRN, a vital value at clinical precision, their name
/// from their own record (Epic's id_token has none), and nothing wider than the phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epic_standalone_patient_on_a_phone() {
    let stack = start_epic_stack().await;
    let b = browser().await;
    let c = &b.client;
    c.set_window_size(390, 844).await.unwrap();
    let patient = &stack.ehr.patients()[1];
    c.goto(&stack.launch_page()).await.unwrap();
    assert_eq!(
        text_of(c, ".system__name").await,
        "Cairn Development Health"
    );
    click(c, ".system__choose").await;
    click(
        c,
        &format!("button[name=user][value='patient:{}']", patient.id),
    )
    .await;
    click(c, "button[name=decision][value=allow]").await;

    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    let facts = text_of(c, ".banner__facts").await;
    assert!(
        facts.contains(&patient.mrn),
        "{facts:?} lacks {}",
        patient.mrn
    );
    wait_until_loaded(c).await;
    let (_, weight) = latest_observation(&stack, &patient.id, "29463-7", Some(1)).unwrap();
    assert_eq!(
        text_of(c, ".vital[data-kind='Weight'] .vital__value").await,
        weight
    );
    assert!(
        c.find_all(Locator::Css(".notice--not-granted"))
            .await
            .unwrap()
            .is_empty()
    );
    // Epic's id_token has no name: the patient's own record (their `fhirUser`, the patient in
    // context, which `patient/Patient.read` allows) names them.
    wait_for_identity_check(c).await;
    assert_eq!(
        text_of(c, ".signed-in").await,
        format!("Signed in as {}", patient.name)
    );
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow,
        json!(false),
        "the page scrolls sideways on a phone"
    );
    screenshot(c, "epic-standalone-patient-phone").await;

    let scope = authorize_scope(&stack);
    assert_v1_scope(&scope, "patient");
    assert!(
        scope.split_whitespace().any(|s| s == "launch/patient"),
        "{scope}"
    );
    assert_address_is_clean(c).await;
    assert_canary_contained(c, &stack).await;
    c.clone().close().await.unwrap();
}

/// A clinician signs in outside the EHR, against an EHR answering as Epic, and finds a patient
/// by MRN (`identifier=MRN|…`, Epic's `{IDType}|{ID}`) and by name and birth date; the form
/// says what to add when Epic refuses the search: more than the limit match (4127), or too few
/// elements for an organisation whose minimum data set needs the sex (59133).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epic_clinician_finds_a_patient_by_mrn_and_by_name_with_the_forms_guidance() {
    let stack = start_epic_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[2];
    let (given, family) = patient.name.rsplit_once(' ').unwrap();
    let sex = patient.gender.as_str();
    sign_in_as_clinician(c, &stack).await;
    text_of(c, "#search-family").await;
    assert_v1_scope(&authorize_scope(&stack), "user");

    let searches = |stack: &Stack| -> Vec<String> {
        stack
            .ehr
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/Patient?"))
            .map(|r| r.path_and_query)
            .collect()
    };

    // By MRN: Epic's identifier type and the value; exactly that patient, with the MRN.
    search_by_mrn(c, &patient.mrn).await;
    let found = format!(".result[data-patient='{}']", patient.id);
    text_of(c, &found).await;
    assert_eq!(c.find_all(Locator::Css(".result")).await.unwrap().len(), 1);
    let sent = searches(&stack);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(
        sent[0].starts_with(&format!("/fhir/Patient?identifier=MRN%7C{}&", patient.mrn)),
        "{}",
        sent[0]
    );
    let result_facts = text_of(c, &format!("{found} .result__facts")).await;
    assert!(
        result_facts.contains(&format!("MRN {}", patient.mrn)),
        "{result_facts:?}"
    );
    assert!(
        result_facts.contains(&format!("Born {}", patient.birth_date)),
        "{result_facts:?}"
    );
    assert_eq!(
        text_of(c, &format!("{found} .result__name")).await,
        patient.name
    );
    click(c, &found).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    let facts = text_of(c, ".banner__facts").await;
    assert!(facts.contains(&patient.mrn), "{facts:?}");
    click_button(c, "Find another patient").await;

    // More matches than Epic allows (4127): the form says what to add.
    stack.ehr.set_patient_search_limit(0);
    search_by_name(c, family, given, &patient.birth_date).await;
    wait_for_text(
        c,
        "p.search__message",
        "More than 100 patients match: add the sex, or search by MRN.",
    )
    .await;
    assert!(
        c.find_all(Locator::Css(".result"))
            .await
            .unwrap()
            .is_empty()
    );
    let sent = searches(&stack);
    let by_name = sent.last().unwrap();
    assert_eq!(query_param(by_name, "family").as_deref(), Some(family));
    assert_eq!(query_param(by_name, "given").as_deref(), Some(given));
    assert_eq!(
        query_param(by_name, "birthdate").as_deref(),
        Some(patient.birth_date.as_str())
    );
    assert_eq!(query_param(by_name, "gender"), None);

    // Epic's default minimum data set (family, given, birth date): found.
    stack.ehr.set_patient_search_limit(100);
    search_by_name(c, family, given, &patient.birth_date).await;
    text_of(c, &found).await;
    wait_for_absence(c, "p.search__message").await;
    assert_eq!(c.find_all(Locator::Css(".result")).await.unwrap().len(), 1);

    // An organisation whose minimum data set needs the sex (59133): the form says to add it.
    stack.ehr.set_patient_search_requires_gender(true);
    search_by_name(c, family, given, &patient.birth_date).await;
    wait_for_text(
        c,
        "p.search__message",
        "The EHR needs more to find a patient: add the sex, or search by MRN.",
    )
    .await;
    assert!(
        c.find_all(Locator::Css(".result"))
            .await
            .unwrap()
            .is_empty()
    );
    screenshot(c, "epic-search-guidance").await;

    // With the sex chosen, the patient is found, and their chart opens.
    search_with(c, family, given, &patient.birth_date, sex, "").await;
    text_of(c, &found).await;
    wait_for_absence(c, "p.search__message").await;
    assert_eq!(c.find_all(Locator::Css(".result")).await.unwrap().len(), 1);
    let sent = searches(&stack);
    assert_eq!(
        query_param(sent.last().unwrap(), "gender").as_deref(),
        Some(sex)
    );
    click(c, &found).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    assert!(text_of(c, ".banner__facts").await.contains(&patient.mrn));
    wait_until_loaded(c).await;
    screenshot(c, "epic-clinician-chart").await;
    assert_address_is_clean(c).await;
    assert_canary_contained(c, &stack).await;
    c.clone().close().await.unwrap();
}

/// Waits for the button reading `text` and clicks it.
async fn click_button(c: &Client, text: &str) {
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::XPath(&format!(
            "//button[normalize-space()='{text}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("no button {text:?}: {e}"))
        .click()
        .await
        .unwrap();
}

/// An id_token that cannot be checked (keys blocked by CORS, a skewed clock, a `fhirUser`
/// outside the FHIR base) shows no name and the chart goes on; with a `kid` no key has and a
/// single key in the JWKS, Cairn tries that key, which verifies, and shows the name. (The
/// standard mode, whose id_token has a name; a bad signature is in `tests/ehr_faults.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_that_cannot_be_checked_shows_no_name_and_the_chart_goes_on() {
    use sandbox::Fault::*;
    let cases = [
        (IdTokenUnknownKid, true),
        (IdTokenClockSkew, false),
        (JwksCorsBlocked, false),
        (IdTokenFhirUserOauth2Path, false),
    ];
    let b = browser().await;
    let c = &b.client;
    for (fault, name_shown) in cases {
        let stack = start_stack().await;
        stack.ehr.inject(fault);
        let patient = &stack.ehr.patients()[1];
        open_chart(c, &stack, &patient.name).await;
        assert_eq!(text_of(c, ".banner__name").await, patient.name, "{fault:?}");
        wait_until_loaded(c).await;
        wait_for_identity_check(c).await;
        // The keys were asked for (and, for the CORS fault, the browser kept the answer).
        assert!(
            count(&stack.ehr.requests(), "GET", "/oauth2/jwks") >= 1,
            "{fault:?}: the JWKS was never fetched"
        );
        assert!(
            c.find_all(Locator::Css(".problem__title"))
                .await
                .unwrap()
                .is_empty(),
            "{fault:?} ended the session"
        );
        assert_eq!(text_of(c, ".banner__name").await, patient.name, "{fault:?}");
        let signed_in = c.find_all(Locator::Css(".signed-in")).await.unwrap();
        if name_shown {
            assert_eq!(
                text_of(c, ".signed-in").await,
                format!("Signed in as {PRACTITIONER_NAME}"),
                "{fault:?}"
            );
        } else {
            assert!(
                signed_in.is_empty(),
                "{fault:?}: a name from an unchecked token"
            );
            let markup = page_markup(c).await;
            assert!(!markup.contains(PRACTITIONER_NAME), "{fault:?}");
            assert!(!markup.contains(PRACTITIONER_ID), "{fault:?}");
        }
        let (_, weight) = latest_observation(&stack, &patient.id, "29463-7", Some(1)).unwrap();
        assert_eq!(
            text_of(c, ".vital[data-kind='Weight'] .vital__value").await,
            weight,
            "{fault:?}"
        );
        if fault == JwksCorsBlocked {
            screenshot(c, "identity-jwks-blocked").await;
        }
        assert_canary_contained(c, &stack).await;
    }
    c.clone().close().await.unwrap();
}

/// Granted scopes in the forms Epic and others write them (mixed case, Epic's unprefixed
/// sample, v2 `.r` and `.s` apart) give the whole chart; an Epic app registration that lacks
/// an API Cairn asks for ends the sign-in on a problem that says what to register.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_scopes_in_every_form_give_the_chart_and_a_missing_registration_says_what_to_add() {
    let b = browser().await;
    let c = &b.client;
    for (epic, fault) in [
        (true, "epic_scope_mixed_case"),
        (true, "epic_scope_unprefixed"),
        (false, "scope_v2_split"),
    ] {
        let stack = if epic {
            start_epic_stack().await
        } else {
            start_stack().await
        };
        let patient = stack.ehr.patients()[1].clone();
        if epic {
            open_epic_chart_of(c, &stack, &patient.id, Some(fault)).await;
        } else {
            stack.ehr.inject(sandbox::Fault::from_name(fault).unwrap());
            open_chart(c, &stack, &patient.name).await;
        }
        assert_eq!(stack.ehr.epic_mode(), epic, "{fault}");
        assert_eq!(text_of(c, ".banner__name").await, patient.name, "{fault}");
        assert_chart_shows_vitals_labs_and_encounters(c, &stack, &patient.id).await;
        assert_canary_contained(c, &stack).await;
    }

    // Epic mode, the app registered without the Encounter APIs: Epic refuses the scope.
    let stack = start_epic_stack().await;
    stack
        .ehr
        .set_registered_apis(&["Patient", "Observation", "Practitioner"]);
    let patient = stack.ehr.patients()[0].clone();
    open_chart(c, &stack, &patient.name).await;
    wait_for_text(c, ".problem__title", INVALID_SCOPE_TITLE).await;
    let detail = text_of(c, ".problem__detail").await;
    for wanted in [
        // The EHR's reason, ended as a sentence before the help for the administrator.
        "the Encounter APIs are not registered for this app”. For your EHR's administrator",
        "Read and Search APIs of Patient, of Encounter and of each Observation category",
        "Practitioner.Read",
    ] {
        assert!(detail.contains(wanted), "{wanted:?} not in {detail:?}");
    }
    assert!(
        !text_of(c, ".problem__next").await.is_empty(),
        "no way forward"
    );
    assert_eq!(count(&stack.ehr.requests(), "POST", "/oauth2/token"), 0);
    assert!(
        c.find_all(Locator::Css(".banner__name"))
            .await
            .unwrap()
            .is_empty()
    );
    screenshot(c, "epic-invalid-scope").await;
    assert_address_is_clean(c).await;
    c.clone().close().await.unwrap();
}
