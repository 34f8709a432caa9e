//! Code invariants, checked by `cargo test`. See ARCHITECTURE.md.

use std::path::{Path, PathBuf};

use crate::project_root;

/// The sans-IO core: these never touch the browser, the clock or the network.
const CORE: &[&str] = &[
    "src/http.rs",
    "src/uri.rs",
    "src/smart",
    "src/fhir",
    "src/domain",
    "src/deploy.rs",
];

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
        "the core (src/http.rs, src/uri.rs, src/smart, src/fhir, src/domain, src/deploy.rs) must not use browser crates:\n{}",
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

/// Crates of the native backend companion (`backend/`, docs/backend.md) that must never reach
/// the wasm app: a private key's crypto, a native HTTP stack, a command line. (`toml` is not
/// listed: leptos's configuration loader already brings it.)
const COMPANION_ONLY_CRATES: &[&str] = &[
    "cairn-backend",
    "reqwest",
    "rsa",
    "p384",
    "clap",
    "indicatif",
    "tokio",
    "rustls",
];

/// The packages compiled into the wasm app: `cairn`'s normal dependencies for
/// `wasm32-unknown-unknown`, from `cargo tree` (names only).
fn wasm_dependency_tree() -> Vec<String> {
    wasm_dependencies(None)
}

/// [`wasm_dependency_tree`] down to `depth` (1: `cairn` and its own dependencies).
fn wasm_dependencies(depth: Option<u32>) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let depth = depth.map(|d| format!("--depth={d}"));
    let output = std::process::Command::new(cargo)
        .arg("tree")
        .args(depth.as_slice())
        .args([
            "--package",
            "cairn",
            "--target",
            "wasm32-unknown-unknown",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(project_root())
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_backend_companion_stays_out_of_the_wasm() {
    let tree = wasm_dependency_tree();
    assert!(
        tree.iter().any(|p| p == "leptos"),
        "the tree is the app's: {tree:?}"
    );
    let leaked: Vec<&String> = tree
        .iter()
        .filter(|p| COMPANION_ONLY_CRATES.contains(&p.as_str()))
        .collect();
    assert!(
        leaked.is_empty(),
        "the wasm app depends on {leaked:?}: keep the companion's crates in backend/Cargo.toml"
    );
    // The core is a library the companion uses, never the other way round.
    let manifest = std::fs::read_to_string(project_root().join("Cargo.toml")).unwrap();
    assert!(
        !manifest.contains("cairn-backend") && !manifest.contains("path = \"backend\""),
        "Cargo.toml (the cairn crate) must not depend on the backend companion"
    );
    let companion = std::fs::read_to_string(project_root().join("backend/Cargo.toml")).unwrap();
    assert!(
        companion.contains("cairn = { path = \"..\" }"),
        "backend/ uses the core as the `cairn` library"
    );
}

/// URL crates the app replaced with its own exact parser (src/uri.rs): they cost about 30 KB
/// of each page's wasm. `url` still reaches the tree through leptos's `server_fn`, which a
/// client-side app never calls, so none of it is linked; the app must not depend on them.
const REPLACED_URL_CRATES: &[&str] = &["url", "form_urlencoded", "percent-encoding", "idna"];

#[test]
fn the_app_parses_urls_itself() {
    let direct = wasm_dependencies(Some(1));
    assert!(
        direct.iter().any(|p| p == "leptos"),
        "the list is the app's: {direct:?}"
    );
    let back: Vec<&String> = direct
        .iter()
        .filter(|p| REPLACED_URL_CRATES.contains(&p.as_str()))
        .collect();
    assert!(
        back.is_empty(),
        "the wasm app depends on {back:?} again: use cairn::uri (src/uri.rs), and keep `url` \
         a native dev-dependency (the tests' oracle)"
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
    files_with(path, &["rs"])
}

/// Every file under `path` (or `path` itself) whose extension is one of `extensions`.
fn files_with(path: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files_with(&p, extensions));
        } else if p
            .extension()
            .is_some_and(|e| extensions.iter().any(|x| e == *x))
        {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn rel(path: &Path) -> String {
    path.strip_prefix(project_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

// Absences the security matrix (docs/security.md) asks CI to enforce. Each rule scans the app's
// own code as text, comments left out, and has a detector test below that shows it fires.

/// The app's own code: the Rust of `src/` and the hand-written scripts in `web/`.
const APP: &[&str] = &["src", "web"];
const APP_EXTENSIONS: &[&str] = &["rs", "js"];

/// APIs that parse a string as HTML (lower case; matched case-insensitively). Matrix #36: text
/// from the EHR goes into text nodes only.
const HTML_SINKS: &[&str] = &[
    "inner_html",
    "innerhtml",
    "outer_html",
    "outerhtml",
    "insert_adjacent_html",
    "insertadjacenthtml",
    "create_contextual_fragment",
    "createcontextualfragment",
    "html_unsafe",
    "htmlunsafe",
    "document.write",
];

/// Cross-window messaging (lower case). Matrix #33: Cairn uses none, so it has no origin checks
/// to get wrong.
const MESSAGING: &[&str] = &[
    "postmessage",
    "post_message",
    "messageevent",
    "onmessage",
    "ev::message",
    "on:message",
    "messagechannel",
    "message_channel",
    "broadcastchannel",
    "broadcast_channel",
];

/// Storage that outlives the tab or is shared with other code (lower case). Matrix #22: tokens
/// live in memory; sessionStorage holds no token, only the pending launch (its verifier read
/// once) and the EHR's public SMART configuration.
const PERSISTENT_STORAGE: &[&str] = &[
    "local_storage",
    "localstorage",
    "indexed_db",
    "indexeddb",
    "idbfactory",
    "set_cookie",
    ".cookie",
    "cookie_store",
    "cookiestore",
    // Cache Storage: `window.caches()` in web-sys, `caches.open(…)` in script.
    "cache_storage",
    "cachestorage",
    ".caches(",
    "caches.",
];

/// Names through which code writes to the browser console, as words (matrix #24).
const LOGGING: &[&str] = &["console", "log::", "log!", "logging::", "tracing"];

#[test]
fn no_html_is_parsed_from_strings() {
    let offences = scan_app(APP, |_, _, code| html_sink(code).map(|s| format!("`{s}`")));
    assert!(
        offences.is_empty(),
        "text reaches the page as text nodes only, never parsed as HTML (matrix #36):\n{}",
        offences.join("\n")
    );
}

#[test]
fn no_cross_window_messaging() {
    let offences = scan_app(APP, |source, n, _| messaging(source, n));
    assert!(
        offences.is_empty(),
        "Cairn sends and receives no postMessage (matrix #33); using it needs an exact \
         event.origin check and a message schema first:\n{}",
        offences.join("\n")
    );
}

#[test]
fn css_selector_lists_are_not_cut_by_a_comment_or_rule() {
    let mut offences = Vec::new();
    for path in files_with(&crate::project_root().join("style"), &["css"]) {
        let text = std::fs::read_to_string(&path).unwrap();
        offences.extend(
            cut_selector_lists(&text)
                .into_iter()
                .map(|n| format!("{}:{n}", rel(&path))),
        );
    }
    assert!(
        offences.is_empty(),
        "a selector list ending in `,` is followed by a comment, an @-rule or a blank line, so \
         the browser drops the rule (this once unstyled the lab table):\n{}",
        offences.join("\n")
    );
    assert_eq!(cut_selector_lists(".a,\n.b {\n}\n"), Vec::<usize>::new());
    assert_eq!(cut_selector_lists(".a,\n/* x */\n.b {}\n"), [1]);
    assert_eq!(cut_selector_lists(".a,\n@media (x) {}\n"), [1]);
}

/// Lines (1-based) ending a selector with `,` whose next line cannot continue the list.
fn cut_selector_lists(css: &str) -> Vec<usize> {
    let lines: Vec<&str> = css.lines().collect();
    lines
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| {
            let next = pair[1].trim_start();
            pair[0].trim_end().ends_with(',')
                && (next.is_empty() || next.starts_with("/*") || next.starts_with('@'))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

#[test]
fn no_persistent_browser_storage() {
    let offences = scan_app(APP, |_, _, code| {
        persistent_storage(code).map(|s| format!("`{s}`"))
    });
    assert!(
        offences.is_empty(),
        "no localStorage, IndexedDB, Cache Storage or cookies: tokens live in memory; \
         sessionStorage holds no token, only the pending launch (its verifier read once) and \
         the EHR's public SMART configuration (matrix #22):\n{}",
        offences.join("\n")
    );
}

#[test]
fn nothing_writes_to_the_console() {
    let offences = scan_app(APP, |_, _, code| logging(code).map(|s| format!("`{s}`")));
    assert!(
        offences.is_empty(),
        "no console or log output, so no token, code or verifier can \
         reach a log (matrix #24):\n{}",
        offences.join("\n")
    );
}

#[test]
fn every_link_in_the_views_has_rel_noopener_noreferrer() {
    let mut offences = Vec::new();
    for source in sources(&["src/app"], &["rs"]) {
        let text = source.code.join("\n");
        offences.extend(anchors_without_rel(&text).into_iter().map(|line| {
            format!(
                "{}:{line}: `<a` without rel=\"noopener noreferrer\"",
                source.rel
            )
        }));
    }
    // Anchors made outside `view!` would escape the check above.
    offences.extend(scan_app(&["src"], |_, _, code| {
        ["create_element(\"a\")", "htmlanchorelement", "html::a("]
            .into_iter()
            .find(|s| code.to_ascii_lowercase().contains(&s.to_ascii_lowercase()))
            .map(|s| format!("`{s}`: write links in view! with rel=\"noopener noreferrer\""))
    }));
    assert!(
        offences.is_empty(),
        "links leak nothing to the pages they open (matrix #34):\n{}",
        offences.join("\n")
    );
}

/// Browser navigation, as text. Only src/web/location.rs may use it.
const NAVIGATION_SINKS: &[&str] = &[
    ".assign(",
    "set_href(",
    "open_with_url",
    "window.open(",
    "location.href",
    "location.assign(",
    "location.replace(",
];

/// The functions that leave Cairn's page, and the one file allowed to call them: the authorize
/// step (`begin_authorize` in src/app/flow.rs), whose target is the pinned authorization
/// endpoint.
const LEAVE_PAGE: (&[&str], &str) = (&["navigate(", "submit_form("], "src/app/flow.rs");

#[test]
fn only_the_authorize_step_leaves_the_page() {
    let offences = scan_app(APP, |source, _, code| {
        if source.rel == "src/web/location.rs" {
            return None;
        }
        leaves_page(code, source.rel == LEAVE_PAGE.1).map(|s| format!("`{s}`"))
    });
    assert!(
        offences.is_empty(),
        "Cairn navigates only to the authorization endpoint, from src/app/flow.rs; it has no \
         return-to parameter to redirect with (matrix #32):\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_detectors_see_what_they_ban() {
    assert_eq!(html_sink("el.set_inner_html(&name);"), Some("inner_html"));
    assert_eq!(html_sink("<div inner_html=html/>"), Some("inner_html"));
    assert_eq!(html_sink("<p prop:innerHTML=x/>"), Some("innerhtml"));
    assert_eq!(
        html_sink("node.insertAdjacentHTML('beforeend', s);"),
        Some("insertadjacenthtml")
    );
    assert_eq!(
        html_sink("title.appendChild(document.createTextNode(t));"),
        None
    );

    let no_source = Source::default();
    let lines = |code: &[&str]| code.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    let message_at = |code: &[&str]| {
        let source = Source {
            code: lines(code),
            ..Source::default()
        };
        messaging(&source, code.len() - 1)
    };
    assert!(message_at(&["parent.post_message(&data, \"*\")"]).is_some());
    assert!(message_at(&["window.parent.postMessage(x, '*');"]).is_some());
    assert!(
        message_at(&[
            "window.add_event_listener_with_callback(",
            "    \"message\",",
        ])
        .is_some()
    );
    assert!(message_at(&["EventListener::new(&window, \"message\", f)"]).is_some());
    assert!(message_at(&["let text = field(\"message\");"]).is_none());
    assert!(messaging(&no_source, 0).is_none());

    assert_eq!(
        persistent_storage("let s = window.local_storage()?;"),
        Some("local_storage")
    );
    assert_eq!(
        persistent_storage("document.cookie = \"t=\" + token;"),
        Some(".cookie")
    );
    assert_eq!(
        persistent_storage("indexedDB.open(\"c\")"),
        Some("indexeddb")
    );
    assert_eq!(
        persistent_storage("let c = window.caches()?;"),
        Some(".caches(")
    );
    assert_eq!(
        persistent_storage("caches.open(\"cairn\").then(put)"),
        Some("caches.")
    );
    assert_eq!(persistent_storage("window.session_storage()"), None);

    assert_eq!(
        logging("web_sys::console::log_1(&x.into());"),
        Some("console")
    );
    assert_eq!(logging("console.log(token);"), Some("console"));
    assert_eq!(logging("leptos::logging::log!(\"{t}\");"), Some("log!"));
    assert_eq!(logging("log::info!(\"{t:?}\");"), Some("log::"));
    assert_eq!(logging("tracing::debug!(?t);"), Some("tracing"));
    assert_eq!(logging("let catalog = dialog();"), None);

    assert_eq!(
        anchors_without_rel("<p>\n<a href=url target=\"_blank\">{name}</a>\n</p>"),
        [2]
    );
    assert_eq!(
        anchors_without_rel("<a href=url rel=\"noopener\">x</a>"),
        [1]
    );
    assert!(
        anchors_without_rel(
            "<a\n  href=url\n  on:click=move |_| go()\n  rel=\"noopener noreferrer\"\n>x</a>"
        )
        .is_empty()
    );
    assert!(anchors_without_rel("<abbr title=\"a\">x</abbr><article></article>").is_empty());

    assert_eq!(
        leaves_page("web_sys::window()?.location().assign(&next)", false),
        Some(".assign(")
    );
    assert_eq!(
        leaves_page("location::navigate(&url)", false),
        Some("navigate(")
    );
    assert_eq!(leaves_page("location::navigate(&url)", true), None);
    assert_eq!(leaves_page("let go = use_navigate();", false), None);

    assert_eq!(code_of("let a = 1; // innerHTML here"), "let a = 1; ");
    assert_eq!(code_of("/// never inner_html"), "");
    assert_eq!(
        code_of("let u = \"https://e.example\"; x"),
        "let u = \"https://e.example\"; x"
    );
}

fn html_sink(code: &str) -> Option<&'static str> {
    let code = code.to_ascii_lowercase();
    HTML_SINKS.iter().copied().find(|s| code.contains(s))
}

/// A messaging API on line `n`, or a `"message"` event named within a listener call that starts
/// up to two lines earlier (rustfmt puts long calls' arguments on their own lines).
fn messaging(source: &Source, n: usize) -> Option<String> {
    let code = source.code.get(n)?.to_ascii_lowercase();
    if let Some(api) = MESSAGING.iter().find(|s| code.contains(*s)) {
        return Some(format!("`{api}`"));
    }
    if code.contains("\"message\"") || code.contains("'message'") {
        let call = source.code[n.saturating_sub(2)..=n]
            .join(" ")
            .to_ascii_lowercase();
        if call.contains("listener") {
            return Some("a \"message\" event listener".to_owned());
        }
    }
    None
}

fn persistent_storage(code: &str) -> Option<&'static str> {
    let code = code.to_ascii_lowercase();
    PERSISTENT_STORAGE
        .iter()
        .copied()
        .find(|s| code.contains(s))
}

/// A navigation sink, or a call to a function that leaves the page (allowed only where
/// `may_leave`).
fn leaves_page(code: &str, may_leave: bool) -> Option<&'static str> {
    let lower = code.to_ascii_lowercase();
    if let Some(sink) = NAVIGATION_SINKS.iter().find(|s| lower.contains(*s)) {
        return Some(sink);
    }
    if may_leave {
        return None;
    }
    LEAVE_PAGE
        .0
        .iter()
        .copied()
        .find(|name| starts_word(code, name))
}

/// A logging name that starts a word (so `dialog!` is not `log!`).
fn logging(code: &str) -> Option<&'static str> {
    LOGGING.iter().copied().find(|name| starts_word(code, name))
}

/// True when `name` occurs in `code` not preceded by a letter, digit or `_`.
fn starts_word(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        code[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

/// Line numbers (from 1) of `<a …>` tags in `text` whose attributes lack a literal
/// `rel="…"` naming both `noopener` and `noreferrer`.
fn anchors_without_rel(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    for (at, _) in text.match_indices("<a") {
        let rest = &text[at + 2..];
        if !rest.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
            continue;
        }
        let tag = tag_attributes(rest);
        let rel = tag
            .split("rel=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("");
        let words: Vec<&str> = rel.split_whitespace().collect();
        if !(words.contains(&"noopener") && words.contains(&"noreferrer")) {
            lines.push(text[..at].matches('\n').count() + 1);
        }
    }
    lines
}

/// The attributes of a tag: `rest` up to its closing `>`, skipping `>` inside braces,
/// parentheses, strings, `=>` and `->`.
fn tag_attributes(rest: &str) -> &str {
    let mut depth = 0i32;
    let mut in_string = false;
    let mut previous = ' ';
    for (i, c) in rest.char_indices() {
        match c {
            '"' if previous != '\\' => in_string = !in_string,
            _ if in_string => {}
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            '>' if depth <= 0 && previous != '=' && previous != '-' => return &rest[..i],
            _ => {}
        }
        previous = c;
    }
    rest
}

/// A source file with its comments taken out, line by line.
#[derive(Default)]
struct Source {
    rel: String,
    code: Vec<String>,
}

fn sources(paths: &[&str], extensions: &[&str]) -> Vec<Source> {
    paths
        .iter()
        .flat_map(|p| files_with(&project_root().join(p), extensions))
        .map(|file| Source {
            rel: rel(&file),
            code: std::fs::read_to_string(&file)
                .unwrap()
                .lines()
                .map(|l| code_of(l).to_owned())
                .collect(),
        })
        .collect()
}

/// Runs `check` on every line (comments removed) of the app's code under `paths`, with its
/// file and index; returns `file:line: finding` for each finding.
fn scan_app(paths: &[&str], check: impl Fn(&Source, usize, &str) -> Option<String>) -> Vec<String> {
    let mut offences = Vec::new();
    for source in sources(paths, APP_EXTENSIONS) {
        for n in 0..source.code.len() {
            if let Some(finding) = check(&source, n, &source.code[n]) {
                offences.push(format!("{}:{}: {finding}", source.rel, n + 1));
            }
        }
    }
    offences
}

/// A line without its `//` comment (a `//` inside a string literal is kept).
fn code_of(line: &str) -> &str {
    let mut in_string = false;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '"' if previous != '\\' => in_string = !in_string,
            '/' if !in_string && previous == '/' => return &line[..i - 1],
            _ => {}
        }
        previous = c;
    }
    line
}

/// Where a `Problem` (src/domain/problem.rs) may be written field by field: its own
/// module. Everywhere else goes through `Problem::new`, which starts the title and the detail
/// with a capital letter (error messages are written in lower case, to follow other words).
const PROBLEM_MODULE: &str = "src/domain/problem.rs";

#[test]
fn problems_are_made_with_problem_new() {
    let offences = scan_app(&["src"], |source, _, code| {
        (source.rel != PROBLEM_MODULE && problem_literal(code)).then(|| "`Problem {`".to_owned())
    });
    assert!(
        offences.is_empty(),
        "build a Problem with Problem::new, so every text the user reads starts with a capital \
         letter:\n{}",
        offences.join("\n")
    );
}

/// A struct expression `Problem { … }` (not a signature returning one, nor the type itself).
fn problem_literal(code: &str) -> bool {
    code.match_indices("Problem {").any(|(at, _)| {
        let before = code[..at].trim_end();
        let word_start = code[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        word_start
            && !before.ends_with("->")
            && !before.ends_with("struct")
            && !before.ends_with("for")
            && !before.ends_with("impl")
    })
}

#[test]
fn the_problem_literal_detector_fires() {
    assert!(problem_literal("    Problem {"));
    assert!(problem_literal("Err(Problem {"));
    assert!(problem_literal(".map_err(|_| Problem {"));
    assert!(!problem_literal("fn f() -> Problem {"));
    assert!(!problem_literal("pub struct Problem {"));
    assert!(!problem_literal("impl From<E> for Problem {"));
    assert!(!problem_literal("Screen::Problem(p)"));
    assert!(!problem_literal("    FhirProblem {"));
}
