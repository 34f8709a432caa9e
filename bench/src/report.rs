//! The bench's tables (printed) and JSON (written under `target/bench/`).

use std::fmt::Write;

use serde_json::{Value, json};

use crate::network::Profile;
use crate::rounds::RoundTrips;
use crate::{App, Launch, ProfileRun, Scale};

/// What was measured, for the reader of the report.
pub struct Context {
    pub patient: String,
    pub observations: usize,
    pub encounters: usize,
    pub scale_observations: usize,
    /// The profile the scale launches ran under, if they ran.
    pub scale_profile: Option<String>,
    /// The EHR's (and app hosts') own latency, added to every profile's.
    pub ehr_latency_ms: f64,
    pub browser: String,
    pub machine: String,
    pub load_average: String,
    /// The FHIR requests both apps make (from Cairn's first launch).
    pub requests: Vec<String>,
    /// How long the run took.
    pub seconds: u64,
}

/// The targets, printed beside the measurements.
const BANNER_RATIO_TARGET: f64 = 0.85;
const ALL_LOADED_RATIO_TARGET: f64 = 1.0;
/// Cairn's banner at most this far above the floor, on the profiles with a latency.
const FLOOR_TARGET: f64 = 0.15;
const ROWS_TARGET: u64 = 300;
const HEAP_TARGET: u64 = 60_000_000;
/// A frame longer than this is a long one (the long-animation-frame threshold).
const LONG_FRAME_MS: f64 = 50.0;

/// The responses an EHR launch waits for one after another before the patient banner can be
/// painted, whatever the app (docs/performance.md, "The floor"): the EHR's page (which holds the
/// app's frame), the app's launch page, SMART discovery, the authorize redirect, the app's
/// callback page, the token, the CORS preflight of the first FHIR read (it carries a bearer
/// token to another origin), and the Patient read.
pub const UNAVOIDABLE_RESPONSES: u32 = 8;

/// The banner's floor under `profile` for a launch that moves `banner_path_bytes` on its way:
/// the unavoidable responses, each one latency, plus those bytes at the download rate. `None`
/// when nothing is emulated or added (loopback).
pub fn floor_ms(profile: &Profile, ehr_latency_ms: f64, banner_path_bytes: f64) -> Option<f64> {
    let latency = profile.latency_ms + ehr_latency_ms;
    if latency <= 0.0 && profile.down_bps.is_none() {
        return None;
    }
    let transfer = profile
        .down_bps
        .map_or(0.0, |bps| banner_path_bytes * 8.0 / bps * 1000.0);
    Some(f64::from(UNAVOIDABLE_RESPONSES) * latency + transfer)
}

pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

type Metric = fn(&Launch) -> f64;

const TIMES: [(&str, Metric); 4] = [
    ("banner painted", |l| l.banner),
    ("first observations painted", |l| l.first_observations),
    ("all pages loaded", |l| l.all_loaded),
    ("(callback page started)", |l| l.callback),
];

type Trip = fn(&RoundTrips) -> Option<u32>;

const TRIPS: [(&str, Trip); 5] = [
    ("token", |t| t.token),
    ("Patient read (banner)", |t| t.banner),
    ("first Observation page", |t| t.first_observations),
    ("every first data request", |t| t.first_data),
    ("last request", |t| t.all),
];

fn ratios(pairs: &[(Launch, Launch)], metric: Metric) -> Vec<f64> {
    pairs.iter().map(|(a, b)| metric(a) / metric(b)).collect()
}

fn of_app(pairs: &[(Launch, Launch)], app: App) -> Vec<&Launch> {
    pairs
        .iter()
        .map(|(a, b)| if app == App::Cairn { a } else { b })
        .collect()
}

fn med(launches: &[&Launch], metric: Metric) -> f64 {
    median(launches.iter().map(|l| metric(l)))
}

fn trips_text(launches: &[&Launch], trip: Trip) -> String {
    let med = |own: bool| {
        median(
            launches
                .iter()
                .filter_map(|l| trip(if own { &l.own_trips } else { &l.trips }).map(f64::from)),
        )
    };
    format!("{} / {}", med(false), med(true))
}

/// One state (cold or warm) of one profile, summarised.
struct Summary {
    banner_ratio: f64,
    all_loaded_ratio: f64,
    cairn_banner: f64,
    cairn_floor: Option<f64>,
    baseline_floor: Option<f64>,
}

fn summary(profile: &Profile, ehr_latency_ms: f64, pairs: &[(Launch, Launch)]) -> Summary {
    let cairn = of_app(pairs, App::Cairn);
    let baseline = of_app(pairs, App::Baseline);
    let path = |ls: &[&Launch]| median(ls.iter().map(|l| l.bytes.banner_path as f64));
    Summary {
        banner_ratio: median(ratios(pairs, |l| l.banner)),
        all_loaded_ratio: median(ratios(pairs, |l| l.all_loaded)),
        cairn_banner: med(&cairn, |l| l.banner),
        cairn_floor: floor_ms(profile, ehr_latency_ms, path(&cairn)),
        baseline_floor: floor_ms(profile, ehr_latency_ms, path(&baseline)),
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn state_tables(out: &mut String, context: &Context, run: &ProfileRun, state: &str) {
    let pairs = if state == "cold" {
        &run.cold
    } else {
        &run.warm
    };
    let cairn = of_app(pairs, App::Cairn);
    let baseline = of_app(pairs, App::Baseline);
    let _ = writeln!(
        out,
        "\n-- {} {state} ({} pairs) --\n{:<36} {:>9} {:>9} {:>14} {:>8}",
        run.profile.name,
        pairs.len(),
        "ms from the EHR launch URL (median)",
        "Cairn",
        "baseline",
        "ratio (pairs)",
        "target"
    );
    for (i, (name, metric)) in TIMES.iter().enumerate() {
        let target = match i {
            0 => format!("<= {BANNER_RATIO_TARGET}"),
            2 => format!("<= {ALL_LOADED_RATIO_TARGET}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<36} {:>9.0} {:>9.0} {:>14.2} {:>8}",
            name,
            med(&cairn, *metric),
            med(&baseline, *metric),
            median(ratios(pairs, *metric)),
            target
        );
    }
    let bytes = |ls: &[&Launch], f: fn(&Launch) -> u64| median(ls.iter().map(|l| f(l) as f64));
    for (name, f) in [
        (
            "bytes moved per launch",
            (|l: &Launch| l.bytes.total) as fn(&Launch) -> u64,
        ),
        ("  of which the app's own files", |l: &Launch| {
            l.bytes.app_files
        }),
        ("  of which on the banner's path", |l: &Launch| {
            l.bytes.banner_path
        }),
        ("requests (median)", |l: &Launch| l.requests as u64),
        ("  answered from the HTTP cache", |l: &Launch| {
            l.from_cache as u64
        }),
    ] {
        let _ = writeln!(
            out,
            "{:<36} {:>9.0} {:>9.0}",
            name,
            bytes(&cairn, f),
            bytes(&baseline, f)
        );
    }
    let s = summary(&run.profile, context.ehr_latency_ms, pairs);
    match (s.cairn_floor, s.baseline_floor) {
        (Some(cairn_floor), Some(baseline_floor)) => {
            let latency = run.profile.latency_ms + context.ehr_latency_ms;
            let _ = writeln!(
                out,
                "floor of the banner: {UNAVOIDABLE_RESPONSES} responses x {latency} ms + banner-path \
                 bytes / bandwidth = {cairn_floor:.0} ms for Cairn's bytes ({baseline_floor:.0} \
                 ms for the baseline's); Cairn's banner is {:+.0} % from its floor (target <= \
                 +{:.0} %)",
                (s.cairn_banner / cairn_floor - 1.0) * 100.0,
                FLOOR_TARGET * 100.0
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "floor of the banner: none (no latency, no bandwidth limit)"
            );
        }
    }
    if run.profile.emulated() {
        let wait = median(
            pairs
                .iter()
                .flat_map(|(a, b)| [a, b])
                .filter_map(|l| l.emulation.min_wait_ms),
        );
        let largest = pairs
            .iter()
            .flat_map(|(a, b)| [a, b])
            .filter_map(|l| l.emulation.largest.clone())
            .max_by_key(|(_, bytes, _)| *bytes);
        let _ = write!(
            out,
            "emulation check: shortest wait for a response {wait:.0} ms (median of launches)"
        );
        if let Some((url, bytes, ms)) = largest {
            let name = url.rsplit('/').next().unwrap_or(&url);
            let latency = run.profile.latency_ms;
            let _ = write!(
                out,
                "; largest response {name}: {bytes} B in {ms:.0} ms from request to last byte \
                 = {:.0} kbit/s after the {latency} ms latency",
                bytes as f64 * 8.0 / (ms - latency)
            );
        }
        let _ = writeln!(out);
    }
    // From the EHR's log: meaningful only when the EHR itself adds a latency well above its
    // jitter, and without emulation (the browser holds back what it emulates, unseen by the
    // EHR): `--profiles loopback --ehr-latency-ms 50`.
    if state == "cold" && !run.profile.emulated() && context.ehr_latency_ms > 0.0 {
        let _ = writeln!(
            out,
            "sequential round trips after the callback (median; with CORS preflights / without)"
        );
        for (name, trip) in TRIPS {
            let _ = writeln!(
                out,
                "{:<36} {:>9} {:>9}",
                name,
                trips_text(&cairn, trip),
                trips_text(&baseline, trip),
            );
        }
        let requests = |ls: &[&Launch]| median(ls.iter().map(|l| l.exchanges.len() as f64));
        let _ = writeln!(
            out,
            "{:<36} {:>9} {:>9}",
            "EHR requests after the callback",
            requests(&cairn),
            requests(&baseline)
        );
    }
    let _ = writeln!(
        out,
        "per pair (ms; Cairn / baseline = ratio)\n{:<5} {:>22} {:>22} {:>22}",
        "pair", "banner", "first observations", "all loaded"
    );
    for (n, (a, b)) in pairs.iter().enumerate() {
        let cell = |m: Metric| format!("{:.0}/{:.0}={:.2}", m(a), m(b), m(a) / m(b));
        let _ = writeln!(
            out,
            "{:<5} {:>22} {:>22} {:>22}",
            n + 1,
            cell(TIMES[0].1),
            cell(TIMES[1].1),
            cell(TIMES[2].1)
        );
    }
}

pub fn tables(
    context: &Context,
    runs: &[ProfileRun],
    scale: &[Scale],
    first_load: &Value,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n== Launch to chart: {} ({} observations, {} encounters); EHR latency {} ms ==",
        context.patient, context.observations, context.encounters, context.ehr_latency_ms
    );
    for run in runs {
        let _ = writeln!(out, "\n== {} ==", run.profile.describe());
        for state in ["cold", "warm"] {
            state_tables(&mut out, context, run, state);
        }
    }

    let _ = writeln!(
        out,
        "\n== Targets ==\n{:<16} {:>22} {:>22} {:>26}",
        "profile", "banner ratio <= 0.85", "all loaded <= 1.0", "Cairn vs floor <= +15 %"
    );
    for run in runs {
        for (state, pairs) in [("cold", &run.cold), ("warm", &run.warm)] {
            let s = summary(&run.profile, context.ehr_latency_ms, pairs);
            let floor = match s.cairn_floor.filter(|_| run.profile.latency_ms > 0.0) {
                Some(f) => {
                    let d = s.cairn_banner / f - 1.0;
                    format!("{:+.0} % {}", d * 100.0, verdict(d <= FLOOR_TARGET))
                }
                None => "-".into(),
            };
            let _ = writeln!(
                out,
                "{:<16} {:>22} {:>22} {:>26}",
                format!("{} {state}", run.profile.name),
                format!(
                    "{:.2} {}",
                    s.banner_ratio,
                    verdict(s.banner_ratio <= BANNER_RATIO_TARGET)
                ),
                format!(
                    "{:.2} {}",
                    s.all_loaded_ratio,
                    verdict(s.all_loaded_ratio <= ALL_LOADED_RATIO_TARGET)
                ),
                floor
            );
        }
    }

    if let Some(apps) = first_load.as_object() {
        let _ = writeln!(
            out,
            "\nfirst-load bytes (total)          {:>9} {:>9} {:>9}",
            "raw", "gzip", "brotli"
        );
        for (app, load) in apps {
            let total = |key: &str| load["total"][key].as_u64().unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<34} {:>9} {:>9} {:>9}",
                app,
                total("raw"),
                total("gzip"),
                total("brotli"),
            );
        }
    }

    if !scale.is_empty() {
        let _ = writeln!(
            out,
            "\n== Scale: {} observations ({}, cold) ==\n{:<34} {:>12} {:>12} {:>8}",
            context.scale_observations,
            context.scale_profile.as_deref().unwrap_or_default(),
            "",
            "Cairn",
            "baseline",
            "target"
        );
        let row = |out: &mut String, name: &str, f: &dyn Fn(&Scale) -> String, target: &str| {
            let cells: Vec<String> = scale.iter().map(f).collect();
            let _ = writeln!(
                out,
                "{:<34} {:>12} {:>12} {:>8}",
                name,
                cells.first().cloned().unwrap_or_default(),
                cells.get(1).cloned().unwrap_or_default(),
                target
            );
        };
        row(
            &mut out,
            "first rows painted (ms)",
            &|s| format!("{:.0}", s.launch.first_observations),
            "",
        );
        row(
            &mut out,
            "all pages loaded (ms)",
            &|s| format!("{:.0}", s.launch.all_loaded),
            "",
        );
        row(
            &mut out,
            "round trips token -> first rows",
            &|s| {
                let after = |t: &RoundTrips| {
                    t.first_observations
                        .zip(t.token)
                        .map(|(f, t)| (f - t).to_string())
                        .unwrap_or_default()
                };
                if context.ehr_latency_ms > 0.0 {
                    format!(
                        "{} / {}",
                        after(&s.launch.trips),
                        after(&s.launch.own_trips)
                    )
                } else {
                    "-".into()
                }
            },
            "1",
        );
        row(
            &mut out,
            "DOM elements after load",
            &|s| s.dom_elements.to_string(),
            "",
        );
        row(
            &mut out,
            "table rows in the DOM (max)",
            &|s| {
                s.max_table_rows_scrolling
                    .max(s.table_rows_after_load)
                    .to_string()
            },
            &format!("<= {ROWS_TARGET}"),
        );
        row(
            &mut out,
            "JS heap after load, GC'd (MB)",
            &|s| format!("{:.1}", s.js_heap_bytes as f64 / 1e6),
            &format!("<= {}", HEAP_TARGET / 1_000_000),
        );
        row(
            &mut out,
            "wasm memory (MB)",
            &|s| {
                s.wasm_memory_bytes
                    .map(|b| format!("{:.1}", b as f64 / 1e6))
                    .unwrap_or_else(|| "-".into())
            },
            "",
        );
        row(
            &mut out,
            "scroll: frames, median/p95/max ms",
            &|s| {
                format!(
                    "{} {:.0}/{:.0}/{:.0}",
                    s.frame_ms.len(),
                    median(s.frame_ms.iter().copied()),
                    percentile(&s.frame_ms, 95.0),
                    s.frame_ms.iter().copied().fold(0.0, f64::max)
                )
            },
            "",
        );
        row(
            &mut out,
            "scroll: distance (px)",
            &|s| format!("{:.0}", s.scrolled_px),
            "",
        );
        row(
            &mut out,
            "scroll: frames > 50 ms / LoAFs",
            &|s| {
                format!(
                    "{} / {}",
                    s.frame_ms.iter().filter(|&&d| d > LONG_FRAME_MS).count(),
                    s.long_animation_frames.len()
                )
            },
            "0",
        );
    }

    let _ = writeln!(
        out,
        "\nbrowser: {}\nmachine: {}; 1-minute load average {}\nthe run took {} s",
        context.browser, context.machine, context.load_average, context.seconds
    );
    out
}

/// One launch as the page saw it (everything its frame loaded, ms from the EHR launch URL),
/// and the EHR's log after the callback with each request's depth in round trips.
fn critical_path(launch: &Launch) -> String {
    let mut out = format!(
        "\n-- {} (pair 1): the app's frame, ms from navigating to the EHR launch URL --\n",
        launch.app.label()
    );
    for step in &launch.timeline {
        let what: String = step.what.chars().take(100).collect();
        let _ = writeln!(out, "  {:>6.0} {:>6.0}  {what}", step.start, step.end);
    }
    let long = launch.long_frames.iter().fold(0.0, |sum, (_, d)| sum + d);
    let _ = writeln!(
        out,
        "  long animation frames (> 50 ms): {}, {:.0} ms in all{}",
        launch.long_frames.len(),
        long,
        launch
            .long_frames
            .iter()
            .map(|(s, d)| format!("; at {s:.0} for {d:.0}"))
            .collect::<String>()
    );
    let _ = writeln!(
        out,
        "EHR log after the callback: depth, arrived and answered (ms from the token request)"
    );
    for (e, depth) in &launch.exchanges {
        let path: String = e.path.chars().take(90).collect();
        let _ = writeln!(
            out,
            "  {depth:>3} {:>6.0} {:>6.0}  {} {path}",
            e.received, e.answered, e.method
        );
    }
    out
}

fn trips_json(t: &RoundTrips) -> Value {
    json!({
        "token": t.token,
        "banner": t.banner,
        "first_observations": t.first_observations,
        "first_data": t.first_data,
        "all": t.all,
    })
}

fn launch_json(l: &Launch) -> Value {
    json!({
        "app": l.app.label(),
        "callback_ms": l.callback,
        "banner_ms": l.banner,
        "first_observations_ms": l.first_observations,
        "all_loaded_ms": l.all_loaded,
        "bytes": { "total": l.bytes.total, "app_files": l.bytes.app_files,
                   "banner_path": l.bytes.banner_path },
        "requests": l.requests,
        "from_cache": l.from_cache,
        "emulation_check": {
            "min_wait_ms": l.emulation.min_wait_ms,
            "largest": l.emulation.largest.as_ref().map(|(url, bytes, ms)| json!({
                "url": url, "bytes": bytes, "request_to_last_byte_ms": ms,
            })),
        },
        "fhir_requests": l.fhir,
        "round_trips_with_preflights": trips_json(&l.trips),
        "round_trips_without_preflights": trips_json(&l.own_trips),
        "ehr_log_after_callback": l.exchanges.iter().map(|(e, depth)| json!({
            "method": e.method, "path": e.path, "received_ms": e.received,
            "answered_ms": e.answered, "depth": depth,
        })).collect::<Vec<_>>(),
        "timeline": l.timeline.iter().map(|s| json!({
            "start_ms": s.start, "end_ms": s.end, "what": s.what,
        })).collect::<Vec<_>>(),
        "long_animation_frames": l.long_frames.iter().map(|(s, d)| json!({
            "start_ms": s, "duration_ms": d,
        })).collect::<Vec<_>>(),
    })
}

/// Pair 1 of each profile and state, as each app's frame saw it.
pub fn timelines(runs: &[ProfileRun]) -> String {
    let mut out = String::new();
    for run in runs {
        for (state, pairs) in [("cold", &run.cold), ("warm", &run.warm)] {
            if let Some((cairn, baseline)) = pairs.first() {
                let _ = writeln!(out, "\n==== {} {state} ====", run.profile.name);
                out.push_str(&critical_path(cairn));
                out.push_str(&critical_path(baseline));
            }
        }
    }
    out
}

fn pairs_json(profile: &Profile, ehr_latency_ms: f64, pairs: &[(Launch, Launch)]) -> Value {
    let medians: Vec<Value> = TIMES
        .iter()
        .map(|(name, metric)| {
            json!({
                "metric": name,
                "cairn_ms": med(&of_app(pairs, App::Cairn), *metric),
                "baseline_ms": med(&of_app(pairs, App::Baseline), *metric),
                "ratio_median_of_pairs": median(ratios(pairs, *metric)),
            })
        })
        .collect();
    let s = summary(profile, ehr_latency_ms, pairs);
    json!({
        "medians": medians,
        "bytes_median": {
            "cairn": median(of_app(pairs, App::Cairn).iter().map(|l| l.bytes.total as f64)),
            "baseline": median(of_app(pairs, App::Baseline).iter().map(|l| l.bytes.total as f64)),
        },
        "floor_ms": { "cairn": s.cairn_floor, "baseline": s.baseline_floor,
                      "unavoidable_responses": UNAVOIDABLE_RESPONSES },
        "pairs": pairs.iter().map(|(a, b)| json!([launch_json(a), launch_json(b)]))
            .collect::<Vec<_>>(),
    })
}

pub fn json(context: &Context, runs: &[ProfileRun], scale: &[Scale], first_load: Value) -> Value {
    json!({
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
        "seconds": context.seconds,
        "browser": context.browser,
        "machine": context.machine,
        "load_average": context.load_average,
        "ehr_latency_ms": context.ehr_latency_ms,
        "patient": { "name": context.patient, "observations": context.observations,
                     "encounters": context.encounters },
        "fhir_requests": context.requests,
        "first_load": first_load,
        "profiles": runs.iter().map(|run| json!({
            "profile": run.profile.name,
            "latency_ms": run.profile.latency_ms,
            "down_bps": run.profile.down_bps,
            "up_bps": run.profile.up_bps,
            "cold": pairs_json(&run.profile, context.ehr_latency_ms, &run.cold),
            "warm": pairs_json(&run.profile, context.ehr_latency_ms, &run.warm),
        })).collect::<Vec<_>>(),
        "scale": scale.iter().map(|s| json!({
            "observations": context.scale_observations,
            "profile": context.scale_profile,
            "launch": launch_json(&s.launch),
            "dom_elements": s.dom_elements,
            "table_rows_after_load": s.table_rows_after_load,
            "max_table_rows_while_scrolling": s.max_table_rows_scrolling,
            "js_heap_bytes_after_gc": s.js_heap_bytes,
            "wasm_memory_bytes": s.wasm_memory_bytes,
            "scroll_frame_ms": s.frame_ms,
            "long_animation_frame_ms": s.long_animation_frames,
            "scrolled_px": s.scrolled_px,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median([]).is_nan());
        assert_eq!(median([f64::NAN, 5.0]), 5.0);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
    }

    #[test]
    fn the_floor_is_latency_per_unavoidable_response_plus_bytes_at_the_link_rate() {
        let phone = Profile::by_name("phone").unwrap();
        // 8 x 150 ms + 200 000 B at 1.6 Mbit/s (1 s).
        assert_eq!(floor_ms(&phone, 0.0, 200_000.0), Some(2200.0));
        let wan = Profile::by_name("50ms").unwrap();
        assert_eq!(floor_ms(&wan, 10.0, 1e9), Some(480.0));
        let loopback = Profile::by_name("loopback").unwrap();
        assert_eq!(floor_ms(&loopback, 0.0, 1e6), None);
        assert_eq!(floor_ms(&loopback, 50.0, 1e6), Some(400.0));
    }
}
