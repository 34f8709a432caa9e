//! Finds, and installs when missing, the tools the build and the tests need.
//!
//! Versions are pinned: Trunk to one release, wasm-bindgen-cli to the exact `wasm-bindgen` in
//! `Cargo.lock`, wasm-opt to npm's `binaryen` release named in `Trunk.toml`. Trunk is always run
//! offline, so it never downloads a tool of its own.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, project_root, run};

const TRUNK_VERSION: &str = "0.21.14";
const BINARYEN_NPM_VERSION: &str = "132";
/// axe-core, the accessibility checker the end-to-end tests run in the page.
const AXE_CORE_NPM_VERSION: &str = "4.14.1";
/// fhirclient, the library the benchmark's baseline app is built on (bench/baseline).
const FHIRCLIENT_NPM_VERSION: &str = "2.6.3";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The environment for child processes: `PATH` with cargo's bin directory and the local npm
/// tools in front.
pub struct ToolEnv {
    path: OsString,
}

impl ToolEnv {
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PATH", &self.path);
        cmd
    }
}

/// Where Chromium and its driver live.
pub struct Browser {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

pub fn ensure_build_tools() -> Result<ToolEnv> {
    let env = tool_env()?;
    ensure_wasm_target(&env)?;
    ensure_trunk(&env)?;
    ensure_wasm_bindgen(&env)?;
    ensure_wasm_opt(&env)?;
    Ok(env)
}

pub fn ensure_browser() -> Result<Browser> {
    let browser = Browser {
        chromium: PathBuf::from("/usr/bin/chromium"),
        chromedriver: PathBuf::from("/usr/bin/chromedriver"),
    };
    if browser.chromium.exists() && browser.chromedriver.exists() {
        return Ok(browser);
    }
    println!("installing Chromium and ChromeDriver from Debian (apt-get)");
    apt_install(&["chromium", "chromium-driver"])?;
    Ok(browser)
}

fn tool_env() -> Result<ToolEnv> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let mut dirs = vec![npm_bin_dir(), cargo_home.join("bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let path = std::env::join_paths(dirs).map_err(|e| format!("bad PATH: {e}"))?;
    Ok(ToolEnv { path })
}

fn npm_prefix() -> PathBuf {
    project_root().join("target").join("tools")
}

fn npm_bin_dir() -> PathBuf {
    npm_prefix().join("node_modules").join(".bin")
}

fn ensure_wasm_target(env: &ToolEnv) -> Result<()> {
    let installed = output(
        env.command("rustup")
            .args(["target", "list", "--installed"]),
    )?;
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    println!("adding the {WASM_TARGET} target");
    run(env.command("rustup").args(["target", "add", WASM_TARGET]))
}

fn ensure_trunk(env: &ToolEnv) -> Result<()> {
    if version_of(env, "trunk").as_deref() == Some(&format!("trunk {TRUNK_VERSION}")) {
        return Ok(());
    }
    println!("installing Trunk {TRUNK_VERSION} (cargo install, about 7 minutes once)");
    run(env
        .command("cargo")
        .args(["install", "--locked", "trunk", "--version", TRUNK_VERSION]))
}

fn ensure_wasm_bindgen(env: &ToolEnv) -> Result<()> {
    let version = locked_wasm_bindgen_version()?;
    let want = format!("wasm-bindgen {version}");
    let have = version_of(env, "wasm-bindgen");
    let runner = version_of(env, "wasm-bindgen-test-runner");
    if have.as_deref() == Some(want.as_str())
        && runner.is_some_and(|r| r.ends_with(version.as_str()))
    {
        return Ok(());
    }
    println!("installing wasm-bindgen-cli {version} (cargo install, about 3 minutes once)");
    // Not --locked: the CLI's own lock file pins crates that no longer build on this toolchain.
    run(env.command("cargo").args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={version}"),
    ]))
}

/// The npm tools: wasm-opt (binaryen) for the build and axe-core for the tests. Installed
/// together, because `npm install` into a prefix without a package.json removes packages
/// it was not given.
fn ensure_wasm_opt(env: &ToolEnv) -> Result<()> {
    let want = format!("(version_{BINARYEN_NPM_VERSION})");
    let wasm_opt = npm_bin_dir().join("wasm-opt");
    if version_of_path(env, &wasm_opt).is_some_and(|v| v.ends_with(&want))
        && npm_has(&npm_prefix(), "axe-core", AXE_CORE_NPM_VERSION)
    {
        return Ok(());
    }
    println!(
        "installing wasm-opt and axe-core (npm binaryen@{BINARYEN_NPM_VERSION}, axe-core@{AXE_CORE_NPM_VERSION})"
    );
    npm_install(
        env,
        &npm_prefix(),
        &[
            format!("binaryen@{BINARYEN_NPM_VERSION}"),
            format!("axe-core@{AXE_CORE_NPM_VERSION}"),
        ],
        &[],
    )
}

/// fhirclient's prebuilt browser bundles (`build/`), for the benchmark's baseline. In its own
/// npm prefix, so installing it leaves the build and test tools alone.
pub fn ensure_fhirclient(env: &ToolEnv) -> Result<PathBuf> {
    let prefix = npm_prefix().join("baseline");
    if !npm_has(&prefix, "fhirclient", FHIRCLIENT_NPM_VERSION) {
        println!("installing the baseline's library (npm fhirclient@{FHIRCLIENT_NPM_VERSION})");
        npm_install(
            env,
            &prefix,
            &[format!("fhirclient@{FHIRCLIENT_NPM_VERSION}")],
            &["--ignore-scripts"],
        )?;
    }
    Ok(prefix.join("node_modules/fhirclient/build"))
}

/// Whether `prefix` holds npm `package` at exactly `version`.
fn npm_has(prefix: &Path, package: &str, version: &str) -> bool {
    std::fs::read_to_string(
        prefix
            .join("node_modules")
            .join(package)
            .join("package.json"),
    )
    .is_ok_and(|manifest| manifest.contains(&format!("\"version\": \"{version}\"")))
}

/// `npm install` of the exact `packages` into `prefix` (Debian's npm first, if missing).
fn npm_install(env: &ToolEnv, prefix: &Path, packages: &[String], flags: &[&str]) -> Result<()> {
    if version_of(env, "npm").is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    std::fs::create_dir_all(prefix).map_err(|e| format!("{}: {e}", prefix.display()))?;
    run(env
        .command("npm")
        .args(["install", "--no-audit", "--no-fund", "--no-save"])
        .args(flags)
        .arg("--prefix")
        .arg(prefix)
        .args(packages))
}

/// axe-core's browser bundle, for the end-to-end tests.
pub fn axe_script() -> PathBuf {
    npm_prefix().join("node_modules/axe-core/axe.min.js")
}

/// The `wasm-bindgen` version in `Cargo.lock`, which the CLI must equal exactly.
pub fn locked_wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(project_root().join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\""
            && let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
        {
            return Ok(version.to_owned());
        }
    }
    Err("Cargo.lock has no wasm-bindgen package".into())
}

fn apt_install(packages: &[&str]) -> Result<()> {
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    run(&mut update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run(&mut install)
}

pub fn version_of(env: &ToolEnv, program: &str) -> Option<String> {
    output(env.command(program).arg("--version")).ok()
}

fn version_of_path(env: &ToolEnv, program: &Path) -> Option<String> {
    let mut cmd = env.command(&program.to_string_lossy());
    output(cmd.arg("--version")).ok()
}

pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
