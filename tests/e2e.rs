//! End to end in real headless Chromium: the development EHR, Cairn's release build, an EHR
//! launch inside the EHR's iframe. Run by `cargo xtask test`, which builds `dist/` first and sets
//! `CAIRN_DIST`. Screenshots of each end state go to `target/e2e/`.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::path::PathBuf;
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

/// Epic's embedded browser shares sessionStorage between app instances: two Cairns for two
/// patients must each show their own, and a reloaded one must never show the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_for_two_patients_never_cross() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patients = stack.ehr.patients();
    let (first, second) = (&patients[0], &patients[2]);
    c.goto(&format!(
        "{}ehr/launch?patient={}&patient={}",
        stack.ehr_url, first.id, second.id
    ))
    .await
    .unwrap();
    let name_in = |frame: &'static str| async move {
        c.enter_parent_frame().await.ok();
        c.find(Locator::Id(frame))
            .await
            .unwrap()
            .enter_frame()
            .await
            .unwrap();
        text_of(c, ".banner__name").await
    };
    assert_eq!(name_in("app").await, first.name);
    assert_eq!(name_in("app-2").await, second.name);

    // Reload the first instance: its token was only in memory, so it must ask for a relaunch.
    c.enter_parent_frame().await.unwrap();
    c.find(Locator::Id("app"))
        .await
        .unwrap()
        .enter_frame()
        .await
        .unwrap();
    let search = c.execute("return location.search", vec![]).await.unwrap();
    assert!(
        search.as_str().unwrap().starts_with("?instance="),
        "{search}"
    );
    c.execute("location.reload()", vec![]).await.unwrap();
    assert_eq!(
        text_of(c, ".problem__title").await,
        "This Cairn window was reloaded"
    );
    let page = c.source().await.unwrap();
    assert!(
        !page.contains(&second.name),
        "the reloaded instance shows the other patient"
    );
    let banners = c.find_all(Locator::Css(".banner")).await.unwrap();
    assert!(
        banners.is_empty(),
        "a reloaded instance shows no patient at all"
    );
    screenshot(c, "two-instances-after-reload").await;

    // The second instance is untouched.
    c.enter_parent_frame().await.unwrap();
    c.find(Locator::Id("app-2"))
        .await
        .unwrap()
        .enter_frame()
        .await
        .unwrap();
    assert_eq!(text_of(c, ".banner__name").await, second.name);
    c.enter_parent_frame().await.unwrap();
    screenshot(c, "two-instances").await;
    c.clone().close().await.unwrap();
}

/// The deployment headers work in a real browser: the CSP stops a request to an origin the
/// configuration does not list, and a page on an unlisted origin cannot frame Cairn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csp_blocks_unlisted_origins_and_foreign_framing() {
    let stack = start_stack().await;
    let app_port: u16 = stack
        .app_url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Another "EHR" whose pages frame Cairn, on an origin Cairn's configuration does not list.
    let evil_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let evil_port = evil_listener.local_addr().unwrap().port();
    let evil = sandbox::Ehr::new(sandbox::Config::dev(evil_port, app_port));
    tokio::spawn(evil.clone().serve(evil_listener));
    let b = browser().await;
    let c = &b.client;

    c.goto(&stack.launch_page()).await.unwrap();
    text_of(c, ".screen--start").await;
    let outcome = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             let violated = null;
             document.addEventListener('securitypolicyviolation', e => { violated = e.effectiveDirective; });
             fetch(arguments[0]).then(() => done('fetched'), () => setTimeout(() => done('blocked:' + violated), 50));",
            vec![json!(format!("http://127.0.0.1:{evil_port}/fhir/metadata"))],
        )
        .await
        .unwrap();
    assert_eq!(outcome, json!("blocked:connect-src"));
    assert!(evil.requests().is_empty(), "{:#?}", evil.requests());

    // Framed by the configured EHR: Cairn runs (the other tests launch that way). Framed by
    // the unlisted one: the browser refuses to render it, so it never starts.
    let patient = &evil.patients()[0];
    c.goto(&format!(
        "http://127.0.0.1:{evil_port}/ehr/launch?patient={}",
        patient.id
    ))
    .await
    .unwrap();
    c.find(Locator::Id("app"))
        .await
        .unwrap()
        .enter_frame()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let framed = c.execute("return location.href", vec![]).await.unwrap();
    assert!(
        framed.as_str().unwrap().starts_with("chrome-error:"),
        "{framed}"
    );
    c.enter_parent_frame().await.unwrap();
    screenshot(c, "framed-by-unlisted-origin").await;
    let after_page = evil.requests();
    assert!(
        after_page
            .iter()
            .all(|r| r.path_and_query.starts_with("/ehr/launch")
                || r.path_and_query == "/favicon.ico"),
        "Cairn ran inside the unlisted frame: {after_page:#?}"
    );
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
    // The patient's own latest weight, as recorded, and no encounter list (not granted).
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
            as_shown(&weight["valueQuantity"]["value"]),
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
        .at_most(Duration::from_secs(10))
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

/// A callback replayed (Back, reload of an old address, the link opened again) finds its
/// `state` already used: Cairn refuses it without calling the token endpoint again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_callback_is_refused_without_a_second_exchange() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[0];
    open_chart(c, &stack, &patient.name).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    let log = stack.ehr.requests();
    let authorize = log
        .iter()
        .find(|r| r.path_and_query.starts_with("/oauth2/authorize?"))
        .unwrap();
    let state = url::form_urlencoded::parse(authorize.path_and_query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let replay = format!(
        "{}?code=replayed-code&state={}&iss={}",
        stack.app_url,
        sandbox::url_encode(&state),
        sandbox::url_encode(&stack.ehr.issuer())
    );
    c.execute("location.assign(arguments[0])", vec![json!(replay)])
        .await
        .unwrap();
    assert_eq!(
        text_of(c, ".problem__title").await,
        "This sign-in cannot be used"
    );
    assert_address_is_clean(c).await;
    assert_eq!(count(&stack.ehr.requests(), "POST", "/oauth2/token"), 1);
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

/// Trunk marks the JS and the wasm with sha384 Subresource Integrity (matrix #31); the two
/// scripts are inline (the browser check and Trunk's loader), each allowed by its hash in the
/// CSP.
#[test]
fn the_release_carries_subresource_integrity() {
    let dist =
        PathBuf::from(std::env::var("CAIRN_DIST").expect("CAIRN_DIST is set by cargo xtask test"));
    let html = std::fs::read_to_string(dist.join("index.html")).unwrap();
    for (prefix, suffix) in [("/cairn-", ".js\""), ("/cairn-", "_bg.wasm\"")] {
        let tag = html
            .split('<')
            .find(|tag| {
                tag.split(prefix).nth(1).is_some_and(|rest| {
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .ends_with(suffix)
                })
            })
            .unwrap_or_else(|| panic!("no tag for {prefix}…{suffix} in {html}"));
        let asset = prefix;
        assert!(tag.contains("integrity=\"sha384-"), "{asset}: {tag}");
    }
    assert_eq!(html.matches("<script").count(), 2, "{html}");
    assert!(
        !html.split("<script").skip(1).any(|tag| tag
            .split('>')
            .next()
            .unwrap_or_default()
            .contains("src=")),
        "a script is loaded by src, which would hold up the page: {html}"
    );
}

/// After an EHR launch the chart shows this patient's own vital signs, lab results and
/// encounters, with the values of the underlying record (issue 4), and an encounter's own
/// observations when it is chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_shows_the_patients_vitals_labs_and_encounters() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[1];
    let observations = stack.ehr.resources_of("Observation", &patient.id);
    let encounters = stack.ehr.resources_of("Encounter", &patient.id);
    open_chart(c, &stack, &patient.name).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    wait_until_loaded(c).await;

    // The latest body weight, as recorded.
    let latest = |code: &str| {
        observations
            .iter()
            .filter(|o| o["code"]["coding"][0]["code"] == code)
            .max_by_key(|o| {
                o["effectiveDateTime"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .cloned()
    };
    let heart = latest("29463-7").expect("the patient has body weights");
    let expected = format!(
        "{} {}",
        as_shown(&heart["valueQuantity"]["value"]),
        heart["valueQuantity"]["unit"].as_str().unwrap()
    );
    assert_eq!(
        text_of(c, ".vital[data-kind='Weight'] .vital__value").await,
        expected
    );
    // Shown as `YYYY-MM-DD hh:mm` (Synthea writes UTC offsets).
    let when = heart["effectiveDateTime"].as_str().unwrap();
    assert_eq!(
        text_of(c, ".vital[data-kind='Weight'] .vital__when").await,
        format!("{} {}", &when[..10], &when[11..16])
    );

    // One laboratory test: its latest value in the results table.
    let lab = observations
        .iter()
        .find(|o| {
            o["category"][0]["coding"][0]["code"] == "laboratory"
                && o["valueQuantity"]["value"].is_number()
        })
        .expect("the patient has lab results");
    let code = lab["code"]["coding"][0]["code"].as_str().unwrap();
    let lab = latest(code).unwrap();
    let expected = format!(
        "{} {}",
        as_shown(&lab["valueQuantity"]["value"]),
        lab["valueQuantity"]["unit"].as_str().unwrap()
    );
    assert_eq!(
        text_of(c, &format!("tr[data-test='loinc:{code}'] .lab__value")).await,
        expected
    );

    // A result of a category with no view of its own (smoking status, a survey) is in the
    // table of all results, with its kind and coded value; found by the filter.
    let survey = observations
        .iter()
        .find(|o| o["category"][0]["coding"][0]["code"] == "survey")
        .expect("the patient has survey answers");
    let code = survey["code"]["coding"][0]["code"].as_str().unwrap();
    let survey = latest(code).unwrap();
    let text = |concept: &serde_json::Value| {
        concept["text"]
            .as_str()
            .or(concept["coding"][0]["display"].as_str())
            .unwrap()
            .to_owned()
    };
    let (label, value) = (text(&survey["code"]), text(&survey["valueCodeableConcept"]));
    let filter = c.find(Locator::Css(".all__filter")).await.unwrap();
    filter.send_keys(&label).await.unwrap();
    let first_row = text_of(c, ".all tr.row").await;
    assert!(
        first_row.contains(&label) && first_row.contains(&value) && first_row.contains("Survey"),
        "{first_row:?} should show {label} {value} (Survey)"
    );
    filter.clear().await.unwrap();

    // Every encounter once, newest first.
    let rows = c.find_all(Locator::Css(".encounter")).await.unwrap();
    assert_eq!(rows.len(), encounters.len());
    let newest = encounters
        .iter()
        .map(|e| e["period"]["start"].as_str().unwrap_or_default().to_owned())
        .max()
        .unwrap();
    assert_eq!(
        text_of(c, ".encounter .encounter__when").await,
        newest[..10]
    );
    screenshot(c, "chart-ehr-frame").await;

    // Choosing an encounter shows its own observations, of every category.
    let first = &rows[0];
    let id = first.attr("data-encounter").await.unwrap().unwrap();
    first.click().await.unwrap();
    text_of(c, ".encounter-detail").await;
    wait_until_loaded(c).await;
    let own = observations
        .iter()
        .filter(|o| {
            o["encounter"]["reference"]
                .as_str()
                .is_some_and(|r| r.ends_with(&id))
        })
        .count();
    let shown = c
        .find_all(Locator::Css(".encounter-detail__observations tr"))
        .await
        .unwrap()
        .len();
    assert_eq!(shown, own);
    assert!(stack.ehr.requests().iter().any(|r| {
        r.path_and_query
            .contains(&format!("encounter=Encounter%2F{id}"))
    }));
    assert_canary_contained(c, &stack).await;
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
    assert!(notice.contains("could not be read"), "{notice}");
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

/// The chart works from the keyboard alone: Tab shows where focus is, Enter chooses an
/// encounter and focus lands on its detail, Enter sorts a column, and the keys scroll the
/// table of all results, which draws the rows brought into view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_works_from_the_keyboard() {
    const ENTER: &str = "\u{E007}";
    const TAB: &str = "\u{E004}";
    const END: &str = "\u{E010}";
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, sandbox::Ehr::scale_patient_id()).await;
    wait_until_loaded(c).await;
    let js = |script: &'static str| async move {
        c.execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    };

    // Tab from the results filter: the next control shows a visible focus ring.
    c.find(Locator::Css(".all__filter"))
        .await
        .unwrap()
        .send_keys(TAB)
        .await
        .unwrap();
    let ring = js("const a = document.activeElement; \
        return [a.className, a.matches(':focus-visible'), getComputedStyle(a).outlineStyle]")
    .await;
    assert_eq!(ring[0], "all__scroll", "{ring}");
    assert_eq!(ring[1], true, "{ring}");
    assert_ne!(ring[2], "none", "{ring}");

    // End scrolls the focused table to the oldest results, and those rows are drawn.
    let first_before = text_of(c, ".all tr.row").await;
    c.active_element()
        .await
        .unwrap()
        .send_keys(END)
        .await
        .unwrap();
    let mut last = String::new();
    for _ in 0..50 {
        last = js("const r = document.querySelectorAll('.all tr.row'); \
            return r.length ? r[r.length - 1].textContent : ''")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned();
        if last.starts_with("2015") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let scroll = js("const s = document.querySelector('.all__scroll'); return [s.scrollTop, s.scrollHeight, s.clientHeight, document.querySelector('.all__count').textContent]").await;
    assert!(
        last.starts_with("2015"),
        "the last row after End: {last:?} (scrollTop, scrollHeight, clientHeight, count: {scroll})"
    );
    assert_ne!(text_of(c, ".all tr.row").await, first_before);
    let rows = c.find_all(Locator::Css(".all tr.row")).await.unwrap().len();
    assert!(rows <= 40, "{rows} rows drawn for a 480 px window");

    // Enter on a sort button sorts by that column.
    let test_header = c
        .find(Locator::Css(".all th:nth-child(2) .sort"))
        .await
        .unwrap();
    test_header.send_keys(ENTER).await.unwrap();
    let th = c.find(Locator::Css(".all th:nth-child(2)")).await.unwrap();
    assert_eq!(
        th.attr("aria-sort").await.unwrap().as_deref(),
        Some("ascending")
    );

    // Enter on an encounter opens it, marks it current, and moves focus to its detail.
    let row = c.find(Locator::Css(".encounter")).await.unwrap();
    row.send_keys(ENTER).await.unwrap();
    text_of(c, ".encounter-detail").await;
    assert_eq!(
        row.attr("aria-current").await.unwrap().as_deref(),
        Some("true")
    );
    let focused = js("return document.activeElement.id").await;
    assert_eq!(focused, "encounter-detail-title");
    c.clone().close().await.unwrap();
}

/// The chart at the three sizes it is used at: a phone, Epic's embedded frame (900×600) and a
/// desktop window. At each, no view scrolls the page sideways; screenshots of the top of the
/// chart, the results and an open encounter go to `target/e2e/` to be looked at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_fits_a_phone_an_ehr_frame_and_a_desktop() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = stack.ehr.patients()[1].id.clone();
    // (name, window, the frame's own size inside the EHR page)
    let sizes = [
        ("phone", (390, 844), None),
        ("frame", (1280, 800), Some((900, 600))),
        ("desktop", (1280, 800), None),
    ];
    for (name, (w, h), frame) in sizes {
        c.set_window_size(w, h).await.unwrap();
        c.goto(&format!("{}ehr/launch?patient={patient}", stack.ehr_url))
            .await
            .unwrap();
        let iframe = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Id("app"))
            .await
            .unwrap();
        if let Some((fw, fh)) = frame {
            c.execute(
                "arguments[0].style.cssText = `flex: none; width: ${arguments[1]}px; \
                 height: ${arguments[2]}px`",
                vec![serde_json::to_value(&iframe).unwrap(), json!(fw), json!(fh)],
            )
            .await
            .unwrap();
        }
        iframe.enter_frame().await.unwrap();
        wait_until_loaded(c).await;
        let fits = || async {
            c.execute(
                "return [document.documentElement.scrollWidth, window.innerWidth]",
                vec![],
            )
            .await
            .unwrap()
        };
        let wide = fits().await;
        assert!(wide[0].as_u64() <= wide[1].as_u64(), "{name}: {wide}");
        screenshot(c, &format!("size-{name}-chart")).await;
        c.execute(
            "document.querySelector('.section--all').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
        screenshot(c, &format!("size-{name}-results")).await;
        click(c, ".encounter").await;
        text_of(c, ".encounter-detail").await;
        wait_until_loaded(c).await;
        let wide = fits().await;
        assert!(
            wide[0].as_u64() <= wide[1].as_u64(),
            "{name}, encounter: {wide}"
        );
        screenshot(c, &format!("size-{name}-encounter")).await;
        c.enter_parent_frame().await.unwrap();
    }
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

/// Hostile record content renders as text (matrix #36): a script-like name, code text and
/// string values appear literally, no element is created from them and no script runs; a
/// partial date is shown at its precision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_record_content_is_shown_as_text() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, sandbox::Ehr::hostile_patient_id()).await;
    let name = text_of(c, ".banner__name").await;
    assert!(name.contains("<img src=x onerror=alert(1)>"), "{name}");
    wait_until_loaded(c).await;
    let injected = c
        .execute(
            "return document.querySelectorAll('.cairn img, .cairn script, .cairn iframe, .cairn svg image').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(injected, json!(0));
    let page = c.source().await.unwrap();
    assert!(
        !page.contains("<script>alert"),
        "markup from the record was parsed"
    );
    assert!(
        c.get_alert_text().await.is_err(),
        "a script from the record ran"
    );
    screenshot(c, "hostile-record").await;
    c.clone().close().await.unwrap();
}

/// The 10 000-observation patient: every result reaches the all-results table, but only the
/// rows in sight are in the page; scrolling, sorting and filtering work on all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_results_scroll_in_a_small_window() {
    let stack = start_stack().await;
    let id = sandbox::Ehr::scale_patient_id();
    let observations = stack.ehr.resources_of("Observation", id);
    let total = observations.len();
    assert_eq!(total, 10_000);
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, id).await;
    text_of(c, ".all__count").await;
    wait_until_loaded(c).await;
    assert_eq!(
        text_of(c, ".all__count").await,
        format!("{total} of {total} results")
    );
    let drawn = || async {
        c.find_all(Locator::Css(".all tbody tr.row"))
            .await
            .unwrap()
            .len()
    };
    let rows = drawn().await;
    assert!((10..=300).contains(&rows), "{rows} rows in the DOM");

    // Scrolled to the end: the oldest result, and still a small window.
    let oldest = observations
        .iter()
        .filter_map(|o| o["effectiveDateTime"].as_str())
        .min()
        .unwrap()
        .to_owned();
    c.execute(
        "const s = document.querySelector('.all__scroll'); s.scrollTop = s.scrollHeight;",
        vec![],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let last = c
        .execute(
            "const r = document.querySelectorAll('.all tbody tr.row'); return r[r.length - 1].cells[0].textContent",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        last.as_str().unwrap(),
        format!("{} {}", &oldest[..10], &oldest[11..16])
    );
    assert!(drawn().await <= 300);
    screenshot(c, "all-results-scrolled").await;

    // Filtering finds every glucose result among the ten thousand.
    let glucose = observations
        .iter()
        .filter(|o| {
            o["code"]["coding"][0]["display"]
                .as_str()
                .is_some_and(|d| d.to_lowercase().contains("glucose"))
        })
        .count();
    let filter = c.find(Locator::Css(".all__filter")).await.unwrap();
    filter.send_keys("glucose").await.unwrap();
    let shown = format!("{glucose} of {total} results");
    for _ in 0..100 {
        if text_of(c, ".all__count").await == shown {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(text_of(c, ".all__count").await, shown);
    assert!(drawn().await <= 300);
    c.clone().close().await.unwrap();
}

/// The encounter list filters by status, class and a partial-date range, over all 200 of the
/// scale patient's encounters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encounters_filter_by_status_class_and_dates() {
    let stack = start_stack().await;
    let id = sandbox::Ehr::scale_patient_id();
    let encounters = stack.ehr.resources_of("Encounter", id);
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, id).await;
    text_of(c, ".encounters").await;
    wait_until_loaded(c).await;
    let shown = || async { c.find_all(Locator::Css(".encounter")).await.unwrap().len() };
    assert_eq!(shown().await, encounters.len());

    let count = |f: &dyn Fn(&serde_json::Value) -> bool| encounters.iter().filter(|e| f(e)).count();
    let choose = |css: &'static str, value: String| async move {
        c.execute(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change'));",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    choose(".filter__status", "cancelled".into()).await;
    let cancelled = count(&|e| e["status"] == "cancelled");
    assert!(cancelled > 0);
    assert_eq!(shown().await, cancelled);
    choose(".filter__status", String::new()).await;

    let class = encounters[0]["class"]["code"].as_str().unwrap().to_owned();
    choose(".filter__class", class.clone()).await;
    assert_eq!(
        shown().await,
        count(&|e| e["class"]["code"] == class.as_str())
    );
    choose(".filter__class", String::new()).await;

    for (css, value) in [(".filter__from", "2024"), (".filter__to", "2024")] {
        c.find(Locator::Css(css))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let in_2024 = count(&|e| {
        e["period"]["start"]
            .as_str()
            .is_some_and(|s| s.starts_with("2024"))
    });
    assert!(in_2024 > 0 && in_2024 < encounters.len());
    assert_eq!(shown().await, in_2024);
    c.clone().close().await.unwrap();
}

/// Every screen passes axe-core without serious or critical violations: the start page, the
/// chart with an encounter open (inside the EHR's frame), the clinician's search with results,
/// and a problem screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_passes_axe() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let mut failures = Vec::new();

    c.goto(&stack.launch_page()).await.unwrap();
    text_of(c, ".system__name").await;
    failures.extend(
        axe_violations(c)
            .await
            .into_iter()
            .map(|v| format!("start: {v}")),
    );

    let patient = &stack.ehr.patients()[1];
    open_chart(c, &stack, &patient.name).await;
    text_of(c, ".banner__name").await;
    wait_until_loaded(c).await;
    click(c, ".encounter").await;
    text_of(c, ".encounter-detail").await;
    wait_until_loaded(c).await;
    failures.extend(
        axe_violations(c)
            .await
            .into_iter()
            .map(|v| format!("chart: {v}")),
    );

    sign_in_as_clinician(c, &stack).await;
    let (given, family) = split_name(&patient.name);
    search_by_name(c, family, given, &patient.birth_date).await;
    text_of(c, ".result").await;
    failures.extend(
        axe_violations(c)
            .await
            .into_iter()
            .map(|v| format!("search: {v}")),
    );

    stack.ehr.inject(sandbox::Fault::AccessDenied);
    open_chart(c, &stack, &patient.name).await;
    text_of(c, ".problem__title").await;
    failures.extend(
        axe_violations(c)
            .await
            .into_iter()
            .map(|v| format!("problem: {v}")),
    );

    assert!(failures.is_empty(), "{failures:#?}");
    c.clone().close().await.unwrap();
}

/// The EHR opens the launch page (`launch.html`), a small app of its own; while the sign-in is
/// under way it has the browser fetch the full app (`<link rel="prefetch">`), so the callback
/// page's script and wasm come from the HTTP cache: nothing is transferred for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_ehr_launch_the_callback_page_finds_the_app_in_the_cache() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[1];
    open_chart_of(c, &stack, &patient.id).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    let page = c.execute("return location.pathname", vec![]).await.unwrap();
    assert_eq!(page, json!("/"));
    let entries = c
        .execute(
            "return performance.getEntriesByType('resource')
               .filter(e => /\\/cairn-[0-9a-f]+(_bg\\.wasm|\\.js)$/.test(e.name))
               .map(e => [e.name.split('/').pop(), e.transferSize, e.deliveredType || ''])",
            vec![],
        )
        .await
        .unwrap();
    let entries = entries.as_array().expect("resource timing entries");
    assert_eq!(entries.len(), 2, "the app's script and wasm: {entries:?}");
    for entry in entries {
        assert_eq!(
            entry[1],
            json!(0),
            "transferred, not from the cache: {entry}"
        );
    }
    c.clone().close().await.unwrap();
}
