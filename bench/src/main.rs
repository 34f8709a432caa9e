//! The browser half of `cargo xtask bench` (docs/performance.md): the development EHR, Cairn's
//! release and the `fhirclient` baseline each on its own origin, served as production serves
//! them (compressed, with caching headers: `serve.rs`), and headless Chromium launching them in
//! turn from the EHR page (A B A B…) under each network profile (`network.rs`), cold (a fresh
//! browser) and warm (a second tab of that browser). Times come from the apps' own
//! `performance.mark`s, bytes from the browser's network events, round trips from the EHR's
//! request log.
//!
//! `bench --dist DIR --baseline DIR --out FILE [--pairs 7] [--profiles loopback,50ms,phone]
//! [--ehr-latency-ms 0] [--no-scale] [--first-load FILE]`, with `CHROMIUM` and `CHROMEDRIVER`
//! set (xtask sets them).

mod network;
mod report;
mod rounds;
mod serve;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, Locator};
use network::{Bytes, EmulationCheck, PROFILES, Profile};
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
    profiles: Vec<Profile>,
    /// The EHR's (and both app hosts') own latency on every response, beside the emulation.
    ehr_latency: Duration,
    scale: bool,
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
    /// The FHIR reads after the callback (`GET /fhir/…`, every page), sorted.
    pub fhir: Vec<String>,
    /// What the tab received over the network.
    pub bytes: Bytes,
    /// Requests the tab made, and how many of them were answered from the HTTP cache.
    pub requests: usize,
    pub from_cache: usize,
    /// The tab's responses against the emulated link.
    pub emulation: EmulationCheck,
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

/// One profile's launches: pairs (Cairn, baseline), cold and warm.
#[derive(Debug, Clone)]
pub struct ProfileRun {
    pub profile: Profile,
    pub cold: Vec<(Launch, Launch)>,
    pub warm: Vec<(Launch, Launch)>,
}

struct Bench {
    ehr: Ehr,
    ehr_url: String,
    cairn_origin: String,
    baseline_origin: String,
    baseline_dir: PathBuf,
    /// The profile's latency, which the EHR adds to CORS preflights (the emulation does not
    /// delay them).
    preflight_ms: Arc<AtomicU64>,
}

impl Bench {
    fn origin(&self, app: App) -> &str {
        match app {
            App::Cairn => &self.cairn_origin,
            App::Baseline => &self.baseline_origin,
        }
    }
}

const USAGE: &str = "usage: bench --dist DIR --baseline DIR --out FILE [--pairs 7] \
    [--profiles loopback,50ms,phone] [--ehr-latency-ms 0] [--no-scale] [--first-load FILE]";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("bench: {e}\n{USAGE}");
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
    let (mut pairs, mut ehr_latency_ms, mut scale) = (7, 0, true);
    let mut profiles = PROFILES.to_vec();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--dist" => dist = Some(PathBuf::from(value()?)),
            "--baseline" => baseline = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--first-load" => first_load = Some(PathBuf::from(value()?)),
            "--pairs" => pairs = value()?.parse().map_err(|e| format!("--pairs: {e}"))?,
            "--profiles" => profiles = parse_profiles(&value()?)?,
            "--ehr-latency-ms" => {
                ehr_latency_ms = value()?
                    .parse()
                    .map_err(|e| format!("--ehr-latency-ms: {e}"))?
            }
            "--no-scale" => scale = false,
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
        profiles,
        ehr_latency: Duration::from_millis(ehr_latency_ms),
        scale,
    })
}

/// `loopback,50ms,phone`: a comma-separated list of profile names.
fn parse_profiles(list: &str) -> Result<Vec<Profile>, String> {
    let names: Vec<&str> = PROFILES.iter().map(|p| p.name).collect();
    list.split(',')
        .map(|name| {
            Profile::by_name(name.trim())
                .ok_or_else(|| format!("--profiles: no profile {name:?} (known: {names:?})"))
        })
        .collect()
}

async fn run(args: &Args) -> Result<(), String> {
    let started = std::time::Instant::now();
    let load_before = load_average();
    let bench = start(args).await?;
    let patient = chart_patient(&bench.ehr);
    let (observations, encounters) = chart_size(&bench.ehr, &patient.id);

    // The baseline makes the FHIR requests Cairn makes: read from the EHR's log of a launch.
    let (derived, chromium) = {
        let browser = support::browser_with_network_log(true).await;
        let c = &browser.client;
        prepare_browser(c).await?;
        prepare_tab(c, &PROFILES[0]).await?;
        let first = launch(c, &bench, App::Cairn, &patient.id, &PROFILES[0]).await?;
        let chromium = c
            .issue_cmd(cdp("Browser.getVersion", json!({})))
            .await
            .ok()
            .and_then(|v| v["product"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = browser.client.close().await;
        (cairn_requests(&first.fhir, &patient.id), chromium)
    };
    if derived.is_empty() {
        return Err("Cairn's launch made no FHIR request to copy".into());
    }
    println!("The baseline makes the FHIR requests of Cairn's first launch:");
    for r in &derived {
        println!("  GET {r}");
    }
    write_baseline_requests(&bench.baseline_dir, &derived)?;

    println!(
        "Launching {} ({observations} observations, {encounters} encounters), {} ms EHR \
         latency: per profile one warm-up pair, then {} pairs, each app cold (a new browser) then \
         warm (a second tab).",
        patient.name,
        args.ehr_latency.as_millis(),
        args.pairs
    );
    let mut runs = Vec::new();
    let mut start_pages = Vec::new();
    for profile in &args.profiles {
        println!("\n{}", profile.describe());
        bench
            .preflight_ms
            .store(profile.latency_ms as u64, Ordering::Relaxed);
        let mut run = ProfileRun {
            profile: *profile,
            cold: Vec::new(),
            warm: Vec::new(),
        };
        for n in 0..=args.pairs {
            let (cairn_cold, cairn_warm) =
                cold_and_warm(&bench, App::Cairn, &patient.id, profile).await?;
            let (base_cold, base_warm) =
                cold_and_warm(&bench, App::Baseline, &patient.id, profile).await?;
            for (state, a, b) in [
                ("cold", &cairn_cold, &base_cold),
                ("warm", &cairn_warm, &base_warm),
            ] {
                same_fhir_requests(a, b).map_err(|e| format!("{} {state}: {e}", profile.name))?;
                for l in [a, b] {
                    l.emulation
                        .verify(profile)
                        .map_err(|e| format!("{} {state} {}: {e}", profile.name, l.app.label()))?;
                }
            }
            let what = if n == 0 {
                "warm-up".to_owned()
            } else {
                format!("pair {n}")
            };
            println!(
                "{what}: banner cold {:.0} / {:.0} ms, warm {:.0} / {:.0} ms; all loaded cold \
                 {:.0} / {:.0} ms, warm {:.0} / {:.0} ms; bytes cold {} / {}",
                cairn_cold.banner,
                base_cold.banner,
                cairn_warm.banner,
                base_warm.banner,
                cairn_cold.all_loaded,
                base_cold.all_loaded,
                cairn_warm.all_loaded,
                base_warm.all_loaded,
                cairn_cold.bytes.total,
                base_cold.bytes.total,
            );
            if n > 0 {
                run.cold.push((cairn_cold, base_cold));
                run.warm.push((cairn_warm, base_warm));
            }
        }
        runs.push(run);
        let mut shown = Vec::new();
        for _ in 0..args.pairs {
            shown.push(start_page(&bench, profile).await?);
        }
        let median = |of: fn(&StartPageLoad) -> f64| report::median(shown.iter().map(of));
        let page = StartPage {
            profile: profile.name,
            loads: shown.len(),
            median: StartPageLoad {
                shown: median(|s| s.shown),
                wasm_arrived: median(|s| s.wasm_arrived),
                app_requested: median(|s| s.app_requested),
            },
        };
        println!(
            "standalone start page, Cairn, cold ({} loads, medians): its wasm's last byte at \
             {:.0} ms, the choice of health system painted at {:.0} ms, the app's prefetch asked \
             for at {:.0} ms",
            page.loads, page.median.wasm_arrived, page.median.shown, page.median.app_requested
        );
        start_pages.push(page);
    }

    // The scale launches need no bandwidth limit to be about the app: the first profile
    // without one.
    let scale_profile = args
        .profiles
        .iter()
        .find(|p| p.down_bps.is_none())
        .filter(|_| args.scale);
    let mut scale = Vec::new();
    let scale_id = Ehr::scale_patient_id();
    let (scale_observations, _) = chart_size(&bench.ehr, scale_id);
    if let Some(profile) = scale_profile {
        bench
            .preflight_ms
            .store(profile.latency_ms as u64, Ordering::Relaxed);
        println!(
            "\nScale: the generated patient with {scale_observations} observations ({}).",
            profile.name
        );
        for app in [App::Cairn, App::Baseline] {
            let browser = support::browser_with_network_log(true).await;
            let c = &browser.client;
            prepare_browser(c).await?;
            prepare_tab(c, profile).await?;
            let result = scale_run(c, &bench, app, scale_id, profile).await;
            let _ = browser.client.close().await;
            scale.push(result?);
        }
    }

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
        scale_profile: scale_profile.map(|p| p.name.to_owned()),
        ehr_latency_ms: args.ehr_latency.as_millis() as f64,
        browser: chromium,
        machine: machine(),
        load_average: format!("{load_before} before, {} after", load_average()),
        requests: derived,
        seconds: started.elapsed().as_secs(),
    };
    print!("{}", report::tables(&context, &runs, &scale, &first_load));
    println!("\n== The standalone start page (Cairn only, cold, medians) ==");
    println!("profile       wasm arrived   choice painted   app prefetch asked for");
    for p in &start_pages {
        println!(
            "{:<12} {:>10.0} ms {:>13.0} ms {:>20.0} ms",
            p.profile, p.median.wasm_arrived, p.median.shown, p.median.app_requested
        );
    }
    let mut json = report::json(&context, &runs, &scale, first_load);
    json["standalone_start_page"] = start_pages
        .iter()
        .map(|p| {
            json!({
                "profile": p.profile, "loads": p.loads, "wasm_arrived_ms": p.median.wasm_arrived,
                "choice_painted_ms": p.median.shown,
                "app_prefetch_asked_ms": p.median.app_requested,
            })
        })
        .collect();
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, text).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let timelines = args.out.with_file_name("timelines.txt");
    std::fs::write(&timelines, report::timelines(&runs))
        .map_err(|e| format!("{}: {e}", timelines.display()))?;
    println!("\nwrote {} and {}", args.out.display(), timelines.display());
    Ok(())
}

/// The first pages and reads of Cairn's FHIR requests (`GET /fhir/…` after the callback,
/// without later pages), relative to the FHIR base, with the launch context as `{patient}` and
/// `{encounter}`.
fn cairn_requests(fhir: &[String], patient_id: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for path in fhir {
        let Some(relative) = path.strip_prefix("/fhir/") else {
            continue;
        };
        if relative.contains("_offset=") {
            continue;
        }
        let mut r = relative.replace(patient_id, "{patient}");
        if let Some(id) = r.strip_prefix("Encounter/")
            && !id.contains(['?', '/'])
        {
            r = "Encounter/{encounter}".into();
        }
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// Writes `requests` into the baseline's `index.html` (its `bench-requests` meta), where its
/// app reads them.
fn write_baseline_requests(dir: &std::path::Path, requests: &[String]) -> Result<(), String> {
    let path = dir.join("index.html");
    let html = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let list = serde_json::to_string(requests).map_err(|e| e.to_string())?;
    let escaped = list.replace('&', "&amp;").replace('"', "&quot;");
    let mut found = false;
    let html: Vec<String> = html
        .lines()
        .map(|line| {
            if line.contains("name=\"bench-requests\"") {
                found = true;
                format!("    <meta name=\"bench-requests\" content=\"{escaped}\" />")
            } else {
                line.to_owned()
            }
        })
        .collect();
    if !found {
        return Err(format!("{}: no bench-requests meta", path.display()));
    }
    std::fs::write(&path, html.join("\n") + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// Both apps made the same FHIR reads; else the differences.
fn same_fhir_requests(cairn: &Launch, baseline: &Launch) -> Result<(), String> {
    let missing = |a: &[String], b: &[String]| -> Vec<String> {
        let mut left = b.to_vec();
        a.iter()
            .filter(|r| match left.iter().position(|x| x == *r) {
                Some(i) => {
                    left.remove(i);
                    false
                }
                None => true,
            })
            .cloned()
            .collect()
    };
    let only_cairn = missing(&cairn.fhir, &baseline.fhir);
    let only_baseline = missing(&baseline.fhir, &cairn.fhir);
    if only_cairn.is_empty() && only_baseline.is_empty() {
        return Ok(());
    }
    let lines = |sign: &str, list: &[String]| -> String {
        list.iter().map(|r| format!("\n  {sign} GET {r}")).collect()
    };
    Err(format!(
        "the apps made different FHIR requests (- Cairn only, + baseline only):{}{}",
        lines("-", &only_cairn),
        lines("+", &only_baseline)
    ))
}

/// One app launched in a new browser (empty profile: cold), then again in a second tab of
/// that browser (warm).
async fn cold_and_warm(
    bench: &Bench,
    app: App,
    patient_id: &str,
    profile: &Profile,
) -> Result<(Launch, Launch), String> {
    let browser = support::browser_with_network_log(true).await;
    let c = &browser.client;
    let result: Result<(Launch, Launch), String> = async {
        prepare_browser(c).await?;
        prepare_tab(c, profile).await?;
        let cold = launch(c, bench, app, patient_id, profile).await?;
        second_tab(c)
            .await
            .map_err(|e| format!("{} second tab: {e}", app.label()))?;
        prepare_tab(c, profile).await?;
        let warm = launch(c, bench, app, patient_id, profile).await?;
        Ok((cold, warm))
    }
    .await;
    let _ = browser.client.close().await;
    result
}

/// Cairn's standalone start page under one profile: the medians of its cold loads.
struct StartPage {
    profile: &'static str,
    loads: usize,
    median: StartPageLoad,
}

/// One cold load of Cairn's standalone start page (a patient's first visit, no launch
/// parameters), in ms from navigating to it.
struct StartPageLoad {
    /// The choice of health system painted.
    shown: f64,
    /// The last byte of the page's own wasm.
    wasm_arrived: f64,
    /// The first request of the app's prefetch.
    app_requested: f64,
}

async fn start_page(bench: &Bench, profile: &Profile) -> Result<StartPageLoad, String> {
    let browser = support::browser_with_network_log(true).await;
    let c = &browser.client;
    let result = async {
        prepare_browser(c).await?;
        prepare_tab(c, profile).await?;
        let url = format!("{}/launch.html", bench.cairn_origin.trim_end_matches('/'));
        c.goto(&url).await.map_err(|e| format!("start page: {e}"))?;
        let times = c
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                 const app = e => /\/(cairn-[0-9a-f]+(_bg\.wasm|\.js)|chart-[0-9a-f]+\.css)$/
                     .test(e.name);
                 const own = e => /\/launch-[0-9a-f]+_bg\.wasm$/.test(e.name);
                 const poll = () => {
                     const entries = performance.getEntriesByType('resource');
                     const wasm = entries.find(own);
                     const asked = entries.filter(app).map(e => e.startTime);
                     if (window.__startShown && wasm && asked.length === 3) {
                         done([window.__startShown, wasm.responseEnd, Math.min(...asked)]);
                     } else {
                         setTimeout(poll, 50);
                     }
                 };
                 poll();"#,
                vec![],
            )
            .await
            .map_err(|e| format!("start page: {e}"))?;
        let at = |i: usize| {
            times[i]
                .as_f64()
                .ok_or_else(|| format!("start page: no time in {times}"))
        };
        Ok(StartPageLoad {
            shown: at(0)?,
            wasm_arrived: at(1)?,
            app_requested: at(2)?,
        })
    }
    .await;
    let _ = browser.client.close().await;
    result
}

async fn prepare_browser(c: &Client) -> Result<(), String> {
    c.update_timeouts(TimeoutConfiguration::new(
        Some(Duration::from_secs(180)),
        Some(Duration::from_secs(180)),
        Some(Duration::ZERO),
    ))
    .await
    .map_err(|e| format!("timeouts: {e}"))
}

/// The current tab under `profile`, with [`PAGE`] in every page.
async fn prepare_tab(c: &Client, profile: &Profile) -> Result<(), String> {
    let driver = |e: fantoccini::error::CmdError| format!("preparing a tab: {e}");
    c.issue_cmd(cdp("Network.enable", json!({})))
        .await
        .map_err(driver)?;
    if profile.emulated() {
        c.issue_cmd(cdp(
            "Network.emulateNetworkConditions",
            profile.conditions(),
        ))
        .await
        .map_err(driver)?;
    }
    c.issue_cmd(support::before_every_page(PAGE.into()))
        .await
        .map_err(driver)?;
    Ok(())
}

/// Moves the session to a new tab of the same browser (its cache, not its sessionStorage) and
/// closes the old one.
async fn second_tab(c: &Client) -> Result<(), fantoccini::error::CmdError> {
    let old = c.window().await?;
    let new = c.new_window(true).await?.handle;
    c.switch_to_window(old).await?;
    c.close_window().await?;
    c.switch_to_window(new).await?;
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
/// response held back by the EHR's own latency (0 unless `--ehr-latency-ms`).
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
    let cairn_origin = format!("http://127.0.0.1:{}", port(&cairn_listener));
    let mut config = Config::dev(port(&ehr_listener), port(&cairn_listener));
    config.other_apps.push(RegisteredApp {
        name: "baseline".into(),
        launch_url: format!("{baseline_origin}/"),
        redirect_uri: format!("{baseline_origin}/"),
        origin: baseline_origin.clone(),
        client_id: "fhirclient-baseline".into(),
    });
    let ehr_url = format!("{}/", config.origin);
    let ehr = Ehr::new(config);
    ehr.set_latency(args.ehr_latency);
    let config_json = sandbox::cairn_config_json(&ehr);
    // A FHIR server compresses its JSON: the EHR's responses too.
    let preflight_ms = Arc::new(AtomicU64::new(0));
    let ehr_app = serve::production(
        serve::delay_preflights(ehr.router(), preflight_ms.clone()),
        None,
        Duration::ZERO,
    );
    tokio::spawn(async move { axum::serve(ehr_listener, ehr_app).await });
    for dir in [&args.dist, &args.baseline] {
        if !dir.join("index.html").is_file() {
            return Err(format!("no index.html in {}", dir.display()));
        }
    }
    // Cairn: the `_headers` its release ships (hashed files immutable, pages revalidated).
    let cairn_headers = support::headers_file_for(&args.dist, &config_json, "/");
    let cairn = apphost::Site {
        headers: cairn_headers.clone(),
        // Cairn's pages carry their CSP in a <meta> too; the baseline's carry none.
        page_policy: Some(support::page_policy_for(&args.dist, &config_json)),
        dist: args.dist.clone(),
        base_path: "/".into(),
        config_json: Some(config_json.clone()),
    };
    // The baseline: the same security headers, and an hour's caching for every file.
    let baseline = apphost::Site {
        headers: baseline_headers(&cairn_headers)?,
        page_policy: None,
        dist: args.baseline.clone(),
        base_path: "/".into(),
        config_json: None,
    };
    for (listener, site) in [(cairn_listener, cairn), (baseline_listener, baseline)] {
        tokio::spawn(serve::serve(listener, site, args.ehr_latency));
    }
    Ok(Bench {
        ehr,
        ehr_url,
        cairn_origin,
        baseline_origin,
        baseline_dir: args.baseline.clone(),
        preflight_ms,
    })
}

/// The baseline's `_headers`: Cairn's security headers (its rule for everything) and
/// `Cache-Control: max-age=3600` on every file.
fn baseline_headers(cairn_headers: &str) -> Result<String, String> {
    let rules = apphost::parse_headers_file(cairn_headers)?;
    let security = rules
        .iter()
        .find(|r| r.prefix && r.path == "/")
        .ok_or("Cairn's _headers has no rule for /*")?;
    let mut out = String::from("/*\n");
    for (name, value) in &security.headers {
        if !name.eq_ignore_ascii_case("cache-control") {
            out.push_str(&format!("  {name}: {value}\n"));
        }
    }
    out.push_str("  Cache-Control: max-age=3600\n");
    Ok(out)
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
        // Cairn's standalone start page (no launch parameters): when its choice of health
        // system was first painted. Only there, so that no measured launch pays for watching
        // its DOM.
        if (location.pathname.endsWith('/launch.html') && !location.search) {
            new MutationObserver((_, observer) => {
                if (document.querySelector('.system__name')) {
                    observer.disconnect();
                    requestAnimationFrame(() => setTimeout(() => {
                        window.__startShown = performance.now();
                    }));
                }
            }).observe(document, { childList: true, subtree: true });
        }
        let started = null;
        addEventListener('TrunkApplicationStarted', e => {
            window.__benchWasm = e.detail.wasm;
            started = performance.now();
        });
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
                wasm_started: started,
                marks: performance.getEntriesByType('mark').map(m => [m.startTime, m.name]),
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
        if let Some(started) = at(&page["wasm_started"]) {
            steps.push(Step {
                start: started,
                end: started,
                what: format!("{label}: wasm instantiated, its main returned"),
            });
        }
        for m in page["marks"].as_array().into_iter().flatten() {
            let name = m[1].as_str().unwrap_or_default();
            // The three marks every launch waits for are listed once, below the pages.
            let measured = ["banner", "first-observations", "all-loaded"]
                .iter()
                .any(|metric| name.ends_with(&format!(":{metric}")));
            if let (Some(t), false) = (at(&m[0]), measured) {
                steps.push(Step {
                    start: t,
                    end: t,
                    what: format!("{label}: mark {name}"),
                });
            }
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

/// Launches `app` for `patient_id` from the EHR page in the current tab (prepared by
/// [`prepare_tab`]) and waits for its three marks, then for the network to settle.
async fn launch(
    c: &Client,
    bench: &Bench,
    app: App,
    patient_id: &str,
    profile: &Profile,
) -> Result<Launch, String> {
    let driver =
        |e: fantoccini::error::CmdError| format!("{} launch ({}): {e}", app.label(), profile.name);
    // What the browser logged before this launch is not this launch's.
    c.issue_cmd(support::network_log()).await.map_err(driver)?;
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

    // Requests still in flight (a style sheet, a key set) finish before the logs are read.
    // The browser's requests first: a request the app makes after its last mark (Cairn's
    // launch Encounter read on a slow network) reaches the EHR's log only once sent.
    let requests = network_requests(c).await.map_err(driver)?;
    let log = answered_log(&bench.ehr, first_logged).await;
    if std::env::var_os("BENCH_DEBUG").is_some() {
        let t0 = requests
            .iter()
            .filter_map(|r| r.sent)
            .fold(f64::INFINITY, f64::min);
        for r in &requests {
            eprintln!(
                "{:>7.0} {:>7.0} {:>7.0} {:>7} {:<9} {} {:?} cache={} {}",
                (r.sent.unwrap_or(f64::NAN) - t0) * 1000.0,
                (r.headers_in.unwrap_or(f64::NAN) - t0) * 1000.0,
                (r.finished.unwrap_or(f64::NAN) - t0) * 1000.0,
                r.bytes,
                r.kind,
                r.method,
                r.status,
                r.from_cache,
                r.url.chars().take(110).collect::<String>()
            );
        }
    }
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
    let mut fhir: Vec<String> = after
        .iter()
        .filter(|e| e.method == "GET" && e.path.starts_with("/fhir/"))
        .map(|e| e.path.clone())
        .collect();
    fhir.sort();
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
    let ehr_origin = bench.ehr_url.trim_end_matches('/');
    Ok(Launch {
        app,
        callback: origin - start,
        banner: at("banner"),
        first_observations: at("first"),
        all_loaded: at("all"),
        trips: rounds::round_trips(&after, patient_id, true),
        own_trips: rounds::round_trips(&after, patient_id, false),
        exchanges,
        fhir,
        bytes: network::bytes(&requests, bench.origin(app), ehr_origin),
        requests: requests.len(),
        from_cache: requests.iter().filter(|r| r.from_cache).count(),
        emulation: network::emulation_check(&requests),
        timeline,
        long_frames,
    })
}

/// The tab's requests since the last read of the performance log, once every one of them has
/// finished and none began for 300 ms (at most 20 s).
async fn network_requests(
    c: &Client,
) -> Result<Vec<network::Request>, fantoccini::error::CmdError> {
    let mut entries: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut quiet = 0;
    let mut seen = 0;
    loop {
        let log = c.issue_cmd(support::network_log()).await?;
        entries.extend(log.as_array().into_iter().flatten().cloned());
        let requests = network::requests(&entries);
        quiet = if network::settled(&requests) && requests.len() == seen {
            quiet + 1
        } else {
            0
        };
        seen = requests.len();
        if quiet >= 3 || tokio::time::Instant::now() > deadline {
            return Ok(requests);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

async fn scale_run(
    c: &Client,
    bench: &Bench,
    app: App,
    patient_id: &str,
    profile: &Profile,
) -> Result<Scale, String> {
    let launch = launch(c, bench, app, patient_id, profile).await?;
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
