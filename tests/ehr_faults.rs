//! End to end in real headless Chromium: the EHR faults. Each misbehaviour of the EHR at
//! launch (discovery, authorize, token, id_token, FHIR reads) ends on a plain message with a way
//! forward, or Cairn recovers and reaches the chart: expired sessions, failed or busy search
//! pages, paging links that loop. Issue 11's: CORS blocked on the discovery, token and key-set
//! endpoints; a refused or restricted Patient read; a refresh refused with HTTP 403
//! `invalid_grant`; the encounter drill-down when Epic ignores `encounter=` or refuses one
//! category; Epic's expired paging session on a 10 000-observation patient; and the
//! `Epic-Client-ID` header on discovery. Run by `cargo xtask test` (which builds `dist/` and
//! sets `CAIRN_DIST`); screenshots go to `target/e2e/`.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use support::*;

const CORS_TITLE: &str = "Your EHR does not allow Cairn's web address";

/// An origin as the page writes it: the URL without its trailing `/`.
fn origin_of(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// The texts of every element matching `css`, in document order.
async fn texts_of(c: &Client, css: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for element in c.find_all(Locator::Css(css)).await.unwrap() {
        texts.push(element.text().await.unwrap_or_default());
    }
    texts
}

async fn count_of(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

/// The CORS problem as the user reads it: which endpoint answered but was blocked, the origin
/// to allow (Cairn's), whom to ask, and a way forward.
async fn assert_cors_problem(c: &Client, stack: &Stack, kind: &str, case: &str) {
    assert_eq!(text_of(c, ".problem__title").await, CORS_TITLE, "{case}");
    let detail = text_of(c, ".problem__detail").await;
    let app = origin_of(&stack.app_url);
    let ehr = origin_of(&stack.ehr_url);
    let expected = format!(
        "The EHR's {kind} at {ehr} answered, but not to pages from {app}, so the browser \
         blocked the answer (CORS). Ask your EHR's integration team (for Epic, your Epic \
         analyst: CORS on Interconnect) to allow the origin {app} on the {kind} at {ehr}."
    );
    assert_eq!(detail, expected, "{case}");
    assert!(
        !text_of(c, ".problem__next").await.trim().is_empty(),
        "{case}: no way forward"
    );
    assert_eq!(count_of(c, ".banner").await, 0, "{case}: a chart is shown");
}

/// A FHIR server or token endpoint that answers without CORS headers for Cairn's origin: the
/// browser blocks the answer, and Cairn says which endpoint, at which origin, must allow which
/// origin, and whom to ask. Discovery is under the FHIR base, so a FHIR server that blocks
/// Cairn is first met as its SMART configuration. Nothing reaches the token endpoint when
/// discovery was blocked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_blocked_by_cors_names_the_origin_to_allow_and_whom_to_ask() {
    use sandbox::Fault::*;
    let cases = [
        (
            FhirCorsBlocked,
            "SMART configuration (on the FHIR server)",
            "cors-blocked-fhir",
        ),
        (
            TokenCorsBlocked,
            "token endpoint (sign-in)",
            "cors-blocked-token",
        ),
    ];
    let b = browser().await;
    let c = &b.client;
    for (fault, kind, shot) in cases {
        let stack = start_stack().await;
        stack.ehr.inject(fault);
        let patient = &stack.ehr.patients()[0];
        open_chart_of(c, &stack, &patient.id).await;
        assert_cors_problem(c, &stack, kind, &format!("{fault:?}")).await;
        screenshot(c, shot).await;
        let log = stack.ehr.requests();
        match fault {
            FhirCorsBlocked => {
                assert_eq!(count(&log, "POST", "/oauth2/token"), 0, "{log:#?}");
                assert_eq!(count(&log, "GET", "/oauth2/authorize"), 0, "{log:#?}");
            }
            _ => {
                // The code exchange was sent (and answered), once: a blocked answer is not
                // retried.
                assert_eq!(count(&log, "POST", "/oauth2/token"), 1, "{log:#?}");
                assert_eq!(count(&log, "GET", "/fhir/Patient/"), 0, "{log:#?}");
            }
        }
        assert_canary_contained(c, &stack).await;
    }
    c.clone().close().await.unwrap();
}

/// A key set (JWKS) blocked by CORS only serves "Signed in as": the chart is shown, no name
/// is, and a notice on the chart says which origin the key set must allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_blocked_by_cors_is_reported_on_the_chart_and_the_session_goes_on() {
    let stack = start_stack().await;
    stack.ehr.inject(sandbox::Fault::JwksCorsBlocked);
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[0];
    open_chart_of(c, &stack, &patient.id).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    wait_for_identity_check(c).await;
    let app = origin_of(&stack.app_url);
    let ehr = origin_of(&stack.ehr_url);
    let notice = text_of(c, ".notice--report").await;
    let kind = "key set (JWKS) that checks who signed in";
    assert!(notice.starts_with(CORS_TITLE), "{notice}");
    assert!(
        notice.contains(&format!(
            "The EHR's {kind} at {ehr} answered, but not to pages from {app}"
        )),
        "{notice}"
    );
    assert!(
        notice.contains(&format!(
            "to allow the origin {app} on the {kind} at {ehr}."
        )),
        "{notice}"
    );
    assert_eq!(
        count_of(c, ".signed-in").await,
        0,
        "a name was shown without checking the id_token"
    );
    // The session goes on: the chart loads, and is still there after the check.
    wait_until_loaded(c).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    assert_eq!(count_of(c, ".problem__title").await, 0);
    let log = stack.ehr.requests();
    assert!(count(&log, "GET", "/oauth2/jwks") >= 1, "{log:#?}");
    screenshot(c, "cors-blocked-jwks").await;
    assert_canary_contained(c, &stack).await;
    c.clone().close().await.unwrap();
}

/// A Patient read refused with 403 (`insufficient_scope`, no body) or Epic's break-the-glass
/// (4130) says what it means, with a way forward, and shows nothing of the chart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_or_restricted_patient_read_says_what_it_means_and_shows_no_chart() {
    let cases = [
        (
            "patient_read_insufficient_scope",
            "Missing permission",
            "Cairn lacks permission to read this patient (the EHR answered HTTP 403)",
        ),
        (
            "break_the_glass",
            "This record is restricted",
            "This patient's record needs break-the-glass",
        ),
    ];
    let stack = start_epic_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = stack.ehr.patients()[0].clone();
    for (fault, title, detail) in cases {
        assert!(sandbox::Fault::from_name(fault).is_some(), "{fault}");
        open_epic_chart_of(c, &stack, &patient.id, Some(fault)).await;
        assert_eq!(text_of(c, ".problem__title").await, title, "{fault}");
        let shown = text_of(c, ".problem__detail").await;
        assert!(shown.starts_with(detail), "{fault}: {shown:?}");
        assert!(
            !text_of(c, ".problem__next").await.trim().is_empty(),
            "{fault}: no way forward"
        );
        for css in [
            ".banner",
            ".chart__body",
            ".vital",
            ".encounter",
            "table.all tbody tr",
        ] {
            assert_eq!(count_of(c, css).await, 0, "{fault}: {css} is shown");
        }
        let markup = page_markup(c).await;
        assert!(
            !markup.contains(&patient.name),
            "{fault}: the name is shown"
        );
        screenshot(c, &format!("patient-read-{fault}")).await;
        assert_canary_contained(c, &stack).await;
        c.enter_parent_frame().await.unwrap();
    }
    c.clone().close().await.unwrap();
}

/// A refresh refused with HTTP 403 and `invalid_grant` ends the session: with short-lived
/// tokens, Cairn renews before a read; the EHR refuses, once; the session ends showing the
/// EHR's reason; and no FHIR read goes out with the expired token after the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_refused_with_403_invalid_grant_ends_the_session_with_the_ehrs_reason() {
    const LIFETIME: Duration = Duration::from_secs(8);
    let stack = start_stack().await;
    stack.ehr.set_token_lifetime(LIFETIME);
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[2];
    open_chart_of(c, &stack, &patient.id).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    wait_until_loaded(c).await;
    let loaded = Instant::now();
    let log = stack.ehr.requests();
    assert_eq!(
        count(&log, "POST", "/oauth2/token"),
        1,
        "the chart loaded within the token's lifetime: {log:#?}"
    );

    // From now on the EHR refuses the refresh token with 403; the access token, issued after
    // before the chart loaded, has expired once its lifetime has passed since (a deadline,
    // not a guess).
    stack
        .ehr
        .inject(sandbox::Fault::RefreshForbiddenInvalidGrant);
    let expired = loaded + LIFETIME + Duration::from_millis(200);
    tokio::time::sleep_until(expired.into()).await;
    let before = stack.ehr.requests().len();
    click(c, ".chart__reload").await;
    assert_eq!(
        text_of(c, ".problem__title").await,
        "Your session has ended"
    );
    let detail = text_of(c, ".problem__detail").await;
    assert!(
        detail.contains("invalid_grant: “The refresh token has expired or was revoked.”"),
        "the EHR's reason is not shown: {detail}"
    );
    assert!(!detail.contains("HTTP 403"), "{detail}");
    assert!(!text_of(c, ".problem__next").await.trim().is_empty());
    assert_eq!(count_of(c, ".banner").await, 0);

    // Let anything Cairn might still send arrive: the log stops growing for a second.
    let mut seen = stack.ehr.requests().len();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = stack.ehr.requests().len();
        if now == seen {
            break;
        }
        seen = now;
    }
    let log = stack.ehr.requests();
    let after = &log[before..];
    let refreshes: Vec<_> = after
        .iter()
        .filter(|r| r.method == "POST" && r.path_and_query.starts_with("/oauth2/token"))
        .collect();
    assert_eq!(refreshes.len(), 1, "{after:#?}");
    let refused = refreshes[0].answered.expect("the refresh was answered");
    let late: Vec<_> = after
        .iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/"))
        .filter(|r| r.received >= refused)
        .collect();
    assert!(
        late.is_empty(),
        "FHIR reads were sent after the refusal: {late:#?}"
    );
    // Whatever went out before the refusal went out once: nothing was retried.
    let reads: Vec<&str> = after
        .iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/"))
        .map(|r| r.path_and_query.as_str())
        .collect();
    let unique: HashSet<&str> = reads.iter().copied().collect();
    assert_eq!(reads.len(), unique.len(), "a read was retried: {reads:#?}");
    screenshot(c, "refresh-refused-403").await;
    assert_canary_contained(c, &stack).await;
    c.clone().close().await.unwrap();
}

/// The observations of `patient_id` whose `encounter` names `encounter_id`.
fn observations_of_encounter(
    stack: &Stack,
    patient_id: &str,
    encounter_id: &str,
) -> Vec<serde_json::Value> {
    let reference = format!("Encounter/{encounter_id}");
    stack
        .ehr
        .resources_of("Observation", patient_id)
        .into_iter()
        .filter(|o| o["encounter"]["reference"] == reference.as_str())
        .collect()
}

fn category_of(o: &serde_json::Value) -> &str {
    o["category"][0]["coding"][0]["code"]
        .as_str()
        .unwrap_or_default()
}

/// A patient (of the three Synthea ones) and the encounter of theirs with the most
/// observations, with the number of the patient's observations that belong to other
/// encounters.
fn busy_encounter(stack: &Stack) -> (String, String, usize) {
    let mut best: Option<(String, String, usize, usize)> = None;
    for p in stack.ehr.patients().into_iter().take(3) {
        let observations = stack.ehr.resources_of("Observation", &p.id);
        let mut per_encounter: HashMap<String, Vec<&serde_json::Value>> = HashMap::new();
        for o in &observations {
            if let Some(id) = o["encounter"]["reference"]
                .as_str()
                .and_then(|r| r.strip_prefix("Encounter/"))
            {
                per_encounter.entry(id.to_owned()).or_default().push(o);
            }
        }
        for (id, of) in per_encounter {
            if best.as_ref().is_none_or(|b| of.len() > b.2) {
                best = Some((p.id.clone(), id, of.len(), observations.len() - of.len()));
            }
        }
    }
    let (patient, encounter, _, others) = best.expect("an encounter with observations");
    (patient, encounter, others)
}

/// Opens encounter `encounter_id` on the chart and waits until its observations have loaded.
async fn open_encounter(c: &Client, encounter_id: &str) {
    wait_until_loaded(c).await;
    show_section(c, "encounters").await;
    click(
        c,
        &format!("button.encounter[data-encounter='{encounter_id}']"),
    )
    .await;
    text_of(c, ".encounter-detail").await;
    wait_for_absence(c, ".encounter-detail .feed__progress").await;
}

/// The drill-down's searches: one per category, each with `encounter=` (first pages only).
fn drill_down_categories(stack: &Stack, encounter_id: &str) -> Vec<String> {
    stack
        .ehr
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/Observation?"))
        .filter(|r| {
            query_param(&r.path_and_query, "encounter") == Some(format!("Encounter/{encounter_id}"))
        })
        .map(|r| query_param(&r.path_and_query, "category").unwrap_or_default())
        .collect()
}

/// Epic ignores `encounter=` (warning 4122) and answers with every observation of the
/// patient: the drill-down still lists exactly the chosen encounter's observations, from one
/// search per category.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drill_down_lists_only_its_encounters_observations_when_epic_ignores_encounter() {
    let stack = start_epic_stack().await;
    let b = browser().await;
    let c = &b.client;
    let (patient_id, encounter_id, others) = busy_encounter(&stack);
    assert!(others > 0, "the filter has nothing to take away");
    let expected = observations_of_encounter(&stack, &patient_id, &encounter_id);
    open_epic_chart_of(
        c,
        &stack,
        &patient_id,
        Some("observation_encounter_ignored"),
    )
    .await;
    open_encounter(c, &encounter_id).await;
    let rows = ".encounter-detail__observations tbody tr";
    assert_eq!(
        count_of(c, rows).await,
        expected.len(),
        "{:?}",
        texts_of(c, rows).await
    );
    assert_eq!(count_of(c, ".encounter-detail .notice--partial").await, 0);
    // Each shown row is one of this encounter's observations (by its code's display).
    let labels: HashSet<String> = expected
        .iter()
        .flat_map(|o| o["code"]["coding"].as_array().cloned().unwrap_or_default())
        .filter_map(|coding| coding["display"].as_str().map(str::to_owned))
        .chain(
            expected
                .iter()
                .filter_map(|o| o["code"]["text"].as_str().map(str::to_owned)),
        )
        .collect();
    for row in texts_of(c, ".encounter-detail__observations tbody th").await {
        assert!(labels.contains(&row), "{row:?} is not of this encounter");
    }
    let mut categories = drill_down_categories(&stack, &encounter_id);
    categories.sort();
    let mut all: Vec<String> = [
        "vital-signs",
        "laboratory",
        "social-history",
        "survey",
        "exam",
        "imaging",
        "procedure",
        "therapy",
        "activity",
    ]
    .map(str::to_owned)
    .to_vec();
    all.sort();
    assert_eq!(categories, all, "one search per category, each once");
    screenshot(c, "drill-down-encounter-ignored").await;
    c.clone().close().await.unwrap();
}

/// Epic refuses the social-history category (59111): the drill-down and the table of all
/// results each say that social history could not be read, and show every other category's
/// observations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_category_fails_alone_in_the_drill_down_and_all_results() {
    let stack = start_epic_stack().await;
    let b = browser().await;
    let c = &b.client;
    // The Synthea patients have no social-history observations: the refused search hides
    // nothing that exists, and every other observation must still be shown.
    let (patient_id, encounter_id, _) = busy_encounter(&stack);
    let of_encounter = observations_of_encounter(&stack, &patient_id, &encounter_id);
    let readable = of_encounter
        .iter()
        .filter(|o| category_of(o) != "social-history")
        .count();
    assert!(readable > 0);
    let all = stack.ehr.resources_of("Observation", &patient_id);
    let all_readable = all
        .iter()
        .filter(|o| category_of(o) != "social-history")
        .count();
    open_epic_chart_of(c, &stack, &patient_id, Some("observation_category_refused")).await;
    wait_until_loaded(c).await;
    show_section(c, "results").await;
    let notice = text_of(c, ".section--all .notice--partial").await;
    assert!(
        notice.starts_with("Social history could not be read"),
        "{notice}"
    );
    assert_eq!(
        text_of(c, ".all__count").await,
        format!("{all_readable} of {all_readable} results")
    );
    open_encounter(c, &encounter_id).await;
    let notices = texts_of(c, ".encounter-detail .notice--partial").await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].starts_with("Social history could not be read"),
        "{notices:?}"
    );
    assert_eq!(
        count_of(c, ".encounter-detail__observations tbody tr").await,
        readable
    );
    c.execute(
        "document.querySelector('.encounter-detail .notice--partial') \
         .scrollIntoView({ block: 'center' })",
        vec![],
    )
    .await
    .unwrap();
    screenshot(c, "drill-down-category-refused").await;
    // The vital signs are still shown in their section.
    show_section(c, "vitals").await;
    assert!(count_of(c, ".vital").await > 0);
    c.clone().close().await.unwrap();
}

/// "Loading… N of M so far" is only shown with M > N.
fn assert_credible_progress(text: &str) {
    let Some(rest) = text.strip_prefix("Loading… ") else {
        panic!("unexpected progress text {text:?}");
    };
    let rest = rest.trim_end_matches(" so far");
    if let Some((n, m)) = rest.split_once(" of ") {
        let n: usize = n.replace([',', ' ', '\u{202f}'], "").parse().unwrap();
        let m: usize = m.replace([',', ' ', '\u{202f}'], "").parse().unwrap();
        assert!(m > n, "the chart says {text:?}");
    }
}

/// Epic's paging session expires (4113) the first time each search's `sessionID` link is
/// used: the search starts again, every observation of the 10 000 is shown once, and the
/// progress never reads "N of M" with M ≤ N (Epic's `Bundle.total` is the page size).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_epic_paging_session_restarts_the_search_and_shows_each_result_once() {
    let stack = start_epic_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient_id = sandbox::Ehr::scale_patient_id();
    open_epic_chart_of(c, &stack, patient_id, Some("epic_paging_session_expired")).await;
    text_of(c, ".chart__body").await;
    let mut sampled = 0;
    for _ in 0..1200 {
        let progress: Vec<String> = serde_json::from_value(
            c.execute(
                "return [...document.querySelectorAll('.feed__progress')].map(e => e.textContent)",
                vec![],
            )
            .await
            .unwrap(),
        )
        .unwrap();
        if progress.is_empty() {
            break;
        }
        for text in &progress {
            assert_credible_progress(text);
            sampled += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_until_loaded(c).await;
    assert!(sampled > 0, "no progress was ever seen");
    show_section(c, "results").await;
    let total = stack.ehr.resources_of("Observation", patient_id).len();
    assert_eq!(total, 10_000);
    assert_eq!(
        text_of(c, ".all__count").await,
        format!("{total} of {total} results")
    );
    assert_eq!(count_of(c, ".notice--partial").await, 0);
    // The restarts are in the log: each multi-page search's first page was asked for twice.
    let log = stack.ehr.requests();
    let first_pages: Vec<&str> = log
        .iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/Observation?"))
        .filter(|r| !r.path_and_query.contains("sessionID="))
        .map(|r| r.path_and_query.as_str())
        .collect();
    for category in ["vital-signs", "laboratory"] {
        let asked: Vec<&&str> = first_pages
            .iter()
            .filter(|p| query_param(p, "category").as_deref() == Some(category))
            .collect();
        assert_eq!(asked.len(), 2, "{category}: {asked:#?}");
        assert_eq!(asked[0], asked[1], "{category}: not the same first page");
    }
    let expired = log
        .iter()
        .filter(|r| r.path_and_query.contains("sessionID="))
        .count();
    assert!(expired > 0, "no sessionID page was asked for");
    c.clone().close().await.unwrap();
}

/// Configured for Epic (`epic_client_id_header`), Cairn's discovery request carries
/// `Epic-Client-ID` with its client id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_carries_the_epic_client_id_header_when_configured() {
    let stack = start_epic_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[0];
    open_epic_chart_of(c, &stack, &patient.id, None).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    let log = stack.ehr.requests();
    let discovery: Vec<_> = log
        .iter()
        .filter(|r| {
            r.method == "GET" && r.path_and_query == "/fhir/.well-known/smart-configuration"
        })
        .collect();
    assert!(!discovery.is_empty(), "{log:#?}");
    for r in discovery {
        assert_eq!(
            r.epic_client_id.as_deref(),
            Some(stack.ehr.config().client_id.as_str()),
            "{r:?}"
        );
    }
    c.clone().close().await.unwrap();
}

/// Each misbehaviour of the EHR ends on a plain message with a way forward. Faults before the
/// code exchange must never reach the token endpoint; a failed exchange is never retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_launch_fault_shows_a_plain_message_and_a_way_forward() {
    use sandbox::Fault::*;
    let cases = [
        (
            AccessDenied,
            "Access was not granted",
            "The user <b>declined</b> access.",
            0,
        ),
        (WrongState, "This sign-in cannot be used", "already used", 0),
        (MissingState, "This sign-in cannot be used", "no state", 0),
        (
            CodeAndError,
            "This sign-in cannot be used",
            "both a code and an error",
            0,
        ),
        (
            TokenInvalidGrant,
            "Your EHR did not accept the sign-in",
            "invalid_grant",
            1,
        ),
        (
            TokenServerError,
            "Cairn could not complete the sign-in",
            "HTTP 500",
            1,
        ),
        (
            TokenWithoutAccessToken,
            "Cairn could not complete the sign-in",
            "no access token",
            1,
        ),
        (
            TokenWrongType,
            "Cairn could not complete the sign-in",
            "unsupported type",
            1,
        ),
        // A 401 gets one refresh (the second token-endpoint call) and one retry, then ends.
        (
            FhirUnauthorized,
            "Your session has ended",
            "no longer accepts",
            2,
        ),
        (
            IdTokenBadSignature,
            "Cairn could not confirm who signed in",
            "signature does not match",
            1,
        ),
        (
            IdTokenWrongAudience,
            "Cairn could not confirm who signed in",
            "different app",
            1,
        ),
        (
            AuthInvalidScope,
            "Your EHR did not accept the permissions Cairn asks for",
            "EHR said",
            0,
        ),
        (
            IssMismatch,
            "This sign-in cannot be used",
            "different sign-in server",
            0,
        ),
        (
            DiscoveryHtml,
            "Cairn could not read your EHR's sign-in settings",
            "not JSON",
            0,
        ),
        (
            DiscoveryForeignEndpoints,
            "Your EHR's sign-in settings are not safe to use",
            "127.0.0.1:1",
            0,
        ),
        (
            DiscoveryNoS256,
            "Your EHR's sign-in settings are not safe to use",
            "S256",
            0,
        ),
        (FhirForbidden, "Missing permission", "permission", 1),
        (
            FhirServerError,
            "Your EHR is having trouble",
            "<script>alert(1)</script> database",
            1,
        ),
        (
            FhirMalformed,
            "Cairn could not read the record",
            "not a readable",
            1,
        ),
    ];
    let b = browser().await;
    let c = &b.client;
    for (fault, title, detail, token_posts) in cases {
        // A fresh EHR and app origin per case, so nothing carries over.
        let stack = start_stack().await;
        stack.ehr.inject(fault);
        let patient = &stack.ehr.patients()[0];
        open_chart(c, &stack, &patient.name).await;
        let shown_title = text_of(c, ".problem__title").await;
        let shown_detail = text_of(c, ".problem__detail").await;
        let next = text_of(c, ".problem__next").await;
        assert_eq!(shown_title, title, "{fault:?}");
        assert!(shown_detail.contains(detail), "{fault:?}: {shown_detail:?}");
        assert!(!next.is_empty(), "{fault:?}: no way forward");
        let posts = stack
            .ehr
            .requests()
            .iter()
            .filter(|r| r.path_and_query.starts_with("/oauth2/token"))
            .count();
        assert_eq!(posts, token_posts, "{fault:?}: token endpoint calls");
        // Faults in discovery stop Cairn before it leaves for the sign-in page: the address is
        // still the EHR's launch link. After a callback it is always clean.
        if !matches!(
            fault,
            DiscoveryHtml | DiscoveryForeignEndpoints | DiscoveryNoS256
        ) {
            assert_address_is_clean(c).await;
        }
        let page = c.source().await.unwrap();
        assert!(
            !page.contains("<b>declined"),
            "{fault:?}: EHR text was rendered as HTML"
        );
        assert!(
            !page.contains("<script>alert"),
            "{fault:?}: EHR text was rendered as HTML"
        );
        if fault == AccessDenied {
            screenshot(c, "fault-access-denied").await;
        }
    }
    c.clone().close().await.unwrap();
}

/// Faults Cairn recovers from on its own: each launch still reaches the patient's banner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_cairn_recovers_from_still_reach_the_chart() {
    use sandbox::Fault::*;
    // (fault, token-endpoint calls, repeated FHIR requests). Each launch reads the Patient
    // and the Encounter in context and starts the chart's searches, all at once, sharing one
    // session; "repeated" counts requests sent again for the same URL.
    let cases = [
        (ExpiresInString, 1, Some(0)),
        (ExpiresInMissing, 1, Some(0)),
        // Expired on arrival: renewed once before the reads, which all wait for it.
        (ExpiresInZero, 2, Some(0)),
        // The first token is already dead: whichever requests carried it get 401 and are
        // sent again after ONE refresh (a second use of the refresh token would be refused
        // as reuse). How many carried it depends on timing.
        (TokenInvalidToken, 2, None),
        // Two 429s with Retry-After: 1, each answered by one retry.
        (FhirTooManyRequests, 1, Some(2)),
        (FhirSlow, 1, Some(0)),
    ];
    let b = browser().await;
    let c = &b.client;
    for (fault, token_posts, repeats) in cases {
        let stack = start_stack().await;
        stack.ehr.inject(fault);
        let patient = &stack.ehr.patients()[1];
        open_chart(c, &stack, &patient.name).await;
        assert_eq!(text_of(c, ".banner__name").await, patient.name, "{fault:?}");
        text_of(c, ".chart__encounter").await;
        wait_until_loaded(c).await;
        let log = stack.ehr.requests();
        assert_eq!(
            count(&log, "POST", "/oauth2/token"),
            token_posts,
            "{fault:?}: {log:#?}"
        );
        let fhir: Vec<&str> = log
            .iter()
            .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/"))
            .map(|r| r.path_and_query.as_str())
            .collect();
        let unique: std::collections::HashSet<&str> = fhir.iter().copied().collect();
        let repeated = fhir.len() - unique.len();
        match repeats {
            Some(n) => assert_eq!(repeated, n, "{fault:?}: {fhir:#?}"),
            None => assert!(repeated >= 1, "{fault:?}: {fhir:#?}"),
        }
        assert_address_is_clean(c).await;
        assert_canary_contained(c, &stack).await;
    }
    c.clone().close().await.unwrap();
}

/// When the EHR does not trust Cairn's client id or redirect URI, it must not send the browser
/// back: its own error page stays, and no code is ever exchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ehr_that_does_not_know_cairn_keeps_the_user_on_its_error_page() {
    use sandbox::Fault::*;
    let b = browser().await;
    let c = &b.client;
    for fault in [AuthInvalidClientId, AuthInvalidRedirectUri] {
        let stack = start_stack().await;
        stack.ehr.inject(fault);
        let patient = &stack.ehr.patients()[0];
        open_chart(c, &stack, &patient.name).await;
        let shown = text_of(c, "h1").await;
        assert_eq!(shown, "Sign-in error", "{fault:?}");
        let url = c.current_url().await.unwrap();
        assert!(url.as_str().starts_with(&stack.ehr_url), "{fault:?}: {url}");
        assert_eq!(count(&stack.ehr.requests(), "POST", "/oauth2/token"), 0);
    }
    c.clone().close().await.unwrap();
}

/// An expired access token is renewed with the refresh token, once, and the read retried;
/// a refused refresh token ends the session with a relaunch message and no further reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_renewed_once_then_ends_cleanly() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[2];
    open_chart(c, &stack, &patient.name).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);

    stack.ehr.expire_access_tokens();
    click(c, ".chart__reload").await;
    wait_for_log(&stack, |log| count(log, "GET", "/fhir/Patient/") == 3).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    let log = stack.ehr.requests();
    assert_eq!(count(&log, "POST", "/oauth2/token"), 2, "{log:#?}");
    let reads: Vec<_> = log
        .iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/Patient/"))
        .map(|r| r.authorization.clone().unwrap_or_default())
        .collect();
    // The 401 was sent with the old token, the retry with the new one.
    assert_eq!(reads[0], reads[1]);
    assert_ne!(reads[1], reads[2]);
    assert!(reads[2].starts_with("Bearer AT-CANARY-"));

    // Now the EHR refuses the refresh token: the session ends, and nothing is read again.
    wait_until_loaded(c).await;
    let before = stack.ehr.requests().len();
    stack.ehr.inject(sandbox::Fault::RefreshInvalidGrant);
    stack.ehr.expire_access_tokens();
    click(c, ".chart__reload").await;
    assert_eq!(
        text_of(c, ".problem__title").await,
        "Your session has ended"
    );
    let detail = text_of(c, ".problem__detail").await;
    assert!(detail.contains("invalid_grant"), "{detail}");
    assert!(!text_of(c, ".problem__next").await.is_empty());
    let log = stack.ehr.requests();
    assert_eq!(count(&log, "POST", "/oauth2/token"), 3, "{log:#?}");
    // The reload's requests went out once each with the dead token; none was retried.
    let reads: Vec<&str> = log[before..]
        .iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/"))
        .map(|r| r.path_and_query.as_str())
        .collect();
    let unique: std::collections::HashSet<&str> = reads.iter().copied().collect();
    assert_eq!(reads.len(), unique.len(), "a read was retried: {reads:#?}");
    assert!(
        c.find_all(Locator::Css(".banner"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_canary_contained(c, &stack).await;
    screenshot(c, "session-ended").await;
    c.clone().close().await.unwrap();
}

/// A page that fails in the middle of a long search (the 10 000-observation patient) keeps
/// the pages before it, says results may be missing, and Retry goes on from that page to the
/// end, each page read once more at most (matrix #38).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_fails_mid_search_keeps_what_came_and_resumes() {
    let stack = start_stack().await;
    stack.ehr.inject(sandbox::Fault::FhirFailOnPage3);
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, sandbox::Ehr::scale_patient_id()).await;
    let notice = text_of(c, ".notice--partial").await;
    assert_eq!(
        notice,
        "Some results may be missing: a page could not be read (the EHR answered HTTP 500, \
         saying “Page 3 is unavailable right now; try again.”). Retry"
    );
    screenshot(c, "paging-failed").await;
    click(c, ".notice--partial button").await;
    wait_until_loaded(c).await;
    assert!(
        c.find_all(Locator::Css(".notice--partial"))
            .await
            .unwrap()
            .is_empty(),
        "the notice stays after a successful retry"
    );
    let searches: Vec<String> = stack
        .ehr
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "GET"
                && (r.path_and_query.starts_with("/fhir/Observation?")
                    || r.path_and_query.starts_with("/fhir/Encounter?"))
        })
        .map(|r| r.path_and_query)
        .collect();
    let unique: std::collections::HashSet<&String> = searches.iter().collect();
    // 6 250 vital signs and 3 750 labs at 200 a page, one empty page for each of the seven
    // other categories, and the 200 encounters: 32 + 19 + 7 + 1 pages, the failed one asked
    // for twice.
    assert_eq!(unique.len(), 59, "{searches:#?}");
    assert_eq!(searches.len(), 60, "{searches:#?}");
    // The chart still shows what the pages brought.
    assert!(text_of(c, ".vitals").await.contains("Blood pressure"));
    c.clone().close().await.unwrap();
}

/// A search page answered 503 with `Retry-After` is asked for again after the wait, and the
/// chart loads completely, with no notice (matrix #39).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_search_page_is_retried_after_the_wait() {
    let stack = start_stack().await;
    stack.ehr.inject(sandbox::Fault::FhirSearchBusy);
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, sandbox::Ehr::scale_patient_id()).await;
    wait_until_loaded(c).await;
    assert!(
        c.find_all(Locator::Css(".notice--partial"))
            .await
            .unwrap()
            .is_empty(),
        "a page that answered 503 once left a notice"
    );
    show_section(c, "results").await;
    let total = stack
        .ehr
        .resources_of("Observation", sandbox::Ehr::scale_patient_id())
        .len();
    assert_eq!(
        text_of(c, ".all__count").await,
        format!("{total} of {total} results")
    );
    // Page 2 (`_offset=200`) of the vital signs and of the labs, each twice (the 200
    // encounters fit on one page).
    let log = stack.ehr.requests();
    let second_pages: Vec<&str> = log
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path_and_query
                    .split(['?', '&'])
                    .any(|p| p == "_offset=200")
        })
        .map(|r| r.path_and_query.as_str())
        .collect();
    assert_eq!(second_pages.len(), 4, "{second_pages:#?}");
    assert_eq!(
        second_pages
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        2,
        "{second_pages:#?}"
    );
    c.clone().close().await.unwrap();
}

/// Paging links that loop or leave the FHIR server stop the search with a notice; what came
/// is shown (matrix #38).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looping_or_foreign_next_links_stop_with_a_notice() {
    use sandbox::Fault::*;
    let b = browser().await;
    let c = &b.client;
    for fault in [
        FhirNextLinkSelf,
        FhirNextLinkCycle,
        FhirNextLinkForeignOrigin,
    ] {
        let stack = start_stack().await;
        stack.ehr.inject(fault);
        open_chart_of(c, &stack, sandbox::Ehr::scale_patient_id()).await;
        let notice = text_of(c, ".notice--partial").await;
        assert!(
            notice.starts_with("Some results may be missing"),
            "{fault:?}: {notice}"
        );
        wait_until_loaded(c).await;
        assert!(
            c.find_all(Locator::Css(".notice--partial button"))
                .await
                .unwrap()
                .is_empty(),
            "{fault:?}: a loop is not offered for retry"
        );
        assert!(
            text_of(c, ".vitals").await.contains("Blood pressure"),
            "{fault:?}"
        );
        // One search per category; a page is never asked for twice, and the vital signs
        // (the looping search that is checked above) stop after at most two pages.
        let searches: Vec<String> = stack
            .ehr
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/Observation?"))
            .map(|r| r.path_and_query)
            .collect();
        let unique: std::collections::HashSet<&String> = searches.iter().collect();
        assert_eq!(unique.len(), searches.len(), "{fault:?}: {searches:#?}");
        let vitals = searches
            .iter()
            .filter(|s| s.contains("category=vital-signs") || !s.contains("category="))
            .count();
        assert!(
            vitals <= 2,
            "{fault:?}: the loop was followed: {searches:#?}"
        );
    }
    c.clone().close().await.unwrap();
}

/// docs/security.md #45: Observation searches answered with more than Cairn reads for one
/// answer (20 MB): 24 MiB with an honest `Content-Length` (`observation_huge_body`), and a
/// chunked body that never ends (`observation_endless_body`). Cairn stops reading at once (well
/// before its 30-second deadline), says in plain words that the EHR sent too much and whom to
/// ask, and the tab is alive: the banner and encounters are shown, and opening an encounter
/// still works (and says the same of its own searches).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_larger_than_cairn_reads_is_stopped_with_a_plain_message() {
    let stack = start_stack().await;
    let (patient_id, encounter_id, _) = busy_encounter(&stack);
    let b = browser().await;
    let c = &b.client;
    for fault in [
        sandbox::Fault::ObservationHugeBody,
        sandbox::Fault::ObservationEndlessBody,
    ] {
        stack.ehr.set_fault(Some(fault));
        let started = Instant::now();
        open_chart_of(c, &stack, &patient_id).await;
        wait_until_loaded(c).await;
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(20),
            "{fault:?}: the chart took {elapsed:?}"
        );
        show_section(c, "results").await;
        let notice = text_of(c, ".section--all .notice--partial").await;
        for words in [
            "Your EHR sent too much",
            "The EHR sent more than 20 MB in one answer from its FHIR API",
            "Ask your EHR's integration team",
        ] {
            assert!(notice.contains(words), "{fault:?}: {notice:?}");
        }
        assert!(count_of(c, ".banner").await > 0, "{fault:?}: no banner");
        // The encounters are listed: one of them opens.
        open_encounter(c, &encounter_id).await;
        let notices = texts_of(c, ".encounter-detail .notice--partial").await;
        assert!(
            notices.iter().any(|n| n.contains("Your EHR sent too much")),
            "{fault:?}: {notices:?}"
        );
        screenshot(c, &format!("too-large-{}", fault.name())).await;
        c.enter_parent_frame().await.unwrap();
    }
    c.clone().close().await.unwrap();
}
