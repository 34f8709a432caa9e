//! Cairn's automation: `cargo xtask <command>`.
//!
//! Every command installs what it needs first, so the README's two commands work on a fresh
//! machine. Installing is idempotent and takes milliseconds once done.

mod bench;
mod bytes;
#[cfg(test)]
mod tidy;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo    build Cairn (release) and run it against the development EHR
  test    run every test: lint, native, browser (wasm-bindgen-test) and end to end in Chromium
  dist    build the release into dist/
  bench   measure Cairn against a fhirclient baseline in Chromium (not a test; see
          docs/performance.md): cargo xtask bench [--pairs N] [--latency-ms MS]
  tools   install the build and test tools only
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(),
        Some("bench") => bench::run(&args[1..]),
        Some("dist") => tools::ensure_build_tools().and_then(|env| dist(&env)),
        Some("tools") => tools::ensure_build_tools()
            .and_then(|_| tools::ensure_browser())
            .map(|_| ()),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

pub type Result<T> = std::result::Result<T, String>;

/// The workspace root, whatever directory cargo was started from.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

pub fn dist(env: &tools::ToolEnv) -> Result<()> {
    step("building the release into dist/");
    run(env
        .command("trunk")
        .args(["build", "--release", "--offline"])
        .env("TRUNK_OFFLINE", "true"))
}

fn demo() -> Result<()> {
    let env = tools::ensure_build_tools()?;
    dist(&env)?;
    step("starting the development EHR and Cairn (Ctrl-C stops them)");
    println!("Open the EHR page below, pick a patient, and Cairn launches inside it.");
    run(env.command("cargo").args([
        "run",
        "--quiet",
        "--package",
        "sandbox",
        "--",
        "--ehr-port",
        "9090",
        "--app-port",
        "8080",
        "--dist",
        "dist",
    ]))
}

fn test() -> Result<()> {
    let env = tools::ensure_build_tools()?;
    let browser = tools::ensure_browser()?;

    step("formatting (cargo fmt --check)");
    run(env.command("cargo").args(["fmt", "--all", "--", "--check"]))?;

    step("lints, native and wasm32 (clippy -D warnings)");
    run(env.command("cargo").args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(env.command("cargo").args([
        "clippy",
        "--package",
        "cairn",
        "--all-targets",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;

    dist(&env)?;

    step("first-load bytes of dist/ (brotli total within xtask/src/bytes.rs BROTLI_BUDGET)");
    let load = bytes::first_load(&project_root().join("dist"), bytes::CAIRN_FETCHED)?;
    print!("{}", load.table());
    load.within(bytes::BROTLI_BUDGET)?;

    step("native tests: core, development EHR, tidy, end to end in Chromium");
    run(env
        .command("cargo")
        .args(["test", "--workspace"])
        .env("CAIRN_DIST", project_root().join("dist"))
        .env("AXE_CORE", tools::axe_script())
        .env("CHROMEDRIVER", &browser.chromedriver)
        .env("CHROMIUM", &browser.chromium))?;

    step("browser tests: wasm-bindgen-test in headless Chromium");
    run(env
        .command("cargo")
        .args([
            "test",
            "--package",
            "cairn",
            "--target",
            "wasm32-unknown-unknown",
            "--test",
            "web",
        ])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env("CHROMEDRIVER", &browser.chromedriver)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120"))?;

    step("all tests passed");
    Ok(())
}

pub fn step(what: &str) {
    println!("\n==> {what}");
}

/// Runs a command to completion, failing with its command line when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .current_dir(project_root())
        .status()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}
