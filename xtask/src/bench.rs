//! `cargo xtask bench [--pairs N] [--profiles loopback,50ms,phone] [--ehr-latency-ms MS]
//! [--no-scale]`: Cairn against a `fhirclient` baseline, in one measured run
//! (docs/performance.md). Not a test: nothing here passes or fails on a time. It builds Cairn's
//! release, installs the baseline's library and precompresses it as the release is, measures
//! both first loads (`bytes.rs`), then runs the browser half (`bench/`, built with
//! optimisations so the EHR's own time stays small beside the latency), which prints the
//! tables and writes `target/bench/report.json`.

use std::path::{Path, PathBuf};

use crate::bytes::{self, FirstLoad};
use crate::{Result, project_root, run as run_command, step, tools};

/// The baseline's own files, beside fhirclient's browser build.
const BASELINE_FILES: &[&str] = &["index.html", "app.js"];
/// fhirclient's bundle for browsers with fetch and promises (no polyfills): the smallest one
/// the package ships, so the baseline is measured at its best.
const FHIRCLIENT_BUNDLE: &str = "fhir-client.pure.min.js";

pub fn run(args: &[String]) -> Result<()> {
    let mut passed: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--no-scale" => passed.push(flag.clone()),
            "--pairs" | "--ehr-latency-ms" | "--profiles" => {
                let value = it.next().ok_or(format!("{flag} needs a value"))?;
                if flag != "--profiles" {
                    value
                        .parse::<u64>()
                        .map_err(|e| format!("{flag} {value}: {e}"))?;
                }
                passed.extend([flag.clone(), value.clone()]);
            }
            other => return Err(format!("unknown bench argument {other:?}")),
        }
    }
    let env = tools::ensure_build_tools()?;
    let browser = tools::ensure_browser()?;
    let fhirclient = tools::ensure_fhirclient(&env)?;
    crate::dist(&env, &crate::Dist::default_release())?;

    let out = project_root().join("target").join("bench");
    let site = out.join("baseline");
    step("the baseline: bench/baseline and fhirclient's browser build, into target/bench/baseline");
    assemble_baseline(&fhirclient, &site)?;

    step("first-load bytes");
    let dist = project_root().join("dist");
    let launch = bytes::first_load(&dist, "launch.html", bytes::CAIRN_FETCHED)?;
    let cairn = bytes::first_load(&dist, "index.html", bytes::CAIRN_FETCHED)?;
    let baseline = bytes::first_load(&site, "index.html", &[])?;
    println!(
        "Cairn's launch page (dist/launch.html):\n{}",
        launch.table()
    );
    println!(
        "Cairn's callback page and chart (dist/index.html):\n{}",
        cairn.table()
    );
    println!("baseline (target/bench/baseline/):\n{}", baseline.table());
    let first_load = out.join("first-load.json");
    let json = format!(
        "{{\"Cairn\": {}, \"baseline\": {}}}",
        load_json(&cairn),
        load_json(&baseline)
    );
    std::fs::write(&first_load, json).map_err(|e| format!("{}: {e}", first_load.display()))?;

    step("launches in headless Chromium (bench/, optimised build)");
    let path = |p: &Path| p.to_string_lossy().into_owned();
    run_command(
        env.command("cargo")
            .args(["run", "--release", "--quiet", "--package", "bench", "--"])
            .args(["--dist", &path(&dist), "--baseline", &path(&site)])
            .args(["--out", &path(&out.join("report.json"))])
            .args(["--first-load", &path(&first_load)])
            .args(&passed)
            .env("CHROMEDRIVER", &browser.chromedriver)
            .env("CHROMIUM", &browser.chromium),
    )
}

/// A fresh copy of the baseline app with the library beside it, served as one static site.
fn assemble_baseline(fhirclient_build: &Path, site: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(site);
    std::fs::create_dir_all(site).map_err(|e| format!("{}: {e}", site.display()))?;
    let sources: Vec<PathBuf> = BASELINE_FILES
        .iter()
        .map(|f| project_root().join("bench").join("baseline").join(f))
        .chain([fhirclient_build.join(FHIRCLIENT_BUNDLE)])
        .collect();
    for source in sources {
        let name = source.file_name().ok_or("a file without a name")?;
        std::fs::copy(&source, site.join(name))
            .map_err(|e| format!("{}: {e}", source.display()))?;
    }
    // Served as production serves a static site: scripts precompressed like Cairn's.
    crate::precompress(site)
}

fn load_json(load: &FirstLoad) -> String {
    let file = |f: &bytes::FileBytes| {
        format!(
            "{{\"name\": \"{}\", \"raw\": {}, \"gzip\": {}, \"brotli\": {}}}",
            f.name.replace(['"', '\\'], "_"),
            f.raw,
            f.gzip,
            f.brotli
        )
    };
    let files: Vec<String> = load.files.iter().map(file).collect();
    format!(
        "{{\"files\": [{}], \"total\": {}}}",
        files.join(", "),
        file(&load.total())
    )
}
