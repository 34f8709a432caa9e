//! The browser half of `cargo xtask bench` (docs/performance.md): the development EHR with a
//! wide-area latency on every response, Cairn's release and the `fhirclient` baseline each on
//! its own origin, and headless Chromium launching them in turn from the EHR page (A B A B…).
//! Times come from the apps' own `performance.mark`s; round trips from the EHR's request log.
//!
//! `bench --dist DIR --baseline DIR --out FILE [--pairs 7] [--latency-ms 50]
//! [--first-load FILE]`, with `CHROMIUM` and `CHROMEDRIVER` set (xtask sets them).

mod report;
mod rounds;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, Locator};
use rounds::{Exchange, RoundTrips};
use sandbox::{Config, Ehr, RegisteredApp, apphost};
use serde_json::{Value, json};
use support::DriverPost;
use tokio::net::TcpListener;

/// An app under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    Cairn,
    Baseline,
}

impl App {
    pub fn label(self) -> &'static str {
        match self {
            App::Cairn => "Cairn",
            App::Baseline => "baseline",
        }
    }

    fn mark_prefix(self) -> &'static str {
        match self {
            App::Cairn => "cairn:",
            App::Baseline => "baseline:",
        }
    }

    /// The EHR launch page's `app` parameter.
    fn launch_param(self) -> &'static str {
        match self {
            App::Cairn => "",
            App::Baseline => "&app=baseline",
        }
    }

    /// What scrolls the table of every result: Cairn's virtualized "All results" table, the
    /// baseline's whole page.
    fn scroller(self) -> Value {
        match self {
            App::Cairn => json!(".all__scroll"),
            App::Baseline => Value::Null,
        }
    }
}

struct Args {
    dist: PathBuf,
    baseline: PathBuf,
    out: PathBuf,
    first_load: Option<PathBuf>,
    pairs: usize,
    latency: Duration,
}

/// One launch, times in milliseconds from the navigation to the EHR's launch page.
#[derive(Debug, Clone)]
pub struct Launch {
    pub app: App,
    /// When the app's callback page started loading.
    pub callback: f64,
    pub banner: f64,
    pub first_observations: f64,
    pub all_loaded: f64,
    /// Round trips after the callback, CORS preflights included.
    pub trips: RoundTrips,
    /// The same without preflights: the app's own waits.
    pub own_trips: RoundTrips,
    /// The EHR's log after the callback: exchange, depth with preflights, times from the
    /// token request's arrival.
    pub exchanges: Vec<(Exchange, u32)>,
    /// What the app's frame loaded and when, in ms from the navigation to the EHR's launch
    /// page: its launch page, then its callback page (see [`PAGE`]).
    pub timeline: Vec<Step>,
    /// Long animation frames (over 50 ms) on the app's pages: start (ms, as `timeline`) and
    /// duration.
    pub long_frames: Vec<(f64, f64)>,
}

/// One line of a launch's timeline.
#[derive(Debug, Clone)]
pub struct Step {
    pub start: f64,
    pub end: f64,
    pub what: String,
}

/// The 10 000-observation patient, after the launch.
#[derive(Debug, Clone)]
pub struct Scale {
    pub launch: Launch,
    pub dom_elements: u64,
    pub table_rows_after_load: u64,
    pub max_table_rows_scrolling: u64,
    pub js_heap_bytes: u64,
    /// Cairn's WebAssembly memory (the baseline has none).
    pub wasm_memory_bytes: Option<u64>,
    pub frame_ms: Vec<f64>,
    /// Long animation frames (over 50 ms) the browser reported while scrolling.
    pub long_animation_frames: Vec<f64>,
    pub scrolled_px: f64,
}

struct Bench {
    ehr: Ehr,
    ehr_url: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!(
                "bench: {e}\nusage: bench --dist DIR --baseline DIR --out FILE [--pairs 7] \
                 [--latency-ms 50] [--first-load FILE]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args() -> Result<Args, String> {
    let (mut dist, mut baseline, mut out, mut first_load) = (None, None, None, None);
    let (mut pairs, mut latency_ms) = (7, 50);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--dist" => dist = Some(PathBuf::from(value()?)),
            "--baseline" => baseline = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--first-load" => first_load = Some(PathBuf::from(value()?)),
            "--pairs" => pairs = value()?.parse().map_err(|e| format!("--pairs: {e}"))?,
            "--latency-ms" => {
                latency_ms = value()?.parse().map_err(|e| format!("--latency-ms: {e}"))?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if pairs == 0 {
        return Err("--pairs must be at least 1".into());
    }
    Ok(Args {
        dist: dist.ok_or("--dist is required")?,
        baseline: baseline.ok_or("--baseline is required")?,
        out: out.ok_or("--out is required")?,
        first_load,
        pairs,
        latency: Duration::from_millis(latency_ms),
    })
}

async fn run(args: &Args) -> Result<(), String> {
    let load_before = load_average();
    let bench = start(args).await?;
    let patient = chart_patient(&bench.ehr);
    let (observations, encounters) = chart_size(&bench.ehr, &patient.id);
    println!(
        "Launching {} ({observations} observations, {encounters} encounters) with {} ms added \
         to every response: one warm-up pair, then {} pairs.",
        patient.name,
        args.latency.as_millis(),
        args.pairs
    );
    let browser = support::browser().await;
    let c = &browser.client;
    c.update_timeouts(TimeoutConfiguration::new(
        Some(Duration::from_secs(180)),
        Some(Duration::from_secs(60)),
        Some(Duration::ZERO),
    ))
    .await
    .map_err(|e| format!("timeouts: {e}"))?;
    for app in [App::Cairn, App::Baseline] {
        launch(c, &bench, app, &patient.id).await?;
    }
    let mut pairs = Vec::new();
    for n in 1..=args.pairs {
        let cairn = launch(c, &bench, App::Cairn, &patient.id).await?;
        let baseline = launch(c, &bench, App::Baseline, &patient.id).await?;
        println!(
            "pair {n}: banner {:.0} / {:.0} ms, first observations {:.0} / {:.0} ms, all {:.0} / {:.0} ms",
            cairn.banner,
            baseline.banner,
            cairn.first_observations,
            baseline.first_observations,
            cairn.all_loaded,
            baseline.all_loaded
        );
        pairs.push((cairn, baseline));
    }

    let scale_id = Ehr::scale_patient_id();
    let (scale_observations, _) = chart_size(&bench.ehr, scale_id);
    println!("Scale: the generated patient with {scale_observations} observations.");
    let mut scale = Vec::new();
    for app in [App::Cairn, App::Baseline] {
        scale.push(scale_run(c, &bench, app, scale_id).await?);
    }
    let chromium = c
        .issue_cmd(cdp("Browser.getVersion", json!({})))
        .await
        .ok()
        .and_then(|v| v["product"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let _ = browser.client.close().await;

    let first_load = match &args.first_load {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Value::Null,
    };
    let context = report::Context {
        patient: patient.name.clone(),
        observations,
        encounters,
        scale_observations,
        latency_ms: args.latency.as_millis() as u64,
        browser: chromium,
        machine: machine(),
        load_average: format!("{load_before} before, {} after", load_average()),
    };
    print!("{}", report::tables(&context, &pairs, &scale, &first_load));
    let json = report::json(&context, &pairs, &scale, first_load);
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, text).map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!("\nwrote {}", args.out.display());
    Ok(())
}

/// The processor and its count, from `/proc/cpuinfo` (Linux).
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown processor".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} x {model}")
}

/// The 1-minute load average (`/proc/loadavg`): other work on the machine shows in the times.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// The EHR with the baseline registered beside Cairn, and both apps' static hosts, every
/// response held back by the latency.
async fn start(args: &Args) -> Result<Bench, String> {
    let bind = || async {
        TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))
    };
    let (ehr_listener, cairn_listener, baseline_listener) =
        (bind().await?, bind().await?, bind().await?);
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).unwrap_or_default();
    let baseline_origin = format!("http://127.0.0.1:{}", port(&baseline_listener));
    let mut config = Config::dev(port(&ehr_listener), port(&cairn_listener));
    config.other_apps.push(RegisteredApp {
        name: "baseline".into(),
        launch_url: format!("{baseline_origin}/"),
        redirect_uri: format!("{baseline_origin}/"),
        origin: baseline_origin,
        client_id: "fhirclient-baseline".into(),
    });
    let ehr_url = format!("{}/", config.origin);
    let ehr = Ehr::new(config);
    ehr.set_latency(args.latency);
    // Both apps get the same host: the same headers (CSP, no caching directives) and latency.
    let config_json = sandbox::cairn_config_json(&ehr);
    tokio::spawn(ehr.clone().serve(ehr_listener));
    for (listener, dir) in [
        (cairn_listener, &args.dist),
        (baseline_listener, &args.baseline),
    ] {
        if !dir.join("index.html").is_file() {
            return Err(format!("no index.html in {}", dir.display()));
        }
        let site = apphost::Site {
            headers: support::headers_file_for(&args.dist, &config_json, "/"),
            // Cairn's pages carry their CSP in a <meta> too; the baseline's carry none.
            page_policy: Some(support::page_policy_for(&args.dist, &config_json)),
            dist: dir.clone(),
            base_path: "/".into(),
            config_json: Some(config_json.clone()),
        };
        tokio::spawn(apphost::serve_with_latency(listener, site, args.latency));
    }
    Ok(Bench { ehr, ehr_url })
}

/// The Synthea patient with the most vital signs and laboratory results.
fn chart_patient(ehr: &Ehr) -> sandbox::PatientSummary {
    let generated = [Ehr::scale_patient_id(), Ehr::hostile_patient_id()];
    ehr.patients()
        .into_iter()
        .filter(|p| !generated.contains(&p.id.as_str()))
        .max_by_key(|p| chart_size(ehr, &p.id).0)
        .expect("the development EHR has Synthea patients")
}

/// The vital signs and laboratory results (what the chart searches), and the encounters.
fn chart_size(ehr: &Ehr, patient_id: &str) -> (usize, usize) {
    let charted =
        |o: &Value| {
            o["category"].as_array().into_iter().flatten().any(|c| {
                c["coding"].as_array().into_iter().flatten().any(|coding| {
                    matches!(coding["code"].as_str(), Some("vital-signs" | "laboratory"))
                })
            })
        };
    let observations = ehr
        .resources_of("Observation", patient_id)
        .iter()
        .filter(|o| charted(o))
        .count();
    (
        observations,
        ehr.resources_of("Encounter", patient_id).len(),
    )
}

/// Chromium DevTools, through ChromeDriver.
fn cdp(cmd: &str, params: Value) -> DriverPost {
    DriverPost {
        path: "goog/cdp/execute",
        body: json!({ "cmd": cmd, "params": params }),
    }
}

const MARKS: &str = "
    const prefix = arguments[0];
    const at = name => {
        const mark = performance.getEntriesByName(prefix + name, 'mark')[0];
        return mark ? mark.startTime : null;
    };
    return { origin: performance.timeOrigin, banner: at('banner'),
             first: at('first-observations'), all: at('all-loaded') };";

/// Runs in every page before its own scripts: keeps the page's long animation frames and
/// Cairn's wasm instance (for its memory size), and as the page goes, leaves what it loaded in
/// sessionStorage, where the app's next page (the callback, same origin and frame) finds it.
const PAGE: &str = "
    (() => {
        const longFrames = [];
        try {
            new PerformanceObserver(list => list.getEntries().forEach(e =>
                longFrames.push([e.startTime, e.duration]))
            ).observe({ type: 'long-animation-frame', buffered: true });
        } catch (e) {}
        addEventListener('TrunkApplicationStarted', e => { window.__benchWasm = e.detail.wasm; });
        const name = url => {
            const u = new URL(url);
            const where = u.origin === location.origin ? '' : 'EHR ';
            return where + u.pathname + (u.search.length > 1 ? u.search.slice(0, 60) : '');
        };
        window.__benchPage = () => {
            const nav = performance.getEntriesByType('navigation')[0];
            return {
                origin: performance.timeOrigin,
                page: location.search.startsWith('?launch=') ? 'launch page' : 'callback page',
                html: nav ? nav.responseEnd : null,
                dom_content_loaded: nav ? nav.domContentLoadedEventEnd : null,
                resources: performance.getEntriesByType('resource').map(e =>
                    [e.startTime, e.responseEnd, e.initiatorType + ' ' + name(e.name)]),
                long_frames: longFrames,
            };
        };
        addEventListener('pagehide', () => {
            try {
                sessionStorage.setItem('bench.previous-page', JSON.stringify(window.__benchPage()));
            } catch (e) {}
        });
    })();";

const PAGES: &str = "
    return [JSON.parse(sessionStorage.getItem('bench.previous-page')), window.__benchPage()];";

/// The frame's launch and callback pages as one timeline, ms from `start`.
fn timeline(pages: &Value, start: f64) -> (Vec<Step>, Vec<(f64, f64)>) {
    let mut steps = Vec::new();
    let mut long_frames = Vec::new();
    let current_origin = pages[1]["origin"].as_f64().unwrap_or(f64::INFINITY);
    for page in pages.as_array().into_iter().flatten() {
        // The previous page must be this launch's own (an older one may linger in storage).
        let Some(origin) = page["origin"].as_f64().filter(|o| *o <= current_origin) else {
            continue;
        };
        if origin < start {
            continue;
        }
        let at = |v: &Value| v.as_f64().map(|t| t + origin - start);
        let label = page["page"].as_str().unwrap_or("page");
        if let Some(html) = at(&page["html"]) {
            steps.push(Step {
                start: origin - start,
                end: html,
                what: format!("{label}: navigation and HTML"),
            });
        }
        for r in page["resources"].as_array().into_iter().flatten() {
            if let (Some(s), Some(e)) = (at(&r[0]), at(&r[1])) {
                let what = format!("{label}: {}", r[2].as_str().unwrap_or_default());
                steps.push(Step {
                    start: s,
                    end: e,
                    what,
                });
            }
        }
        if let Some(dcl) = at(&page["dom_content_loaded"]) {
            steps.push(Step {
                start: dcl,
                end: dcl,
                what: format!("{label}: DOMContentLoaded"),
            });
        }
        for f in page["long_frames"].as_array().into_iter().flatten() {
            if let (Some(s), Some(d)) = (at(&f[0]), f[1].as_f64()) {
                long_frames.push((s, d));
            }
        }
    }
    steps.sort_by(|a, b| a.start.total_cmp(&b.start));
    (steps, long_frames)
}

/// Launches `app` for `patient_id` from the EHR page and waits for its three marks.
async fn launch(c: &Client, bench: &Bench, app: App, patient_id: &str) -> Result<Launch, String> {
    let driver = |e: fantoccini::error::CmdError| format!("{} launch: {e}", app.label());
    // Every launch is the first of the day: a new tab (no sessionStorage) and an empty HTTP
    // cache.
    fresh_tab(c).await.map_err(driver)?;
    c.issue_cmd(cdp("Network.clearBrowserCache", json!({})))
        .await
        .map_err(driver)?;
    let first_logged = bench.ehr.requests().len();
    c.goto(&format!(
        "{}ehr/launch?patient={patient_id}{}",
        bench.ehr_url,
        app.launch_param()
    ))
    .await
    .map_err(driver)?;
    let start = c
        .execute("return performance.timeOrigin", vec![])
        .await
        .map_err(driver)?
        .as_f64()
        .ok_or("no performance.timeOrigin")?;
    c.find(Locator::Id("app"))
        .await
        .map_err(driver)?
        .enter_frame()
        .await
        .map_err(driver)?;
    let marks = wait_for_marks(c, app).await?;
    let pages = c.execute(PAGES, vec![]).await.map_err(driver)?;
    let origin = marks["origin"].as_f64().unwrap_or(start);
    let at = |key: &str| marks[key].as_f64().unwrap_or(f64::NAN) + origin - start;

    // Requests still in flight (a style sheet, a key set) finish before the log is read.
    let log = answered_log(&bench.ehr, first_logged).await;
    let after = rounds::after_callback(&log);
    let depths = rounds::depths(&after);
    let zero = after.first().map(|e| e.received).unwrap_or(0.0);
    let exchanges = after
        .iter()
        .zip(depths)
        .map(|(e, d)| {
            let e = Exchange {
                received: e.received - zero,
                answered: e.answered - zero,
                ..e.clone()
            };
            (e, d)
        })
        .collect();
    let (mut timeline, long_frames) = timeline(&pages, start);
    for (what, at) in [
        ("mark: banner", at("banner")),
        ("mark: first observations", at("first")),
        ("mark: all loaded", at("all")),
    ] {
        timeline.push(Step {
            start: at,
            end: at,
            what: what.into(),
        });
    }
    timeline.sort_by(|a, b| a.start.total_cmp(&b.start));
    Ok(Launch {
        app,
        callback: origin - start,
        banner: at("banner"),
        first_observations: at("first"),
        all_loaded: at("all"),
        trips: rounds::round_trips(&after, patient_id, true),
        own_trips: rounds::round_trips(&after, patient_id, false),
        exchanges,
        timeline,
        long_frames,
    })
}

/// Moves the session to a new tab, with [`PAGE`] in every page, and closes the old one.
async fn fresh_tab(c: &Client) -> Result<(), fantoccini::error::CmdError> {
    let old = c.window().await?;
    let new = c.new_window(true).await?.handle;
    c.switch_to_window(old).await?;
    c.close_window().await?;
    c.switch_to_window(new).await?;
    c.issue_cmd(support::before_every_page(PAGE.into())).await?;
    Ok(())
}

/// Polls the app's frame until its three marks are set (the frame navigates on the way: the
/// sign-in redirect, then the callback page).
async fn wait_for_marks(c: &Client, app: App) -> Result<Value, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(marks) = c.execute(MARKS, vec![json!(app.mark_prefix())]).await
            && ["banner", "first", "all"]
                .iter()
                .all(|k| marks[k].is_number())
        {
            return Ok(marks);
        }
        if tokio::time::Instant::now() > deadline {
            let text = c
                .execute("return document.body.innerText.slice(0, 500)", vec![])
                .await
                .unwrap_or_default();
            return Err(format!(
                "{} never set all three marks in 120 s; its frame shows: {text}",
                app.label()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The EHR's log from entry `first` on, once every request in it has been answered, with times
/// in milliseconds.
async fn answered_log(ehr: &Ehr, first: usize) -> Vec<Exchange> {
    for _ in 0..100 {
        let log = ehr.requests();
        if log[first..].iter().all(|r| r.answered.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ehr.requests()[first..]
        .iter()
        .map(|r| Exchange {
            method: r.method.clone(),
            path: r.path_and_query.clone(),
            received: r.received.as_secs_f64() * 1000.0,
            answered: r.answered.unwrap_or(r.received).as_secs_f64() * 1000.0,
        })
        .collect()
}

const PAGE_SIZE: &str = "
    const wasm = window.__benchWasm;
    return {
        heap: performance.memory.usedJSHeapSize,
        wasm: wasm && wasm.memory ? wasm.memory.buffer.byteLength : null,
        dom: document.getElementsByTagName('*').length,
        rows: document.getElementsByTagName('tr').length,
    };";

/// Scrolls the table from top to bottom over `frames` animation frames, one step a frame,
/// and reports the time between frames and the most table rows seen in the page.
const SCROLL: &str = "
    const done = arguments[arguments.length - 1];
    const el = arguments[0] ? document.querySelector(arguments[0]) : document.scrollingElement;
    const frames = arguments[1];
    const rows = document.getElementsByTagName('tr');
    const range = el.scrollHeight - el.clientHeight;
    const deltas = [], long = [];
    let observer = null;
    try {
        observer = new PerformanceObserver(list =>
            list.getEntries().forEach(e => long.push(e.duration)));
        observer.observe({ type: 'long-animation-frame' });
    } catch (e) {}
    let maxRows = rows.length, i = 0, last = 0;
    const step = now => {
        if (i > 0) deltas.push(now - last);
        last = now;
        maxRows = Math.max(maxRows, rows.length);
        if (i === frames) {
            setTimeout(() => {
                if (observer) observer.disconnect();
                done({ deltas, long, maxRows, scrolled: el.scrollTop });
            }, 100);
            return;
        }
        i += 1;
        el.scrollTop = range * i / frames;
        requestAnimationFrame(step);
    };
    requestAnimationFrame(step);";

const SCROLL_FRAMES: u32 = 240;

async fn scale_run(c: &Client, bench: &Bench, app: App, patient_id: &str) -> Result<Scale, String> {
    let launch = launch(c, bench, app, patient_id).await?;
    let driver = |e: fantoccini::error::CmdError| format!("{} scale: {e}", app.label());
    if matches!(app, App::Cairn) {
        // The table of every result is in the chart's Results section.
        c.execute("location.hash = 'results'", vec![])
            .await
            .map_err(driver)?;
        c.wait()
            .for_element(Locator::Css(".all__scroll"))
            .await
            .map_err(driver)?;
    }
    // The heap that stays: garbage collected first.
    c.issue_cmd(cdp("HeapProfiler.collectGarbage", json!({})))
        .await
        .map_err(driver)?;
    let size = c.execute(PAGE_SIZE, vec![]).await.map_err(driver)?;
    let scroll = c
        .execute_async(SCROLL, vec![app.scroller(), json!(SCROLL_FRAMES)])
        .await
        .map_err(driver)?;
    let numbers = |v: &Value| -> Vec<f64> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .collect()
    };
    let count = |v: &Value| v.as_u64().unwrap_or_default();
    c.enter_parent_frame().await.map_err(driver)?;
    Ok(Scale {
        dom_elements: count(&size["dom"]),
        table_rows_after_load: count(&size["rows"]),
        max_table_rows_scrolling: count(&scroll["maxRows"]),
        js_heap_bytes: count(&size["heap"]),
        wasm_memory_bytes: size["wasm"].as_u64(),
        frame_ms: numbers(&scroll["deltas"]),
        long_animation_frames: numbers(&scroll["long"]),
        scrolled_px: scroll["scrolled"].as_f64().unwrap_or_default(),
        launch,
    })
}
