//! The bench's table (printed) and JSON (written under `target/bench/`).

use std::fmt::Write;

use serde_json::{Value, json};

use crate::rounds::RoundTrips;
use crate::{App, Launch, Scale};

/// What was measured, for the reader of the report.
pub struct Context {
    pub patient: String,
    pub observations: usize,
    pub encounters: usize,
    pub scale_observations: usize,
    pub latency_ms: u64,
    pub browser: String,
    pub machine: String,
    pub load_average: String,
}

/// The targets, printed beside the measurements.
const RATIO_TARGET: f64 = 0.6;
const FIRST_DATA_TRIPS_TARGET: u32 = 2;
const BROTLI_TARGET: u64 = 120_000;
const ROWS_TARGET: u64 = 300;
const HEAP_TARGET: u64 = 60_000_000;
/// A frame longer than this is a long one (the long-animation-frame threshold).
const LONG_FRAME_MS: f64 = 50.0;

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
    ("last page", |t| t.all),
];

fn ratios(pairs: &[(Launch, Launch)], metric: Metric) -> Vec<f64> {
    pairs.iter().map(|(a, b)| metric(a) / metric(b)).collect()
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

pub fn tables(
    context: &Context,
    pairs: &[(Launch, Launch)],
    scale: &[Scale],
    first_load: &Value,
) -> String {
    let mut out = String::new();
    let cairn: Vec<&Launch> = pairs.iter().map(|(a, _)| a).collect();
    let baseline: Vec<&Launch> = pairs.iter().map(|(_, b)| b).collect();
    let _ = writeln!(
        out,
        "\n== Launch to chart: {} ({} observations, {} encounters), +{} ms per response, {} pairs ==",
        context.patient,
        context.observations,
        context.encounters,
        context.latency_ms,
        pairs.len()
    );
    let _ = writeln!(
        out,
        "{:<34} {:>9} {:>9} {:>16} {:>8}",
        "ms from the EHR launch URL (median)", "Cairn", "baseline", "ratio (pairs)", "target"
    );
    for (i, (name, metric)) in TIMES.iter().enumerate() {
        let target = if i < 2 {
            format!("<= {RATIO_TARGET}")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<34} {:>9.0} {:>9.0} {:>16.2} {:>8}",
            name,
            median(cairn.iter().map(|l| metric(l))),
            median(baseline.iter().map(|l| metric(l))),
            median(ratios(pairs, *metric)),
            target
        );
    }
    let _ = writeln!(
        out,
        "\nsequential round trips after the callback (median; with CORS preflights / without)"
    );
    for (name, trip) in TRIPS {
        let target = if name == "every first data request" {
            format!("{FIRST_DATA_TRIPS_TARGET}")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<34} {:>9} {:>9} {:>16} {:>8}",
            name,
            trips_text(&cairn, trip),
            trips_text(&baseline, trip),
            "",
            target
        );
    }
    let requests = |ls: &[&Launch]| median(ls.iter().map(|l| l.exchanges.len() as f64));
    let _ = writeln!(
        out,
        "{:<34} {:>9} {:>9}",
        "EHR requests after the callback",
        requests(&cairn),
        requests(&baseline)
    );

    let _ = writeln!(
        out,
        "\nper pair (ms; Cairn / baseline = ratio)\n{:<5} {:>22} {:>22} {:>22}",
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

    if let Some(apps) = first_load.as_object() {
        let _ = writeln!(
            out,
            "\nfirst-load bytes (total)          {:>9} {:>9} {:>9}   target (brotli)",
            "raw", "gzip", "brotli"
        );
        for (app, load) in apps {
            let total = |key: &str| load["total"][key].as_u64().unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<34} {:>9} {:>9} {:>9}   {}",
                app,
                total("raw"),
                total("gzip"),
                total("brotli"),
                if app == "Cairn" {
                    format!("<= {BROTLI_TARGET}")
                } else {
                    String::new()
                }
            );
        }
    }

    if !scale.is_empty() {
        let _ = writeln!(
            out,
            "\n== Scale: {} observations ==\n{:<34} {:>12} {:>12} {:>8}",
            context.scale_observations, "", "Cairn", "baseline", "target"
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
                format!(
                    "{} / {}",
                    after(&s.launch.trips),
                    after(&s.launch.own_trips)
                )
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

    if let Some((cairn, baseline)) = pairs.first() {
        for launch in [cairn, baseline] {
            out.push_str(&critical_path(launch));
        }
    }
    let _ = writeln!(out, "\nbrowser: {}", context.browser);
    let _ = writeln!(
        out,
        "machine: {}; 1-minute load average {}",
        context.machine, context.load_average
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

pub fn json(
    context: &Context,
    pairs: &[(Launch, Launch)],
    scale: &[Scale],
    first_load: Value,
) -> Value {
    let med = |app: App, metric: Metric| {
        median(
            pairs
                .iter()
                .map(|(a, b)| if app == App::Cairn { a } else { b })
                .map(metric),
        )
    };
    let medians: Vec<Value> = TIMES
        .iter()
        .map(|(name, metric)| {
            json!({
                "metric": name,
                "cairn_ms": med(App::Cairn, *metric),
                "baseline_ms": med(App::Baseline, *metric),
                "ratio_median_of_pairs": median(ratios(pairs, *metric)),
            })
        })
        .collect();
    json!({
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
        "browser": context.browser,
        "machine": context.machine,
        "load_average": context.load_average,
        "latency_ms": context.latency_ms,
        "patient": { "name": context.patient, "observations": context.observations,
                     "encounters": context.encounters },
        "first_load": first_load,
        "launch_to_chart": {
            "medians": medians,
            "pairs": pairs.iter().map(|(a, b)| json!([launch_json(a), launch_json(b)]))
                .collect::<Vec<_>>(),
        },
        "scale": scale.iter().map(|s| json!({
            "observations": context.scale_observations,
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
}
