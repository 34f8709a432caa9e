//! End to end in Chromium: the security defences a user cannot see. Two instances for two
//! patients never cross; the CSP blocks unlisted origins and foreign framing; a replayed
//! callback is refused; the release carries Subresource Integrity; hostile record content is
//! text; and docs/security.md #41 (mix-up between configured servers, RFC 9700 §4.4) and #42 (a
//! pending launch rewritten by another script of Cairn's origin), against two development EHRs,
//! one of them hostile.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;
use support::*;
use tokio::net::TcpListener;

/// The hostile second server's mix-up: its authorize sends the browser on to the honest EHR's,
/// with the honest client id, `aud` and registered redirect URI (and Cairn's state and PKCE
/// challenge), naming `issuer` in its discovery.
fn mix_up(two: &TwoServers, issuer: Option<String>) -> sandbox::MixUp {
    let honest = &two.stack.ehr;
    sandbox::MixUp {
        authorize: format!("{}/oauth2/authorize", honest.config().origin),
        aud: honest.fhir_base(),
        client_id: honest.config().client_id.clone(),
        redirect_uri: honest.config().redirect_uri.clone(),
        issuer,
    }
}

/// Opens Cairn top-level with a bare EHR-launch link naming `fhir_base` as `iss` and `launch`.
async fn bare_link(c: &fantoccini::Client, two: &TwoServers, fhir_base: &str, launch: &str) {
    c.goto(&format!(
        "{}?iss={}&launch={}",
        two.stack.app_url,
        sandbox::url_encode(fhir_base),
        sandbox::url_encode(launch)
    ))
    .await
    .unwrap();
}

/// No request that could carry a code or a verifier reached `ehr`: no token request of any kind
/// (a preflight included), and no code in any address it was sent.
fn assert_nothing_spent_at(ehr: &sandbox::Ehr, who: &str) {
    for request in ehr.requests() {
        assert!(
            !request.path_and_query.starts_with("/oauth2/token"),
            "{who} received {request:?}"
        );
        assert!(
            !request.path_and_query.contains("code="),
            "{who} received {request:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_server_naming_no_issuer_never_gets_the_code_or_the_verifier() {
    let two = start_two_servers(|_| {}).await;
    two.second.set_mix_up(Some(mix_up(&two, None)));
    let patient = &two.stack.ehr.patients()[0];
    // The honest EHR's launch, opened through the hostile server (a bare link).
    let launch = two.stack.ehr.create_launch(&patient.id).unwrap();
    let b = browser().await;
    let c = &b.client;
    bare_link(c, &two, &two.second.fhir_base(), &launch).await;
    let title = text_of(c, ".problem__title").await;
    // The attack ran: the honest EHR issued a code for the bounced request…
    assert_eq!(
        count(&two.stack.ehr.requests(), "GET", "/oauth2/authorize?"),
        1
    );
    assert_eq!(
        count(&two.second.requests(), "GET", "/oauth2/authorize?"),
        1
    );
    // …and Cairn spent it nowhere.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_nothing_spent_at(&two.second, "the hostile server");
    assert_nothing_spent_at(&two.stack.ehr, "the honest server");
    assert_eq!(title, "This sign-in cannot be used");
    let detail = text_of(c, ".problem__detail").await;
    assert!(
        detail.contains("came from a different sign-in server than expected"),
        "{detail}"
    );
    assert_address_is_clean(c).await;
    c.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_server_naming_the_honest_issuer_is_refused_before_authorize() {
    let two = start_two_servers(|_| {}).await;
    let honest_issuer = two.stack.ehr.issuer();
    two.second
        .set_mix_up(Some(mix_up(&two, Some(honest_issuer))));
    let patient = &two.stack.ehr.patients()[0];
    let launch = two.stack.ehr.create_launch(&patient.id).unwrap();
    let b = browser().await;
    let c = &b.client;
    bare_link(c, &two, &two.second.fhir_base(), &launch).await;
    let title = text_of(c, ".problem__title").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_nothing_spent_at(&two.second, "the hostile server");
    // Refused after discovery: the browser never went to either authorize.
    assert_eq!(count(&two.second.requests(), "GET", "/oauth2/authorize"), 0);
    assert_eq!(
        count(&two.stack.ehr.requests(), "GET", "/oauth2/authorize"),
        0
    );
    assert_eq!(title, "Your EHR's sign-in settings are not safe to use");
    let detail = text_of(c, ".problem__detail").await;
    assert!(
        detail.contains("which is not one Cairn's settings trust for it"),
        "{detail}"
    );
    c.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_its_own_redirect_uri_and_pinned_issuer_signs_in() {
    // The second server, honest, with the redirect URI it registered (`<app>/index.html`) and
    // its issuer pinned.
    let two = start_two_servers(|config| {
        let server = &mut config["fhir_servers"][1];
        let base = server["fhir_base"].as_str().unwrap().to_owned();
        let origin = base.trim_end_matches("/fhir");
        server["issuer"] = json!(format!("{origin}/oauth2"));
        let app = config["redirect_uri"].as_str().unwrap().to_owned();
        config["fhir_servers"][1]["redirect_uri"] = json!(format!("{app}index.html"));
    })
    .await;
    let patient = &two.second.patients()[0];
    let launch = two.second.create_launch(&patient.id).unwrap();
    let b = browser().await;
    let c = &b.client;
    bare_link(c, &two, &two.second.fhir_base(), &launch).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    let path = c.execute("return location.pathname", vec![]).await.unwrap();
    assert_eq!(path, json!("/index.html"));
    assert_eq!(count(&two.second.requests(), "POST", "/oauth2/token"), 1);
    assert_nothing_spent_at(&two.stack.ehr, "the other server");
    c.clone().close().await.unwrap();
}

/// Rewrites every pending launch in sessionStorage with `edit` (JavaScript statements on `p`)
/// on the callback page, before Cairn's own script runs: what any other script of Cairn's
/// origin could do.
fn rewrite_pending_on_callback(app_origin: &str, edit: &str) -> String {
    format!(
        "if (location.origin === {origin:?} && /[?&]code=/.test(location.search)) {{
           for (let i = 0; i < sessionStorage.length; i++) {{
             const k = sessionStorage.key(i);
             if (k.startsWith('cairn.pending.')) {{
               const p = JSON.parse(sessionStorage.getItem(k));
               {edit}
               sessionStorage.setItem(k, JSON.stringify(p));
             }}
           }}
         }}",
        origin = app_origin.trim_end_matches('/'),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_pending_launch_is_refused_before_any_token_request() {
    let two = start_two_servers(|_| {}).await;
    let second_token = format!("{}/oauth2/token", two.second.config().origin);
    let cases = [
        // The code and verifier sent to another configured server's token endpoint.
        format!("p.token_endpoint = {second_token:?};"),
        // Or to the right server under another client id.
        "p.client_id = 'cairn-second';".to_owned(),
    ];
    for edit in cases {
        let b = browser().await;
        let c = &b.client;
        c.issue_cmd(before_every_page(rewrite_pending_on_callback(
            &two.stack.app_url,
            &edit,
        )))
        .await
        .unwrap();
        let tokens_before = count(&two.stack.ehr.requests(), "POST", "/oauth2/token");
        let patient = &two.stack.ehr.patients()[0];
        let launch = two.stack.ehr.create_launch(&patient.id).unwrap();
        bare_link(c, &two, &two.stack.ehr.fhir_base(), &launch).await;
        let title = text_of(c, ".problem__title").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_nothing_spent_at(&two.second, "the other server");
        assert_eq!(
            count(&two.stack.ehr.requests(), "POST", "/oauth2/token"),
            tokens_before,
            "{edit}: a token request reached the honest server"
        );
        assert_eq!(title, "This sign-in cannot be used", "{edit}");
        let detail = text_of(c, ".problem__detail").await;
        assert!(
            detail.contains("no longer matches Cairn's settings"),
            "{edit}: {detail}"
        );
        assert_address_is_clean(c).await;
        c.clone().close().await.unwrap();
    }
}

/// docs/security.md #44: the token endpoint answers the code exchange with a 307 to another
/// path. Cairn does not follow it: the code and verifier never reach the redirect's target, and
/// the user gets a plain message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_the_token_endpoint_is_not_followed() {
    let stack = start_stack().await;
    stack.ehr.inject(sandbox::Fault::TokenRedirect);
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[0];
    open_chart(c, &stack, &patient.name).await;
    wait_for_log(&stack, |log| count(log, "POST", "/oauth2/token") >= 1).await;
    // Time for a followed redirect to arrive, before the message (which a follower never shows).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log = stack.ehr.requests();
    let elsewhere = count(&log, "POST", "/oauth2/token-elsewhere");
    let token_posts = count(&log, "POST", "/oauth2/token") - elsewhere;
    assert_eq!(
        elsewhere, 0,
        "the code and verifier were re-posted to the redirect's target: {log:#?}"
    );
    assert_eq!(token_posts, 1, "{log:#?}");
    wait_for_text(c, ".problem__title", "Cairn stopped a request").await;
    let detail = text_of(c, ".problem__detail").await;
    assert!(detail.contains("another address"), "{detail:?}");
    assert_eq!(
        text_of(c, ".problem__next").await,
        "Contact your support desk and tell them what this page says."
    );
    assert_no_token_in_storage(c).await;
    c.clone().close().await.unwrap();
}

/// docs/security.md #46: searches that also return another patient's encounters and
/// observations (development-EHR fault `fhir_leak_other_patient`). None of them is shown, and
/// the user is told that results were left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_patients_results_are_never_shown() {
    let stack = start_stack().await;
    stack.ehr.inject(sandbox::Fault::FhirLeakOtherPatient);
    let patients = stack.ehr.patients();
    let (patient, other) = (&patients[0], &patients[1]);
    let own = stack.ehr.resources_of("Encounter", &patient.id);
    let leaked = stack.ehr.resources_of("Encounter", &other.id);
    assert!(!own.is_empty() && !leaked.is_empty());
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, &patient.id).await;
    wait_until_loaded(c).await;
    // The EHR did send the other patient's rows.
    let log = stack.ehr.requests();
    assert!(count(&log, "GET", "/fhir/Encounter?") >= 1, "{log:#?}");
    show_section(c, "encounters").await;
    let rows = c
        .find_all(fantoccini::Locator::Css(".encounter"))
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        own.len(),
        "another patient's encounters are shown ({} leaked by the EHR)",
        leaked.len()
    );
    let mut notices = Vec::new();
    for notice in c
        .find_all(fantoccini::Locator::Css(".notice--partial"))
        .await
        .unwrap()
    {
        notices.push(notice.text().await.unwrap());
    }
    assert!(
        notices.iter().any(|n| n.contains(&format!(
            "{} results from your EHR were left out: they were not for this patient",
            leaked.len()
        ))),
        "{notices:#?}"
    );
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
    let outcome = page_fetch(c, &format!("http://127.0.0.1:{evil_port}/fhir/metadata")).await;
    assert_eq!(outcome, "blocked:connect-src");
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

/// docs/security.md #29: on a host that ignores `_headers`, the policy in the pages' `<meta>`
/// still applies: Cairn starts and signs in under it (its inline scripts allowed by hash, its
/// EHR by `connect-src`), and a request to an origin the configuration does not list is
/// blocked by `connect-src`. (`frame-ancestors` cannot be in a `<meta>`: such a host lets any
/// page frame Cairn, as docs/deploy.md says.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_own_policy_applies_when_the_host_sends_no_headers() {
    let stack = start_stack_without_headers().await;
    let (status, headers) = http_get(app_port(&stack), "/launch.html").await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-security-policy"), None);
    let b = browser().await;
    let c = &b.client;
    c.goto(&stack.launch_page()).await.unwrap();
    text_of(c, ".screen--start").await;
    let unlisted = "http://127.0.0.1:9/fhir/metadata";
    let outcome = page_fetch(c, unlisted).await;
    assert_eq!(outcome, "blocked:connect-src");
    // The app itself runs under the policy: an EHR launch reaches the banner.
    let patient = &stack.ehr.patients()[0];
    open_chart(c, &stack, &patient.name).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    c.clone().close().await.unwrap();
}

fn app_port(stack: &Stack) -> u16 {
    stack
        .app_url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap()
}

/// A `fetch` of `url` made by the page: `fetched`, or `blocked:` and the CSP directive that
/// blocked it (`blocked:null` when the request failed without a policy violation).
async fn page_fetch(c: &fantoccini::Client, url: &str) -> String {
    c.execute_async(
        "const done = arguments[arguments.length - 1];
         let violated = null;
         document.addEventListener('securitypolicyviolation', e => { violated = e.effectiveDirective; });
         fetch(arguments[0]).then(() => done('fetched'), () => setTimeout(() => done('blocked:' + violated), 50));",
        vec![json!(url)],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap_or_default()
    .to_owned()
}
