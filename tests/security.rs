//! End to end in Chromium: the defences of docs/security.md #41 (mix-up between configured
//! servers, RFC 9700 §4.4) and #42 (a pending launch rewritten by another script of Cairn's
//! origin), against two development EHRs, one of them hostile.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

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
    assert!(!text_of(c, ".problem__next").await.is_empty());
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
    let outcome = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             let violated = null;
             document.addEventListener('securitypolicyviolation', e => { violated = e.effectiveDirective; });
             fetch(arguments[0]).then(() => done('fetched'), () => setTimeout(() => done('blocked:' + violated), 50));",
            vec![json!(unlisted)],
        )
        .await
        .unwrap();
    assert_eq!(outcome, json!("blocked:connect-src"));
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
