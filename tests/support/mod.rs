//! What the Chromium end-to-end test binaries share: the development EHR and Cairn's release on
//! loopback origins, a private headless Chromium, and helpers that wait, click and read.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// The development EHR and Cairn, each on its own loopback origin.
pub struct Stack {
    pub ehr: sandbox::Ehr,
    pub ehr_url: String,
    pub app_url: String,
}

/// Cairn's launch page (EHR launch and standalone start page), beside the app's `index.html`
/// (the redirect URI).
pub const LAUNCH_PAGE: &str = "launch.html";

impl Stack {
    /// The launch page of the Cairn served at the root of `app_url`.
    pub fn launch_page(&self) -> String {
        format!("{}{LAUNCH_PAGE}", self.app_url)
    }
}

pub async fn start_stack() -> Stack {
    start_stack_in(false, |_| {}).await
}

/// The stack with the EHR in Epic mode or not, and Cairn configured for it, then as
/// `configure` changes that configuration.
pub async fn start_stack_in(epic: bool, configure: impl FnOnce(&mut serde_json::Value)) -> Stack {
    start_stack_with(epic, configure, true, |_| Duration::ZERO).await
}

/// The stack with Cairn's host answering each request for a path only `delay(path)` after it
/// arrived.
pub async fn start_stack_delaying(
    delay: impl Fn(&str) -> Duration + Clone + Send + Sync + 'static,
) -> Stack {
    start_stack_with(false, |_| {}, true, delay).await
}

/// The stack on a host that ignores `_headers`: Cairn's pages are served without any header
/// of the release, so only their `<meta>` policy applies.
pub async fn start_stack_without_headers() -> Stack {
    start_stack_with(false, |_| {}, false, |_| Duration::ZERO).await
}

async fn start_stack_with(
    epic: bool,
    configure: impl FnOnce(&mut serde_json::Value),
    host_sends_headers: bool,
    delay: impl Fn(&str) -> Duration + Clone + Send + Sync + 'static,
) -> Stack {
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
    ehr.set_epic_mode(epic);
    let config_json = if epic {
        sandbox::cairn_epic_config_json(&ehr)
    } else {
        sandbox::cairn_config_json(&ehr)
    };
    let mut config: serde_json::Value = serde_json::from_str(&config_json).unwrap();
    configure(&mut config);
    let config_json = config.to_string();
    // The release with this EHR's configuration, under the headers `cargo xtask dist` would
    // generate for it.
    let site = sandbox::apphost::Site {
        headers: if host_sends_headers {
            headers_file_for(&dist, &config_json, "/")
        } else {
            String::new()
        },
        page_policy: Some(page_policy_for(&dist, &config_json)),
        dist,
        base_path: "/".into(),
        config_json: Some(config_json),
    };
    tokio::spawn(ehr.clone().serve(ehr_listener));
    tokio::spawn(sandbox::apphost::serve_delaying(app_listener, site, delay));
    Stack {
        ehr,
        ehr_url: format!("http://127.0.0.1:{ehr_port}/"),
        app_url: format!("http://127.0.0.1:{app_port}/"),
    }
}

/// The `_headers` file for the release in `dist` served under `base_path` with `config_json`
/// instead of its own configuration: what `cargo xtask dist` writes, by the same code.
pub fn headers_file_for(dist: &std::path::Path, config_json: &str, base_path: &str) -> String {
    let config = cairn::smart::config::parse_config(config_json.as_bytes())
        .unwrap_or_else(|e| panic!("the test configuration is refused: {e}"));
    let files: Vec<String> = std::fs::read_dir(dist)
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.') && name != "_headers" && name != "nginx.conf")
        .filter(|name| !name.ends_with(".br") && !name.ends_with(".gz"))
        .collect();
    // Every page: one CSP allows the inline scripts of both.
    let mut index_html = std::fs::read_to_string(dist.join("index.html")).unwrap();
    for page in files
        .iter()
        .filter(|f| f.ends_with(".html") && *f != "index.html")
    {
        index_html.push_str(&std::fs::read_to_string(dist.join(page)).unwrap());
    }
    cairn::deploy::headers_file(&cairn::deploy::Release {
        config: &config,
        index_html: &index_html,
        files: &files,
        base_path,
    })
}

/// The pages' `<meta>` CSP for the release in `dist` with `config_json` instead of its own
/// configuration (see [`headers_file_for`]).
pub fn page_policy_for(dist: &std::path::Path, config_json: &str) -> String {
    let config = cairn::smart::config::parse_config(config_json.as_bytes()).unwrap();
    let mut pages = String::new();
    for name in ["index.html", "launch.html"] {
        pages.push_str(&std::fs::read_to_string(dist.join(name)).unwrap_or_default());
    }
    cairn::deploy::meta_csp(&config, &pages)
}

/// A private headless Chromium driven through ChromeDriver; both end with it.
pub struct Browser {
    pub client: Client,
    pub _driver: Child,
    pub _profile: TempDir,
}

pub async fn browser() -> Browser {
    browser_with_network_log(false).await
}

/// [`browser`], and with `network` also ChromeDriver's performance log of the DevTools
/// `Network` events (the benchmark's bytes and timings; see [`network_log`]).
pub async fn browser_with_network_log(network: bool) -> Browser {
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
        // Keep the page's console, so tests can check no token was ever logged.
        "goog:loggingPrefs": if network {
            json!({ "browser": "ALL", "performance": "ALL" })
        } else {
            json!({ "browser": "ALL" })
        },
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,800", "--no-first-run", "--disable-quic",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                // Exact `performance.memory` figures for the benchmark (bench/).
                "--enable-precise-memory-info",
                format!("--user-data-dir={}", profile.0.display()),
            ]
        }
    });
    let mut caps: serde_json::Map<String, serde_json::Value> = caps.as_object().unwrap().clone();
    if network {
        caps["goog:chromeOptions"]["perfLoggingPrefs"] =
            json!({ "enableNetwork": true, "enablePage": false });
    }
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

pub struct TempDir(pub PathBuf);

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

pub async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

pub async fn text_of(client: &Client, css: &str) -> String {
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

/// The token canary (matrix #22, #24, #16): the development EHR's tokens all contain
/// `CANARY`. None may appear in storage, cookies, the address bar, the console, or a `Referer`
/// the EHR received; and no request Cairn made carried a code or token in its URL.
pub async fn assert_canary_contained(c: &Client, stack: &Stack) {
    assert_no_token_in_storage(c).await;
    let url = c.current_url().await.unwrap();
    assert!(!url.as_str().contains("CANARY"), "{url}");
    let console = c.issue_cmd(browser_log()).await.unwrap();
    assert!(
        !console.to_string().contains("CANARY"),
        "a token reached the console: {console}"
    );
    for request in stack.ehr.requests() {
        let referer = request.referer.as_deref().unwrap_or_default();
        assert!(
            !referer.contains("CANARY") && !referer.contains("code="),
            "{request:?}"
        );
        assert!(!request.path_and_query.contains("CANARY"), "{request:?}");
        // Cairn sends no Referer at all, to the EHR or anywhere else.
        if request.origin.as_deref() == Some(stack.app_url.trim_end_matches('/')) {
            assert!(request.referer.is_none(), "{request:?}");
        }
    }
}

/// A ChromeDriver extension command: POST `body` to `session/{id}/{path}`.
#[derive(Debug)]
pub struct DriverPost {
    pub path: &'static str,
    pub body: serde_json::Value,
}

/// Chromium DevTools `Page.addScriptToEvaluateOnNewDocument`, through ChromeDriver: runs a
/// script before any of the page's own, to take browser features away.
pub fn before_every_page(script: String) -> DriverPost {
    DriverPost {
        path: "goog/cdp/execute",
        body: json!({
            "cmd": "Page.addScriptToEvaluateOnNewDocument",
            "params": { "source": script },
        }),
    }
}

/// Chromium DevTools `Network.enable`, which [`emulate_network`] needs first.
pub fn enable_network_domain() -> DriverPost {
    DriverPost {
        path: "goog/cdp/execute",
        body: json!({ "cmd": "Network.enable", "params": {} }),
    }
}

/// Chromium DevTools `Network.emulateNetworkConditions` for the current tab and its frames: a
/// latency added to every response and download and upload rates in bytes per second.
pub fn emulate_network(latency_ms: f64, down_bytes_per_s: f64, up_bytes_per_s: f64) -> DriverPost {
    DriverPost {
        path: "goog/cdp/execute",
        body: json!({
            "cmd": "Network.emulateNetworkConditions",
            "params": {
                "offline": false,
                "latency": latency_ms,
                "downloadThroughput": down_bytes_per_s,
                "uploadThroughput": up_bytes_per_s,
            },
        }),
    }
}

/// ChromeDriver's console log (`goog:loggingPrefs`): every message since the last call.
pub fn browser_log() -> DriverPost {
    DriverPost {
        path: "se/log",
        body: json!({ "type": "browser" }),
    }
}

/// ChromeDriver's performance log (with [`browser_with_network_log`]): the DevTools events
/// since the last call.
pub fn network_log() -> DriverPost {
    DriverPost {
        path: "se/log",
        body: json!({ "type": "performance" }),
    }
}

impl fantoccini::wd::WebDriverCompatibleCommand for DriverPost {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// After a callback the address bar holds at most `?instance=<22 base64url characters>` and a
/// chart section's fragment: never the code, the state or an error from the authorization
/// server.
pub async fn assert_address_is_clean(c: &Client) {
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
    // The fragment names a chart section, if anything: never a patient, a code or a token.
    let hash = c.execute("return location.hash", vec![]).await.unwrap();
    let hash = hash.as_str().unwrap_or_default();
    assert!(
        [
            "",
            "#summary",
            "#vitals",
            "#results",
            "#encounters",
            "#patient"
        ]
        .contains(&hash),
        "the address bar's fragment carries {hash:?}"
    );
}

/// On the EHR page, opens `name`'s chart and enters the frame Cairn runs in.
pub async fn open_chart(c: &Client, stack: &Stack, name: &str) {
    c.goto(&stack.ehr_url).await.unwrap();
    c.find(Locator::LinkText(name))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    enter_app_frame(c).await;
}

pub fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|f| f.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// "Given Family" (the EHR's patient list) as (given, family).
pub fn split_name(name: &str) -> (&str, &str) {
    let given = name.split(' ').next().unwrap_or_default();
    let family = name.rsplit(' ').next().unwrap_or_default();
    (given, family)
}

/// Fills the clinician's search form (family name, given name, birth date `YYYY-MM-DD`, sex as
/// a FHIR gender code or "" for any, MRN) and submits it. Empty fields are left empty.
pub async fn search_with(
    c: &Client,
    family: &str,
    given: &str,
    birth_date: &str,
    sex: &str,
    mrn: &str,
) {
    for (id, text) in [
        ("search-family", family),
        ("search-given", given),
        ("search-birth-date", birth_date),
        ("search-mrn", mrn),
    ] {
        let input = c
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Id(id))
            .await
            .unwrap();
        input.clear().await.unwrap();
        if !text.is_empty() {
            input.send_keys(text).await.unwrap();
        }
    }
    click(c, &format!("#search-sex option[value='{sex}']")).await;
    click(c, ".search button[type=submit]").await;
}

/// Searches by family name, given name and birth date (Epic's minimum data set).
pub async fn search_by_name(c: &Client, family: &str, given: &str, birth_date: &str) {
    search_with(c, family, given, birth_date, "", "").await;
}

/// Searches by medical record number alone.
pub async fn search_by_mrn(c: &Client, mrn: &str) {
    search_with(c, "", "", "", "", mrn).await;
}

/// Waits for `css` and clicks it.
pub async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

/// Requests in `log` with `method` whose path starts with `prefix`.
pub fn count(log: &[sandbox::LoggedRequest], method: &str, prefix: &str) -> usize {
    log.iter()
        .filter(|r| r.method == method && r.path_and_query.starts_with(prefix))
        .count()
}

/// Polls the EHR's request log until `done` holds (at most 30 s).
pub async fn wait_for_log(stack: &Stack, done: impl Fn(&[sandbox::LoggedRequest]) -> bool) {
    for _ in 0..300 {
        if done(&stack.ehr.requests()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the EHR never saw the expected requests: {:#?}",
        stack.ehr.requests()
    );
}

pub async fn assert_no_token_in_storage(c: &Client) {
    let storage = c
        .execute(
            "return JSON.stringify(sessionStorage) + JSON.stringify(localStorage) + document.cookie",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        !storage.to_string().contains("CANARY"),
        "a token reached storage: {storage}"
    );
}

/// Waits until no search of the chart is still loading (`data-loading`, whichever section is
/// shown), nor any shown progress (an encounter's observations).
pub async fn wait_until_loaded(c: &Client) {
    text_of(c, ".chart__body").await;
    for _ in 0..300 {
        if c.find_all(Locator::Css(".feed__progress, .chart__body[data-loading]"))
            .await
            .unwrap()
            .is_empty()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the chart never finished loading");
}

/// A recorded decimal as the chart shows it, worked out here by hand so that the chart's own
/// rounding is checked: `Some(d)`, rounded half up to `d` decimals (a vital sign's clinical
/// precision); `None`, as recorded unless it has more than four decimals, then to four
/// significant figures. Synthea writes plain positive decimals.
pub fn as_shown(number: &serde_json::Value, decimals: Option<usize>) -> String {
    let written = number.to_string();
    assert!(
        written.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
        "not a plain positive decimal: {written}"
    );
    let (whole, fraction) = written.split_once('.').unwrap_or((&written, ""));
    let decimals = match decimals {
        Some(d) => d,
        None if fraction.len() <= 4 => return written,
        None => {
            let magnitude = if whole.trim_start_matches('0').is_empty() {
                -(fraction.bytes().take_while(|&b| b == b'0').count() as i64)
            } else {
                whole.trim_start_matches('0').len() as i64
            };
            (4 - magnitude).max(0) as usize
        }
    };
    let padded = format!("{fraction:0<width$}", width = decimals + 1);
    let mut scaled: u128 = format!("{whole}{}", &padded[..decimals]).parse().unwrap();
    if padded.as_bytes()[decimals] >= b'5' {
        scaled += 1;
    }
    let text = format!("{scaled:0>width$}", width = decimals + 1);
    let (w, f) = text.split_at(text.len() - decimals);
    if decimals == 0 {
        w.to_owned()
    } else {
        format!("{w}.{f}")
    }
}

/// Units the chart shows unchanged (they are written for people already).
pub const PLAIN_UNITS: [&str; 6] = ["kg", "cm", "mg/dL", "g/dL", "fL", "mmol/L"];

/// Waits for the EHR page's frame that Cairn runs in (`#app`) and enters it.
pub async fn enter_app_frame(c: &Client) {
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("app"))
        .await
        .unwrap()
        .enter_frame()
        .await
        .unwrap();
}

/// Opens Cairn in the EHR's frame for `patient_id` (the generated patients have no link text
/// that is easy to click).
pub async fn open_chart_of(c: &Client, stack: &Stack, patient_id: &str) {
    c.goto(&format!("{}ehr/launch?patient={patient_id}", stack.ehr_url))
        .await
        .unwrap();
    enter_app_frame(c).await;
}

/// axe-core (npm, installed by xtask) in the page: the serious and critical violations.
pub async fn axe_violations(c: &Client) -> Vec<String> {
    let path = std::env::var("AXE_CORE").expect("AXE_CORE is set by cargo xtask test");
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Loaded as the WebDriver script itself (not eval, which the CSP forbids).
    c.execute(&format!("{source}; return typeof axe;"), vec![])
        .await
        .unwrap();
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] }).then(r => done(
               r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(', '))),
               e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

/// The development EHR on `ehr_port` and the release in `dist` exactly as built (its own
/// configuration and `_headers`) served under `base_path` on `app_port`, both on 127.0.0.1.
/// The ports are fixed because the release's configuration names them.
/// `Stack::app_url` is the app's origin with a `/`; Cairn itself is under `base_path`.
pub async fn start_built_release(
    dist: PathBuf,
    base_path: &str,
    ehr_port: u16,
    app_port: u16,
) -> Stack {
    // A test that used the ports before may still be shutting its servers down.
    let bind = |port: u16| async move {
        let mut tries = 0;
        loop {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(listener) => return listener,
                Err(e) if tries == 200 => {
                    panic!("port {port} is needed by the release's configuration: {e}")
                }
                Err(_) => tries += 1,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let ehr_listener = bind(ehr_port).await;
    let app_listener = bind(app_port).await;
    let app_origin = format!("http://127.0.0.1:{app_port}");
    let ehr = sandbox::Ehr::new(sandbox::Config {
        app_launch_url: format!("{app_origin}{base_path}{LAUNCH_PAGE}"),
        redirect_uri: format!("{app_origin}{base_path}"),
        ..sandbox::Config::dev(ehr_port, app_port)
    });
    let site = sandbox::apphost::Site::as_built(dist, base_path).unwrap();
    tokio::spawn(ehr.clone().serve(ehr_listener));
    tokio::spawn(sandbox::apphost::serve(app_listener, site));
    Stack {
        ehr,
        ehr_url: format!("http://127.0.0.1:{ehr_port}/"),
        app_url: format!("{app_origin}/"),
    }
}

/// A plain HTTP/1.1 GET of `path` on 127.0.0.1:`port`, as any client sees it (no browser):
/// the status and the response headers, names in lower case.
pub async fn http_get(port: u16, path: &str) -> (u16, Vec<(String, String)>) {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let text = String::from_utf8_lossy(&response);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        (status, headers)
    })
    .await
    .unwrap()
}

/// The value of `name` (lower case) among `headers`, if present once; panics when repeated.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let found: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(found.len() <= 1, "{name} sent {} times", found.len());
    found.first().copied()
}

/// [`start_stack`] with the development EHR in Epic mode ([`sandbox::Ehr::set_epic_mode`]) and
/// Cairn configured for it as a deployer would for Epic ([`sandbox::cairn_epic_config_json`]:
/// the MRN named by its Epic identifier type, `Epic-Client-ID` on discovery).
pub async fn start_epic_stack() -> Stack {
    start_stack_in(true, |_| {}).await
}

/// Opens Cairn in the EHR's frame for `patient_id` in Epic mode, with `fault` (a
/// [`sandbox::Fault::name`]) in force instead of any before, or none.
pub async fn open_epic_chart_of(c: &Client, stack: &Stack, patient_id: &str, fault: Option<&str>) {
    let fault = fault.map(|f| format!("&fault={f}")).unwrap_or_default();
    c.goto(&format!(
        "{}ehr/launch?patient={patient_id}&epic=1{fault}",
        stack.ehr_url
    ))
    .await
    .unwrap();
    enter_app_frame(c).await;
}

/// Waits (at most 30 s) until Cairn has finished checking the id_token of the chart's sign-in
/// (the `cairn:identity-checked` performance mark): after it, "Signed in as" is shown or never
/// will be.
pub async fn wait_for_identity_check(c: &Client) {
    for _ in 0..300 {
        let marked = c
            .execute(
                "return performance.getEntriesByName('cairn:identity-checked').length > 0",
                vec![],
            )
            .await
            .unwrap();
        if marked == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Cairn never finished checking the id_token");
}

/// Waits (at most 30 s) until `css` is present with exactly `expected` as its text.
pub async fn wait_for_text(c: &Client, css: &str, expected: &str) {
    let mut last = None;
    for _ in 0..300 {
        if let Ok(element) = c.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if text == expected {
                return;
            }
            last = Some(text);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never read {expected:?}; last seen: {last:?}");
}

/// Waits (at most 30 s) until `css` matches nothing.
pub async fn wait_for_absence(c: &Client, css: &str) {
    for _ in 0..300 {
        if c.find_all(Locator::Css(css)).await.unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} is still there");
}

/// The latest of `observations` coded `loinc` (its LOINC coding may follow another, as Epic's
/// flowsheet rows do).
pub fn latest_coded<'a>(
    observations: &'a [serde_json::Value],
    loinc: &str,
) -> Option<&'a serde_json::Value> {
    observations
        .iter()
        .filter(|o| {
            o["code"]["coding"].as_array().is_some_and(|codings| {
                codings
                    .iter()
                    .any(|c| c["system"] == "http://loinc.org" && c["code"] == loinc)
            })
        })
        .max_by_key(|o| o["effectiveDateTime"].as_str().unwrap_or_default())
}

/// The latest `loinc` observation of `patient_id` as the EHR serves it ([`latest_coded`]), and
/// its value as the chart shows it (`"<value> <unit>"`, the value [`as_shown`] with `decimals`,
/// the unit one of [`PLAIN_UNITS`]).
pub fn latest_observation(
    stack: &Stack,
    patient_id: &str,
    loinc: &str,
    decimals: Option<usize>,
) -> Option<(serde_json::Value, String)> {
    let observations = stack.ehr.resources_of("Observation", patient_id);
    let observation = latest_coded(&observations, loinc)?.clone();
    let unit = observation["valueQuantity"]["unit"].as_str()?;
    assert!(PLAIN_UNITS.contains(&unit), "{unit} is shown otherwise");
    let shown = format!(
        "{} {unit}",
        as_shown(&observation["valueQuantity"]["value"], decimals),
    );
    Some((observation, shown))
}

/// Everything in the current document's DOM as markup (text and attributes).
pub async fn page_markup(c: &Client) -> String {
    c.execute("return document.documentElement.outerHTML", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The query parameter `name` of a logged request's path and query, decoded.
pub fn query_param(path_and_query: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://x{path_and_query}")).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Two configured servers and Cairn: the development EHR ([`Stack::ehr`], honest, listed first)
/// and a second development EHR ([`TwoServers::second`], listed second as "Second health system"
/// with client id `cairn-second`), which a test may turn hostile with
/// [`sandbox::Ehr::set_mix_up`]. The second EHR has registered `<app>/index.html` as Cairn's
/// redirect URI. Neither server's issuer is pinned, and both use the top-level redirect URI
/// (`<app>/`) unless `configure` changes the configuration (a `serde_json::Value`).
pub struct TwoServers {
    pub stack: Stack,
    pub second: sandbox::Ehr,
}

pub async fn start_two_servers(configure: impl FnOnce(&mut serde_json::Value)) -> TwoServers {
    let dist = PathBuf::from(std::env::var("CAIRN_DIST").expect(
        "CAIRN_DIST is not set: run the end-to-end tests with `cargo xtask test`, which builds dist/",
    ));
    let ehr_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ehr_port = ehr_listener.local_addr().unwrap().port();
    let second_port = second_listener.local_addr().unwrap().port();
    let app_port = app_listener.local_addr().unwrap().port();
    let ehr = sandbox::Ehr::new(sandbox::Config::dev(ehr_port, app_port));
    let second = sandbox::Ehr::new(sandbox::Config {
        client_id: "cairn-second".into(),
        redirect_uri: format!("http://127.0.0.1:{app_port}/index.html"),
        ..sandbox::Config::dev(second_port, app_port)
    });
    let mut config: serde_json::Value =
        serde_json::from_str(&sandbox::cairn_config_json(&ehr)).unwrap();
    config["fhir_servers"][0]
        .as_object_mut()
        .unwrap()
        .remove("issuer");
    config["fhir_servers"].as_array_mut().unwrap().push(json!({
        "name": "Second health system",
        "client_id": "cairn-second",
        "fhir_base": second.fhir_base(),
        "auth_origins": [second.config().origin],
    }));
    configure(&mut config);
    let config_json = config.to_string();
    let site = sandbox::apphost::Site {
        headers: headers_file_for(&dist, &config_json, "/"),
        page_policy: Some(page_policy_for(&dist, &config_json)),
        dist,
        base_path: "/".into(),
        config_json: Some(config_json),
    };
    tokio::spawn(ehr.clone().serve(ehr_listener));
    tokio::spawn(second.clone().serve(second_listener));
    tokio::spawn(sandbox::apphost::serve(app_listener, site));
    TwoServers {
        stack: Stack {
            ehr,
            ehr_url: format!("http://127.0.0.1:{ehr_port}/"),
            app_url: format!("http://127.0.0.1:{app_port}/"),
        },
        second,
    }
}

/// On the start page, "Are you a clinician?": signs in at the first server as its clinician and
/// allows what Cairn asks for, which ends on the patient search.
pub async fn sign_in_as_clinician(c: &Client, stack: &Stack) {
    c.goto(&stack.launch_page()).await.unwrap();
    click(c, "details.clinician summary").await;
    click(c, "button[data-clinician-server='0']").await;
    click(c, "button[name=user][value=practitioner]").await;
    click(c, "button[name=decision][value=allow]").await;
}

/// Shows the chart's section `id` (`summary`, `vitals`, `results`, `encounters`, `patient`)
/// with a click on the section bar, and waits (at most 30 s: a chart still rendering ten
/// thousand results on a busy machine is slow to answer) until it is the current one. The
/// link is clicked again if the address's fragment has not changed: a click that lands while
/// the chart is being replaced is lost, as a user's would be.
pub async fn show_section(c: &Client, id: &str) {
    let link = format!(".sections a[href='#{id}']");
    click(c, &link).await;
    for attempt in 0..600 {
        if attempt % 100 == 99 {
            let hash = c.execute("return location.hash", vec![]).await.unwrap();
            if hash.as_str() != Some(format!("#{id}").as_str()) {
                click(c, &link).await;
            }
        }
        let current = c
            .find(Locator::Css(&link))
            .await
            .unwrap()
            .attr("aria-current")
            .await
            .unwrap();
        if current.as_deref() == Some("page") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the section bar never showed {id}");
}
