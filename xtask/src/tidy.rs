//! Code invariants, checked by `cargo test`. See ARCHITECTURE.md.

use std::path::{Path, PathBuf};

use crate::project_root;

/// The sans-IO core: these never touch the browser, the clock or the network.
const CORE: &[&str] = &["src/http.rs", "src/smart", "src/fhir", "src/domain"];

/// Crates the core must not name.
const BROWSER_CRATES: &[&str] = &[
    "leptos",
    "web_sys",
    "gloo",
    "gloo_net",
    "wasm_bindgen",
    "wasm_bindgen_futures",
    "js_sys",
    "getrandom",
];

#[test]
fn core_does_not_depend_on_the_browser() {
    let offences =
        scan_core(|line| names_browser_crate(line).map(|name| format!("names `{name}`")));
    assert!(
        offences.is_empty(),
        "the core (src/http.rs, src/smart, src/fhir, src/domain) must not use browser crates:\n{}",
        offences.join("\n")
    );
}

#[test]
fn core_does_not_read_the_clock_or_rng() {
    let banned = [
        "SystemTime",
        "Instant::now",
        "thread_rng",
        "OsRng",
        "Date::now",
    ];
    let offences = scan_core(|line| {
        banned
            .iter()
            .find(|b| line.contains(*b))
            .map(|b| format!("`{b}`"))
    });
    assert!(
        offences.is_empty(),
        "time and randomness are parameters:\n{}",
        offences.join("\n")
    );
}

/// Runs `check` on every line of the core; returns `file:line: finding` for each finding.
fn scan_core(check: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut offences = Vec::new();
    for file in CORE
        .iter()
        .flat_map(|p| rust_files(&project_root().join(p)))
    {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if let Some(finding) = check(line) {
                offences.push(format!("{}:{}: {finding}", rel(&file), n + 1));
            }
        }
    }
    offences
}

#[test]
fn the_detector_sees_browser_imports() {
    assert_eq!(
        names_browser_crate("use leptos::prelude::*;"),
        Some("leptos")
    );
    assert_eq!(
        names_browser_crate("    let w = web_sys::window();"),
        Some("web_sys")
    );
    assert_eq!(names_browser_crate("use crate::smart::launch;"), None);
    assert_eq!(names_browser_crate("// leptos is not used here"), None);
}

#[test]
fn trunk_pins_the_locked_wasm_bindgen() {
    let locked = crate::tools::locked_wasm_bindgen_version().unwrap();
    let trunk = std::fs::read_to_string(project_root().join("Trunk.toml")).unwrap();
    let pinned = trunk
        .lines()
        .find_map(|l| l.trim().strip_prefix("wasm_bindgen = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("Trunk.toml pins [tools] wasm_bindgen");
    assert_eq!(
        pinned, locked,
        "Trunk.toml [tools] wasm_bindgen must equal Cargo.lock"
    );
    let manifest = std::fs::read_to_string(project_root().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!("wasm-bindgen = \"={locked}\"")),
        "Cargo.toml must pin wasm-bindgen = \"={locked}\""
    );
}

/// Returns the browser crate a line of code names as a path (`crate::` or `crate ::`), if any.
fn names_browser_crate(line: &str) -> Option<&'static str> {
    let code = line.split("//").next().unwrap_or("");
    BROWSER_CRATES.iter().copied().find(|name| {
        code.match_indices(name).any(|(at, _)| {
            let before = code[..at].chars().next_back();
            let after = &code[at + name.len()..];
            let starts_word = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            starts_word && after.trim_start().starts_with("::")
        })
    })
}

fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

fn rel(path: &Path) -> String {
    path.strip_prefix(project_root())
        .unwrap_or(path)
        .display()
        .to_string()
}
