//! Cairn's automation: `cargo xtask <command>`.
//!
//! Every command installs what it needs first, so the README's two commands work on a fresh
//! machine. Installing is idempotent and takes milliseconds once done.

mod bench;
mod bloat;
mod bytes;
#[cfg(test)]
mod tidy;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo [--epic]  build Cairn (release) and run it against the development EHR; with --epic
                 the EHR starts in Epic mode (answers as Epic does); also registers a demo
                 backend client and prints a ready `cairn-backend export` command
  test           run every test: lint, native, browser (wasm-bindgen-test) and end to end in
                 Chromium
  dist [--config FILE] [--public-url PATH] [--out DIR]
                 build the release into DIR (default dist/) to be served under PATH (default /,
                 e.g. /cairn/), with FILE (default cairn.config.json) as its configuration, and
                 the headers to serve it with: DIR/_headers and DIR/nginx.conf
  check-config FILE [--app-url URL] [--public-url PATH]
                 validate a configuration offline, as Cairn does at start; with the address
                 Cairn will be served from, also check that `redirect_uri` leads back to it;
                 with the release path, that the path holds it
  bench [--pairs N] [--profiles loopback,50ms,phone] [--ehr-latency-ms MS] [--no-scale]
                 measure Cairn against a fhirclient baseline in Chromium, cold and warm, under
                 each network profile (default: all, 7 pairs; not a test; see
                 docs/performance.md)
  bloat [--wasm-opt LEVEL]
                 where each page's wasm bytes go: sizes (raw, brotli) and twiggy's largest
                 items, crates and generic copies (see docs/performance.md)
  tools          install the build and test tools only
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") => test(),
        Some("bench") => bench::run(&args[1..]),
        Some("bloat") => bloat::run_bloat(&args[1..]),
        Some("dist") => Dist::parse(&args[1..])
            .and_then(|options| tools::ensure_build_tools().and_then(|env| dist(&env, &options))),
        Some("check-config") if args.len() > 1 => check_config(&args[1..]),
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

/// What `cargo xtask dist` builds.
struct Dist {
    /// The configuration shipped as `cairn.config.json`.
    config: PathBuf,
    /// Where the release is served: `/` or e.g. `/cairn/` (Trunk's `--public-url`).
    public_url: String,
    /// The release directory.
    out: PathBuf,
    /// The commit the About view names, read once (a commit made during a long test run
    /// must not make the build and the test disagree).
    commit: Option<String>,
}

impl Dist {
    fn default_release() -> Dist {
        Dist {
            config: project_root().join("cairn.config.json"),
            public_url: "/".into(),
            out: project_root().join("dist"),
            commit: commit_id(),
        }
    }

    fn parse(args: &[String]) -> Result<Dist> {
        let mut options = Dist::default_release();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .ok_or(format!("{flag} needs a value\n\n{USAGE}"))?;
            match flag.as_str() {
                "--config" => options.config = absolute(value),
                "--public-url" => options.public_url = value.clone(),
                "--out" => options.out = absolute(value),
                other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

/// `path` from the directory cargo was started in (xtask itself runs at the project root).
fn absolute(path: &str) -> PathBuf {
    std::env::current_dir()
        .map(|dir| dir.join(path))
        .unwrap_or_else(|_| PathBuf::from(path))
}

/// A release build into `options.out`: Trunk's output, the configuration, and the headers
/// generated from both (`_headers`, `nginx.conf`). The configuration is checked before the
/// build, so a mistake costs seconds, not a release build.
fn dist(env: &tools::ToolEnv, options: &Dist) -> Result<()> {
    let config = options.config.display().to_string();
    step(&format!("checking {config}"));
    run(deploy(&mut env.command("cargo"))
        .arg("check-config")
        .arg(&options.config)
        .args(["--public-url", &options.public_url]))?;
    let out = options.out.display().to_string();
    step(&format!(
        "building the release into {out} (served under {})",
        options.public_url
    ));
    // Two pages, each its own Trunk build: the full app (`index.html`, the redirect URI) and
    // the launch page (`launch.html`), built aside and merged in. Trunk empties its `--dist`.
    trunk_build(env, options, "index.html", &options.out)?;
    let launch_dir = project_root().join("target").join(format!(
        "launch-page-{}",
        options
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    trunk_build(env, options, LAUNCH_PAGE, &launch_dir)?;
    merge_launch_page(&launch_dir, &options.out, &options.public_url)?;
    std::fs::copy(&options.config, options.out.join("cairn.config.json"))
        .map_err(|e| format!("copying {config} into {out}: {e}"))?;
    step(&format!("writing {out}/_headers and {out}/nginx.conf"));
    run(deploy(&mut env.command("cargo"))
        .arg("headers")
        .arg(&options.out)
        .args(["--public-url", &options.public_url]))?;
    step(&format!(
        "precompressing the scripts, styles and wasm of {out} (.gz, .br)"
    ));
    precompress(&options.out)?;
    step(&format!("first-load bytes of {out}, per page"));
    for (page, what, budget) in bytes::CAIRN_PAGES {
        let load = bytes::first_load(&options.out, page, bytes::CAIRN_FETCHED)?;
        println!("{what} ({page}, budget {budget} B brotli):");
        print!("{}", load.table());
    }
    Ok(())
}

/// Writes `<file>.gz` (gzip level 9) and `<file>.br` (brotli quality 11) next to every script,
/// style and wasm: Trunk's files, with a content hash in their name, so they never change after
/// the build. nginx sends them with `gzip_static` (and `brotli_static`); the pages and the
/// configuration are left to on-the-fly compression, so a copy can never be older than its file.
pub(crate) fn precompress(out: &Path) -> Result<()> {
    let entries = std::fs::read_dir(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", out.display()))?.path();
        let compressible = path
            .extension()
            .is_some_and(|ext| ext == "js" || ext == "css" || ext == "wasm");
        if !compressible || !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (ext, compressed) in [("gz", bytes::gzip(&bytes)?), ("br", bytes::brotli(&bytes)?)] {
            let mut name = path.clone().into_os_string();
            name.push(".");
            name.push(ext);
            std::fs::write(&name, compressed)
                .map_err(|e| format!("{}: {e}", Path::new(&name).display()))?;
        }
    }
    Ok(())
}

/// The launch page's source and built name.
const LAUNCH_PAGE: &str = "launch.html";

/// `trunk build` of the page `target` into `dist`.
fn trunk_build(env: &tools::ToolEnv, options: &Dist, target: &str, dist: &Path) -> Result<()> {
    let mut trunk = env.command("trunk");
    trunk
        .args(["build", "--release", "--offline", "--public-url"])
        .arg(&options.public_url)
        .arg("--dist")
        .arg(dist)
        .args(["--html-output", target])
        .arg(target)
        .env("TRUNK_OFFLINE", "true");
    // Shown in the app's "About Cairn", for support.
    if let Some(commit) = &options.commit {
        trunk.env("CAIRN_COMMIT", commit);
    }
    run(&mut trunk)
}

/// Copies the launch page's build into the release and names what the callback page needs
/// beyond it (the full app's script and wasm, the chart's styles) as `<link rel="prefetch">`
/// in a `<template>` where launch.html has its mark, with web/prefetch.js, which adds them to
/// the page (at once for an EHR launch, once the wasm runs for the standalone start page), so
/// the browser fetches them while the page launches (`src/web/prefetch.rs`).
/// The styles are the same files in both builds (same content, same hashed names).
fn merge_launch_page(from: &Path, out: &Path, public_url: &str) -> Result<()> {
    let shown = |p: &Path| p.display().to_string();
    let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", shown(from)))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", shown(from)))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        std::fs::copy(entry.path(), out.join(&name))
            .map_err(|e| format!("copying {name} into {}: {e}", shown(out)))?;
    }
    // Every file the callback page names that the launch page does not load itself: the full
    // app's script and wasm, and the chart's styles.
    let read = |name: &str| {
        std::fs::read_to_string(out.join(name))
            .map_err(|e| format!("{}: {e}", shown(&out.join(name))))
    };
    let (index, launch) = (read("index.html")?, read(LAUNCH_PAGE)?);
    let own = bytes::named_files(&launch, out);
    let app: Vec<String> = bytes::named_files(&index, out)
        .into_iter()
        .filter(|name| !own.contains(name))
        .collect();
    let is_app =
        |n: &String| n.starts_with("cairn-") && (n.ends_with(".js") || n.ends_with("_bg.wasm"));
    if app.iter().filter(|n| is_app(n)).count() != 2 {
        return Err(format!(
            "expected the full app's script and wasm among the callback page's files in {}, found {app:?}",
            shown(out)
        ));
    }
    let app: Vec<String> = app.iter().map(|n| format!("{public_url}{n}")).collect();
    let links: String = app
        .iter()
        .map(|url| format!("<link rel=\"prefetch\" href=\"{url}\" crossorigin=\"anonymous\" />"))
        .collect();
    // The script without its comments: they are for the reader of web/prefetch.js, and every
    // byte of this page is on a first visit's path.
    let script: Vec<&str> = include_str!("../../web/prefetch.js")
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect();
    let prefetch = format!(
        "<template id=\"cairn-prefetch\">{links}</template>\n<script>{}</script>",
        script.join("\n")
    );
    let page = out.join(LAUNCH_PAGE);
    if launch.matches(PREFETCH_MARK).count() != 1 {
        return Err(format!("{} must have one {PREFETCH_MARK}", shown(&page)));
    }
    std::fs::write(&page, launch.replace(PREFETCH_MARK, &prefetch))
        .map_err(|e| format!("{}: {e}", shown(&page)))
}

/// Where the launch page takes its prefetch of the full app.
const PREFETCH_MARK: &str = "<!-- cairn:prefetch -->";

fn check_config(args: &[String]) -> Result<()> {
    let mut cargo = Command::new("cargo");
    // The file is named relative to where the user is, not the project root.
    run(deploy(&mut cargo)
        .arg("check-config")
        .arg(absolute(&args[0]))
        .args(&args[1..]))
}

/// `cargo` made to run the `deploy` binary (the configuration check and the header
/// generator); its arguments follow.
fn deploy(cargo: &mut Command) -> &mut Command {
    cargo.args(["run", "--quiet", "--package", "deploy", "--"])
}

/// `git rev-parse --short=12 HEAD`, with `-modified` when tracked files have uncommitted
/// changes; `None` outside a git checkout.
fn commit_id() -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(project_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    let modified = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|status| !status.is_empty());
    Some(if modified {
        format!("{commit}-modified")
    } else {
        commit
    })
}

/// The release the end-to-end test `tests/dist.rs` serves: the sample configuration
/// `tests/dist/cairn.config.json`, under `/cairn/`.
fn prefixed_release() -> Dist {
    Dist {
        config: project_root().join("tests/dist/cairn.config.json"),
        public_url: "/cairn/".into(),
        out: project_root().join("target/dist-prefixed"),
        commit: commit_id(),
    }
}

fn demo(args: &[String]) -> Result<()> {
    let epic = match args {
        [] => false,
        [flag] if flag == "--epic" => true,
        _ => return Err(format!("unknown demo options {args:?}\n\n{USAGE}")),
    };
    let env = tools::ensure_build_tools()?;
    dist(&env, &Dist::default_release())?;
    let backend = project_root().join("target").join("demo-backend");
    backend_demo(&env, &backend)?;
    step("starting the development EHR and Cairn (Ctrl-C stops them)");
    println!("Open the EHR page below, pick a patient, and Cairn launches inside it.");
    run(env
        .command("cargo")
        .args([
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
            "--backend-demo",
        ])
        .arg(&backend)
        .args(epic.then_some("--epic")))
}

/// The backend companion's demo client (docs/backend.md): a key pair made once by
/// `cairn-backend keygen` in `dir`, and a configuration for the development EHR on port 9090.
/// The EHR registers the key and prints the export command.
fn backend_demo(env: &tools::ToolEnv, dir: &Path) -> Result<()> {
    if !dir.join("private-key.pem").exists() {
        step("making the backend companion's demo key (cairn-backend keygen)");
        run(env
            .command("cargo")
            .args(["run", "--quiet", "--package", "cairn-backend", "--"])
            .args(["keygen", "--alg", "es384", "--out"])
            .arg(dir))?;
    }
    let jwks = dir.join("jwks.json");
    let text = std::fs::read_to_string(&jwks).map_err(|e| format!("{}: {e}", jwks.display()))?;
    let kid = text
        .split("\"kid\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or(format!("{} has no kid", jwks.display()))?;
    let alg = if text.contains("\"RS384\"") {
        "RS384"
    } else {
        "ES384"
    };
    let config = format!(
        "# Written by `cargo xtask demo`: the development EHR's demo backend client.\n\
         fhir_base = \"http://127.0.0.1:9090/fhir\"\n\
         client_id = \"cairn-backend-demo\"\n\
         mrn_system = \"http://hospital.smarthealthit.org\"\n\n\
         [auth]\n\
         method = \"private_key_jwt\"\n\
         key = \"private-key.pem\"\n\
         kid = \"{kid}\"\n\
         alg = \"{alg}\"\n"
    );
    let path = dir.join("cairn-backend.toml");
    std::fs::write(&path, config).map_err(|e| format!("{}: {e}", path.display()))
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

    dist(&env, &Dist::default_release())?;
    let prefixed = prefixed_release();
    dist(&env, &prefixed)?;

    step("first-load bytes of dist/, each page within its budget (xtask/src/bytes.rs)");
    for (page, what, budget) in bytes::CAIRN_PAGES {
        let load = bytes::first_load(&project_root().join("dist"), page, bytes::CAIRN_FETCHED)?;
        println!("{what} ({page}, budget {budget} B brotli):");
        print!("{}", load.table());
        load.within(*budget)?;
    }

    step("native tests: core, development EHR, backend companion, tidy, end to end in Chromium");
    run(env
        .command("cargo")
        .args(["test", "--workspace"])
        .env("CAIRN_DIST", project_root().join("dist"))
        .env("CAIRN_DIST_PREFIXED", &prefixed.out)
        .env(
            "CAIRN_DIST_COMMIT",
            prefixed.commit.clone().unwrap_or_default(),
        )
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
