//! End to end in real headless Chromium: the launches. An EHR launch inside the EHR's iframe,
//! the standalone patient and clinician launches, discovery, the launch page and its prefetch.
//! Run by `cargo xtask test`, which builds `dist/` first and sets `CAIRN_DIST`. Screenshots of
//! each end state go to `target/e2e/`.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;
use support::*;
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ehr_launch_in_an_iframe_shows_that_patients_banner() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patients = stack.ehr.patients();
    assert!(
        patients.len() >= 3,
        "the development EHR serves at least three patients"
    );
    // The second patient, so a Cairn that always showed the first would fail.
    let patient = &patients[1];

    open_chart(c, &stack, &patient.name).await;

    let shown_name = text_of(c, ".banner__name").await;
    let facts = text_of(c, ".banner__facts").await;
    screenshot(c, "ehr-launch-banner").await;

    assert_eq!(shown_name, patient.name);
    assert!(
        facts.contains(&patient.birth_date),
        "{facts:?} lacks {}",
        patient.birth_date
    );
    let gender = capitalised(&patient.gender);
    assert!(facts.contains(&gender), "{facts:?} lacks {gender}");

    // The code and state are gone from the address bar, and no token reached storage.
    assert_address_is_clean(c).await;
    let storage = c
        .execute("return JSON.stringify(sessionStorage) + JSON.stringify(localStorage) + document.cookie", vec![])
        .await
        .unwrap();
    assert!(
        !storage.to_string().contains("AT-CANARY"),
        "token in storage: {storage}"
    );

    assert_canary_contained(c, &stack).await;
    // The pending launch (state, PKCE verifier) was deleted when the callback used it.
    let pending = c
        .execute(
            "return Object.keys(sessionStorage).filter(k => k.startsWith('cairn.pending.'))",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(pending, json!([]));

    // The encounter the EHR launched Cairn for is named, read with the same token.
    let encounter = text_of(c, ".chart__encounter").await;
    assert!(
        encounter.starts_with("Opened for the encounter: Encounter for"),
        "{encounter}"
    );
    let encounter_reads: Vec<_> = stack
        .ehr
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/Encounter/"))
        .collect();
    assert_eq!(encounter_reads.len(), 1, "{encounter_reads:#?}");

    // The id_token was verified against the EHR's keys: the clinician's name is shown.
    assert_eq!(
        text_of(c, ".signed-in").await,
        "Signed in as Dr. Ada Clinician"
    );
    // The EHR's style document was applied through CSS custom properties.
    let background = c
        .execute(
            "return getComputedStyle(document.documentElement).getPropertyValue('--cairn-bg').trim()",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(background, json!("#edeae3"));

    // Exactly one code exchange and one Patient read, the read with a bearer token.
    let log = stack.ehr.requests();
    let token_posts = log
        .iter()
        .filter(|r| r.method == "POST" && r.path_and_query.starts_with("/oauth2/token"))
        .count();
    assert_eq!(token_posts, 1, "{log:#?}");
    let reads: Vec<_> = log
        .iter()
        .filter(|r| r.method == "GET" && r.path_and_query.starts_with("/fhir/Patient/"))
        .collect();
    assert_eq!(reads.len(), 1, "{log:#?}");
    assert!(reads[0].path_and_query.ends_with(&patient.id));
    assert!(
        reads[0]
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer AT-CANARY-"))
    );
    c.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_from_an_unconfigured_iss_is_refused_before_any_request_to_it() {
    let stack = start_stack().await;
    // A second EHR that Cairn's configuration does not list: it must never hear from Cairn.
    let evil_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let evil_port = evil_listener.local_addr().unwrap().port();
    let app_port: u16 = stack
        .app_url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let evil = sandbox::Ehr::new(sandbox::Config::dev(evil_port, app_port));
    tokio::spawn(evil.clone().serve(evil_listener));

    let b = browser().await;
    let c = &b.client;
    let iss = evil.fhir_base();
    let url = format!(
        "{}?launch=abc&iss={}",
        stack.launch_page(),
        sandbox::url_encode(&iss)
    );
    c.goto(&url).await.unwrap();
    let title = text_of(c, ".problem__title").await;
    let detail = text_of(c, ".problem__detail").await;
    screenshot(c, "unknown-iss-refused").await;

    assert!(title.contains("not one Cairn is set up for"), "{title}");
    assert!(
        detail.contains(&iss),
        "the message names the refused address: {detail}"
    );
    assert!(
        evil.requests().is_empty(),
        "Cairn contacted the unknown iss: {:#?}",
        evil.requests()
    );
    assert!(
        stack.ehr.requests().is_empty(),
        "{:#?}",
        stack.ehr.requests()
    );
    c.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_falls_back_to_the_capability_statement() {
    let stack = start_stack().await;
    stack.ehr.inject(sandbox::Fault::DiscoveryNotFound);
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[0];
    open_chart(c, &stack, &patient.name).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    let log = stack.ehr.requests();
    let paths: Vec<&str> = log.iter().map(|r| r.path_and_query.as_str()).collect();
    let well_known = paths
        .iter()
        .position(|p| p.ends_with("/.well-known/smart-configuration"));
    let metadata = paths.iter().position(|p| *p == "/fhir/metadata");
    assert!(
        matches!((well_known, metadata), (Some(w), Some(m)) if w < m),
        "expected .well-known, then /metadata: {paths:#?}"
    );
    c.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_without_what_cairn_needs_gets_a_plain_page() {
    let cases = [
        ("delete window.WebAssembly;", "WebAssembly"),
        (
            "Object.defineProperty(window, 'sessionStorage', { get() { throw new DOMException('blocked', 'SecurityError'); } });",
            "session storage",
        ),
        (
            "delete Crypto.prototype.getRandomValues;",
            "crypto.getRandomValues",
        ),
    ];
    for (script, lacking) in cases {
        let stack = start_stack().await;
        let b = browser().await;
        let c = &b.client;
        c.issue_cmd(before_every_page(script.to_owned()))
            .await
            .unwrap();
        let iss = stack.ehr.fhir_base();
        c.goto(&format!(
            "{}?launch=abc&iss={}",
            stack.launch_page(),
            sandbox::url_encode(&iss)
        ))
        .await
        .unwrap();
        assert_eq!(
            text_of(c, ".problem__title").await,
            "This browser cannot run Cairn"
        );
        let detail = text_of(c, ".problem__detail").await;
        assert!(detail.contains(lacking), "{detail}");
        if lacking == "WebAssembly" {
            screenshot(c, "unsupported-browser").await;
        }
        // The app did not start: nothing went to the EHR.
        assert!(
            stack.ehr.requests().is_empty(),
            "{:#?}",
            stack.ehr.requests()
        );
        c.clone().close().await.unwrap();
    }
}

/// A patient opens Cairn on a phone, picks the health system, signs in at the EHR, declines
/// one permission, and sees their own banner, with the view they declined explained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_patient_launch_on_a_phone() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    c.set_window_size(390, 844).await.unwrap();
    let patient = &stack.ehr.patients()[1];
    c.goto(&stack.launch_page()).await.unwrap();
    // The start page names the health system as its User-access Brand does.
    assert_eq!(
        text_of(c, ".system__name").await,
        "Cairn Development Health"
    );
    let portal = c.find(Locator::Css(".system__portal")).await.unwrap();
    assert_eq!(
        portal.attr("rel").await.unwrap().as_deref(),
        Some("noopener noreferrer")
    );
    // A second visit revalidates the cached bundle by its ETag: 304, same names.
    c.refresh().await.unwrap();
    assert_eq!(
        text_of(c, ".system__name").await,
        "Cairn Development Health"
    );
    let brand_requests: Vec<_> = stack
        .ehr
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path_and_query == "/brands.json")
        .collect();
    assert_eq!(brand_requests.len(), 2, "{brand_requests:#?}");
    assert_eq!(brand_requests[0].if_none_match, None);
    assert!(
        brand_requests[1]
            .if_none_match
            .as_deref()
            .is_some_and(|e| e.starts_with('"')),
        "{brand_requests:#?}"
    );
    screenshot(c, "standalone-start-phone").await;
    // Focus on a health system shows Cairn's focus ring, and the card keeps its size.
    let focus = c
        .execute(
            "const a = document.querySelector('.system__choose'); \
             const before = [getComputedStyle(a).fontSize, a.getBoundingClientRect().height]; \
             a.focus(); \
             const s = getComputedStyle(a); \
             return [a.matches(':focus-visible'), s.outlineStyle, s.outlineWidth, \
                     before, [s.fontSize, a.getBoundingClientRect().height]]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focus[0], true, "{focus}");
    assert_eq!(
        (&focus[1], &focus[2]),
        (&json!("solid"), &json!("3px")),
        "{focus}"
    );
    assert_eq!(focus[3], focus[4], "focus resized the card: {focus}");
    click(c, ".system__choose").await;

    // The EHR's own pages: sign in as the patient, untick encounters, allow.
    click(
        c,
        &format!("button[name=user][value='patient:{}']", patient.id),
    )
    .await;
    click(c, "input[name=scope][value='patient/Encounter.rs']").await;
    click(c, "button[name=decision][value=allow]").await;

    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    assert_eq!(
        text_of(c, ".signed-in").await,
        format!("Signed in as {}", patient.name)
    );
    let notice = text_of(c, ".notice--not-granted").await;
    assert!(notice.contains("encounters"), "{notice}");
    // The patient's own latest weight, at one decimal, and no encounter list (not granted).
    wait_until_loaded(c).await;
    let weight = stack
        .ehr
        .resources_of("Observation", &patient.id)
        .into_iter()
        .filter(|o| o["code"]["coding"][0]["code"] == "29463-7")
        .max_by_key(|o| {
            o["effectiveDateTime"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .expect("the patient has body weights");
    assert_eq!(
        text_of(c, ".vital[data-kind='Weight'] .vital__value").await,
        format!(
            "{} {}",
            as_shown(&weight["valueQuantity"]["value"], Some(1)),
            weight["valueQuantity"]["unit"].as_str().unwrap()
        )
    );
    assert!(
        c.find_all(Locator::Css(".encounters"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_address_is_clean(c).await;
    assert_canary_contained(c, &stack).await;
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
    screenshot(c, "standalone-patient-phone").await;

    let log = stack.ehr.requests();
    let authorize = log
        .iter()
        .find(|r| r.path_and_query.starts_with("/oauth2/authorize?"))
        .expect("an authorize request");
    assert!(
        authorize.path_and_query.contains("scope=launch%2Fpatient+"),
        "{}",
        authorize.path_and_query
    );
    assert!(!authorize.path_and_query.contains("launch="));
    c.clone().close().await.unwrap();
}

/// A clinician opens Cairn outside the EHR, signs in, finds a patient by name and by MRN, and
/// opens that chart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_clinician_finds_a_patient_by_mrn() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patients = stack.ehr.patients();
    let patient = &patients[2];
    sign_in_as_clinician(c, &stack).await;

    // By name: family name, given name and birth date, Epic's minimum data set.
    let (given, family) = split_name(&patient.name);
    search_by_name(c, family, given, &patient.birth_date).await;
    let results = text_of(c, ".results").await;
    assert!(results.contains(&patient.name), "{results}");
    let log = stack.ehr.requests();
    assert!(
        log.iter().any(|r| r.path_and_query.starts_with(&format!(
            "/fhir/Patient?family={}&given={}&birthdate={}",
            sandbox::url_encode(family),
            sandbox::url_encode(given),
            patient.birth_date
        ))),
        "{log:#?}"
    );

    // By MRN, exactly, the way clinicians usually find a chart. This server's configuration
    // names no MRN rule, so the number is searched in any identifier system (a FHIR server
    // reads `MRN|<value>` as the system "MRN" and finds nothing).
    search_by_mrn(c, &patient.mrn).await;
    wait_for_log(&stack, |log| {
        log.iter().any(|r| {
            r.path_and_query
                .starts_with(&format!("/fhir/Patient?identifier={}&", patient.mrn))
        })
    })
    .await;
    let found = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(&format!(
            ".result[data-patient='{}']",
            patient.id
        )))
        .await
        .unwrap();
    assert_eq!(c.find_all(Locator::Css(".result")).await.unwrap().len(), 1);
    screenshot(c, "standalone-clinician-search").await;
    found.click().await.unwrap();
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    assert!(text_of(c, ".banner__facts").await.contains(&patient.mrn));
    assert_address_is_clean(c).await;
    assert_canary_contained(c, &stack).await;

    let log = stack.ehr.requests();
    let authorize = log
        .iter()
        .find(|r| r.path_and_query.starts_with("/oauth2/authorize?"))
        .unwrap();
    assert!(authorize.path_and_query.contains("user%2FPatient.rs"));
    assert!(!authorize.path_and_query.contains("launch"));
    c.clone().close().await.unwrap();
}

/// Epic's launch tokens are long JWTs: when the authorize URL would pass 2 000 characters and
/// the EHR lists `authorize-post`, Cairn posts the authorize request instead (and the CSP's
/// `form-action` lets it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_launch_token_is_posted_to_authorize() {
    let stack = start_stack().await;
    stack.ehr.use_long_launch_tokens();
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[0];
    open_chart(c, &stack, &patient.name).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    let log = stack.ehr.requests();
    let launch = log
        .iter()
        .find(|r| r.path_and_query.starts_with("/ehr/launch"))
        .unwrap();
    assert!(
        launch.path_and_query.len() < 200,
        "the EHR page itself is short"
    );
    assert_eq!(count(&log, "POST", "/oauth2/authorize"), 1, "{log:#?}");
    assert_eq!(count(&log, "GET", "/oauth2/authorize"), 0, "{log:#?}");
    assert_address_is_clean(c).await;
    assert_canary_contained(c, &stack).await;
    c.clone().close().await.unwrap();
}

/// Epic sends `need_patient_banner` as the string "false" when its own banner is on screen:
/// Cairn then shows no banner and reads no Patient for it (matrix #28).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ehr_that_shows_its_own_banner_gets_none_from_cairn() {
    let stack = start_stack().await;
    stack.ehr.set_need_patient_banner(json!("false"));
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[1];
    open_chart(c, &stack, &patient.name).await;
    text_of(c, ".chart__body").await;
    assert!(
        c.find_all(Locator::Css(".banner"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(count(&stack.ehr.requests(), "GET", "/fhir/Patient/"), 0);
    c.clone().close().await.unwrap();
}

/// A second launch in the same tab (Hyperspace opens Cairn again and again) reuses the EHR's
/// SMART configuration from this session instead of waiting a round trip for it, and still
/// signs in and shows that patient.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_launch_in_the_tab_reuses_the_smart_configuration() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patients = stack.ehr.patients();
    for patient in &patients[..2] {
        open_chart(c, &stack, &patient.name).await;
        assert_eq!(text_of(c, ".banner__name").await, patient.name);
        c.enter_parent_frame().await.unwrap();
    }
    let discovery = count(
        &stack.ehr.requests(),
        "GET",
        "/fhir/.well-known/smart-configuration",
    );
    assert_eq!(discovery, 1, "the second launch asked for discovery again");
    assert_eq!(count(&stack.ehr.requests(), "POST", "/oauth2/token"), 2);
    c.clone().close().await.unwrap();
}

/// The EHR opens the launch page (`launch.html`), a small app of its own; while the sign-in is
/// under way it has the browser fetch the full app (`<link rel="prefetch">`), so the callback
/// page's script and wasm come from the HTTP cache: nothing is transferred for them. On a
/// phone's network the app takes longer to arrive than discovery and the EHR's single sign-on,
/// and Chromium cancels a prefetch still under way when the launch page goes: the launch page
/// waits for it before it leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_ehr_launch_on_a_phone_network_the_callback_page_finds_the_app_in_the_cache() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[1];
    // The benchmark's phone: 150 ms, 1.6 Mbit/s down, 750 kbit/s up.
    c.issue_cmd(enable_network_domain()).await.unwrap();
    c.issue_cmd(emulate_network(150.0, 200_000.0, 93_750.0))
        .await
        .unwrap();
    open_chart_of(c, &stack, &patient.id).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    let page = c.execute("return location.pathname", vec![]).await.unwrap();
    assert_eq!(page, json!("/"));
    // Every file with a content hash in its name: the styles the launch page loaded, and the
    // app's script and wasm and the chart's styles, which it prefetched.
    let entries = c
        .execute(
            "return performance.getEntriesByType('resource')
               .filter(e => /-[0-9a-f]{8,16}(_bg)?\\.(js|wasm|css)$/.test(e.name))
               .map(e => [e.name.split('/').pop(), e.transferSize, e.deliveredType || ''])",
            vec![],
        )
        .await
        .unwrap();
    let entries = entries.as_array().expect("resource timing entries");
    let names: Vec<&str> = entries.iter().filter_map(|e| e[0].as_str()).collect();
    let loaded = |prefix: &str, suffix: &str| {
        names
            .iter()
            .any(|n| n.starts_with(prefix) && n.ends_with(suffix))
    };
    assert!(loaded("cairn-", ".js"), "the app's script: {entries:?}");
    assert!(loaded("cairn-", "_bg.wasm"), "the app's wasm: {entries:?}");
    assert!(loaded("chart-", ".css"), "the chart's styles: {entries:?}");
    for entry in entries {
        assert_eq!(
            entry[1],
            json!(0),
            "transferred, not from the cache: {entry}"
        );
    }
    c.clone().close().await.unwrap();
}

/// A patient's start page on a phone's network does not share the bandwidth with the full
/// app: the launch page asks for the app (its script, wasm and the chart's styles) only once
/// its own wasm has arrived, and then fetches all of it while the patient chooses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_network_the_start_page_has_the_bandwidth_before_the_app_is_prefetched() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    c.issue_cmd(enable_network_domain()).await.unwrap();
    c.issue_cmd(emulate_network(150.0, 200_000.0, 93_750.0))
        .await
        .unwrap();
    c.goto(&stack.launch_page()).await.unwrap();
    assert_eq!(
        text_of(c, ".system__name").await,
        "Cairn Development Health"
    );
    // [name, startTime, responseEnd] of each file with a content hash in its name whose name
    // starts with `prefix` and ends with `suffix`.
    let named = |entries: &[serde_json::Value], prefix: &str, suffix: &str| {
        entries
            .iter()
            .filter(|e| {
                e[0].as_str()
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let app = |entries: &[serde_json::Value]| {
        [
            named(entries, "cairn-", ".js"),
            named(entries, "cairn-", "_bg.wasm"),
            named(entries, "chart-", ".css"),
        ]
        .concat()
    };
    // Until the three prefetched files have arrived.
    let mut entries = Vec::new();
    for _ in 0..300 {
        let found = c
            .execute(
                "return performance.getEntriesByType('resource')
                   .filter(e => /-[0-9a-f]{8,16}(_bg)?\\.(js|wasm|css)$/.test(e.name))
                   .map(e => [e.name.split('/').pop(), e.startTime, e.responseEnd])",
                vec![],
            )
            .await
            .unwrap();
        entries = found.as_array().cloned().unwrap_or_default();
        if app(&entries).len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let launch_wasm = named(&entries, "launch-", "_bg.wasm");
    assert_eq!(launch_wasm.len(), 1, "the start page's wasm: {entries:?}");
    let arrived = launch_wasm[0][2].as_f64().unwrap();
    let app = app(&entries);
    assert_eq!(
        app.len(),
        3,
        "the app's script, wasm and styles: {entries:?}"
    );
    for file in app {
        assert!(
            file[1].as_f64().unwrap() >= arrived,
            "asked for before the start page's wasm had arrived (at {arrived} ms): {file}"
        );
    }
    c.clone().close().await.unwrap();
}

/// A prefetch that does not finish holds the launch back only for a while: the launch page
/// waits for the app at most 8 s (`MAX_WAIT_MS`), then goes on to the sign-in, and the
/// callback page fetches the app itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetch_that_does_not_finish_holds_the_launch_back_only_for_a_while() {
    // The app's wasm, the first time it is asked for (the launch page's prefetch), would come
    // after a minute.
    let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let stack = start_stack_delaying(move |path| {
        let app_wasm = path.starts_with("/cairn-") && path.ends_with("_bg.wasm");
        if app_wasm && first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            Duration::from_secs(60)
        } else {
            Duration::ZERO
        }
    })
    .await;
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[1];
    open_chart_of(c, &stack, &patient.id).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    // The callback page's wasm came over the network, not from the prefetch.
    let transferred = c
        .execute(
            "return performance.getEntriesByType('resource')
               .filter(e => /\\/cairn-[0-9a-f]+_bg\\.wasm$/.test(e.name))
               .map(e => e.transferSize)",
            vec![],
        )
        .await
        .unwrap();
    let transferred = transferred.as_array().expect("the app's wasm entries");
    assert_eq!(transferred.len(), 1, "{transferred:?}");
    assert!(transferred[0].as_u64().unwrap() > 0, "{transferred:?}");
    c.clone().close().await.unwrap();
}
