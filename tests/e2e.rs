//! End to end in real headless Chromium: the development EHR, Cairn's release build, an EHR
//! launch inside the EHR's iframe. Run by `cargo xtask test`, which builds `dist/` first and sets
//! `CAIRN_DIST`. Screenshots of each end state go to `target/e2e/`.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// The development EHR and Cairn, each on its own loopback origin.
struct Stack {
    ehr: sandbox::Ehr,
    ehr_url: String,
    app_url: String,
}

async fn start_stack() -> Stack {
    let dist = PathBuf::from(std::env::var("CAIRN_DIST").expect(
        "CAIRN_DIST is not set: run the end-to-end tests with `cargo xtask test`, which builds dist/",
    ));
    assert!(
        dist.join("index.html").exists(),
        "no release build in {}",
        dist.display()
    );
    let ehr_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ehr_port = ehr_listener.local_addr().unwrap().port();
    let app_port = app_listener.local_addr().unwrap().port();
    let ehr = sandbox::Ehr::new(sandbox::Config::dev(ehr_port, app_port));
    let config_json = sandbox::cairn_config_json(&ehr);
    tokio::spawn(ehr.clone().serve(ehr_listener));
    tokio::spawn(sandbox::apphost::serve(app_listener, dist, config_json));
    Stack {
        ehr,
        ehr_url: format!("http://127.0.0.1:{ehr_port}/"),
        app_url: format!("http://127.0.0.1:{app_port}/"),
    }
}

/// A private headless Chromium driven through ChromeDriver; both end with it.
struct Browser {
    client: Client,
    _driver: Child,
    _profile: TempDir,
}

async fn browser() -> Browser {
    let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into());
    let chromium = std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let driver = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
    let profile = TempDir::new();
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,800", "--no-first-run", "--disable-quic",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.0.display()),
            ]
        }
    });
    let caps: serde_json::Map<String, serde_json::Value> = caps.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{port}");
    let mut last_err = None;
    for _ in 0..100 {
        match ClientBuilder::rustls()
            .expect("rustls roots")
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Browser {
                    client,
                    _driver: driver,
                    _profile: profile,
                };
            }
            Err(e) => last_err = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("ChromeDriver did not start: {last_err:?}");
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let unique = format!(
            "cairn-e2e-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
        .text()
        .await
        .unwrap()
}

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
        stack.app_url,
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
        c.issue_cmd(BeforeEveryPage(script.to_owned()))
            .await
            .unwrap();
        let iss = stack.ehr.fhir_base();
        c.goto(&format!(
            "{}?launch=abc&iss={}",
            stack.app_url,
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

/// Chromium DevTools `Page.addScriptToEvaluateOnNewDocument`, through ChromeDriver: runs a
/// script before any of the page's own, to take browser features away.
#[derive(Debug)]
struct BeforeEveryPage(String);

impl fantoccini::wd::WebDriverCompatibleCommand for BeforeEveryPage {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({
            "cmd": "Page.addScriptToEvaluateOnNewDocument",
            "params": { "source": self.0 },
        });
        (http::Method::POST, Some(body.to_string()))
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
        (
            FhirUnauthorized,
            "Your session has ended",
            "no longer accepts",
            1,
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
        assert_address_is_clean(c).await;
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

    c.goto(&stack.app_url).await.unwrap();
    text_of(c, ".screen--welcome").await;
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
            .all(|r| r.path_and_query.starts_with("/ehr/launch")),
        "Cairn ran inside the unlisted frame: {after_page:#?}"
    );
    c.clone().close().await.unwrap();
}

/// After a callback the address bar holds at most `?instance=<22 base64url characters>`: never
/// the code, the state or an error from the authorization server.
async fn assert_address_is_clean(c: &Client) {
    let search = c.execute("return location.search", vec![]).await.unwrap();
    let search = search.as_str().unwrap_or_default().to_owned();
    let ok = search.is_empty()
        || search.strip_prefix("?instance=").is_some_and(|id| {
            id.len() == 22
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    assert!(ok, "the address bar still carries {search:?}");
}

/// On the EHR page, opens `name`'s chart and enters the frame Cairn runs in.
async fn open_chart(c: &Client, stack: &Stack, name: &str) {
    c.goto(&stack.ehr_url).await.unwrap();
    c.find(Locator::LinkText(name))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("app"))
        .await
        .unwrap()
        .enter_frame()
        .await
        .unwrap();
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|f| f.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
