//! A static server for a built Cairn release, on its own origin, that sends exactly the headers
//! of a `_headers` file (as Cloudflare Pages and Netlify do), so every end-to-end test runs
//! under the headers that ship. The file comes from the release (`cargo xtask dist` writes it)
//! or, when a test serves the release with a configuration of its own (the development EHR's
//! ports differ per test), is generated for that configuration by the same code
//! (`cairn::deploy`).
//!
//! Semantics of `_headers`, as those hosts document them: a rule is a path (exact, or ending in
//! `*` for a prefix) followed by indented `Name: value` lines; a response gets the headers of
//! every rule its path matches, and values of a header named by several rules are joined with
//! `, `. Placeholders (`:name`), splats elsewhere than at the end, and absolute URLs are refused
//! rather than ignored, so a `_headers` this server cannot apply fails the test that uses it.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// A release as a static host serves it.
#[derive(Debug, Clone)]
pub struct Site {
    /// The release directory (`dist/`).
    pub dist: PathBuf,
    /// The path it is served under: `/` or e.g. `/cairn/`.
    pub base_path: String,
    /// The text of the `_headers` file to apply.
    pub headers: String,
    /// Served as `cairn.config.json` instead of the release's own file, when set.
    pub config_json: Option<String>,
    /// With `config_json`: the pages' `<meta http-equiv="Content-Security-Policy">` policy for
    /// that configuration, served in place of the one written at build time.
    pub page_policy: Option<String>,
}

impl Site {
    /// `dist` exactly as built: its own configuration and its own `_headers`.
    pub fn as_built(dist: PathBuf, base_path: &str) -> Result<Site, String> {
        let headers = std::fs::read_to_string(dist.join("_headers"))
            .map_err(|e| format!("{}/_headers: {e}", dist.display()))?;
        Ok(Site {
            dist,
            base_path: base_path.to_owned(),
            headers,
            config_json: None,
            page_policy: None,
        })
    }
}

/// One `_headers` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The path, without the trailing `*` of a prefix rule.
    pub path: String,
    pub prefix: bool,
    pub headers: Vec<(String, String)>,
}

impl Rule {
    fn matches(&self, path: &str) -> bool {
        if self.prefix {
            path.starts_with(&self.path)
        } else {
            path == self.path
        }
    }
}

/// Parses a `_headers` file.
pub fn parse_headers_file(text: &str) -> Result<Vec<Rule>, String> {
    let mut rules: Vec<Rule> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |what: &str| format!("_headers line {}: {what}: {line:?}", n + 1);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let rule = rules
                .last_mut()
                .ok_or_else(|| at("a header before any path"))?;
            let (name, value) = trimmed
                .split_once(':')
                .ok_or_else(|| at("not `Name: value`"))?;
            rule.headers
                .push((name.trim().to_owned(), value.trim().to_owned()));
            continue;
        }
        if !trimmed.starts_with('/') || trimmed.contains(':') {
            return Err(at(
                "only paths are supported here, not URLs or placeholders",
            ));
        }
        let (path, prefix) = match trimmed.strip_suffix('*') {
            Some(path) => (path, true),
            None => (trimmed, false),
        };
        if path.contains('*') {
            return Err(at("a splat is supported only at the end"));
        }
        rules.push(Rule {
            path: path.to_owned(),
            prefix,
            headers: Vec::new(),
        });
    }
    Ok(rules)
}

/// The headers `rules` give a response to `path`, in rule order, each name once.
pub fn headers_for(rules: &[Rule], path: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in rules
        .iter()
        .filter(|r| r.matches(path))
        .flat_map(|r| &r.headers)
    {
        match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, joined)) => {
                joined.push_str(", ");
                joined.push_str(value);
            }
            None => out.push((name.clone(), value.clone())),
        }
    }
    out
}

struct Served {
    site: Site,
    rules: Vec<Rule>,
}

pub fn app_host(site: Site) -> Result<Router, String> {
    let rules = parse_headers_file(&site.headers)?;
    Ok(Router::new()
        .fallback(serve_file)
        .with_state(Arc::new(Served { site, rules })))
}

/// Serves `site` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, site: Site) -> std::io::Result<()> {
    serve_with_latency(listener, site, std::time::Duration::ZERO).await
}

/// Like [`serve`], each response leaving `latency` after its request arrived at the earliest
/// (the benchmark's wide-area network; see `Ehr::set_latency`).
pub async fn serve_with_latency(
    listener: tokio::net::TcpListener,
    site: Site,
    latency: std::time::Duration,
) -> std::io::Result<()> {
    serve_delaying(listener, site, move |_| latency).await
}

/// Like [`serve`], the response to each request leaving `delay(path)` after the request
/// arrived at the earliest: a uniform latency, or a test's file that does not come in time.
pub async fn serve_delaying(
    listener: tokio::net::TcpListener,
    site: Site,
    delay: impl Fn(&str) -> std::time::Duration + Clone + Send + Sync + 'static,
) -> std::io::Result<()> {
    let app = app_host(site)
        .map_err(std::io::Error::other)?
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let wait = delay(request.uri().path());
                async move {
                    let response = next.run(request).await;
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    response
                }
            },
        ));
    axum::serve(listener, app).await
}

async fn serve_file(State(served): State<Arc<Served>>, uri: Uri) -> Response {
    let path = uri.path();
    let mut response = file_response(&served.site, path);
    for (name, value) in headers_for(&served.rules, path) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn file_response(site: &Site, path: &str) -> Response {
    let base = site.base_path.as_str();
    // Like a static host: the bare prefix redirects to the directory.
    if base.len() > 1 && path == base.trim_end_matches('/') {
        return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, base)]).into_response();
    }
    let Some(rest) = path.strip_prefix(base) else {
        return not_found();
    };
    let relative = if rest.is_empty() || rest.ends_with('/') {
        format!("{rest}index.html")
    } else {
        rest.to_owned()
    };
    if relative == "cairn.config.json"
        && let Some(json) = &site.config_json
    {
        return with_type("application/json", json.clone().into_bytes());
    }
    // The host files are instructions, not content; `..` and hidden entries are never served.
    let file = Path::new(&relative);
    let safe = file
        .components()
        .all(|c| matches!(c, Component::Normal(part) if !part.to_string_lossy().starts_with('.')));
    if !safe || relative == "_headers" || relative == "nginx.conf" {
        return not_found();
    }
    match std::fs::read(site.dist.join(file)) {
        Ok(bytes) if relative.ends_with(".html") && site.page_policy.is_some() => {
            let page = String::from_utf8_lossy(&bytes);
            let policy = site.page_policy.as_deref().unwrap_or_default();
            with_type(
                content_type(&relative),
                with_page_policy(&page, policy).into_bytes(),
            )
        }
        Ok(bytes) => with_type(content_type(&relative), bytes),
        Err(_) => not_found(),
    }
}

/// `page` with the content of its CSP `<meta>` replaced by `policy` (no `"` in it).
fn with_page_policy(page: &str, policy: &str) -> String {
    const META: &str = "<meta http-equiv=\"Content-Security-Policy\" content=\"";
    match page.split_once(META) {
        Some((before, rest)) => match rest.split_once('"') {
            Some((_, after)) => format!("{before}{META}{policy}\"{after}"),
            None => page.to_owned(),
        },
        None => page.to_owned(),
    }
}

fn with_type(content_type: &'static str, body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, content_type)], Body::from(body)).into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADERS: &str = "# comment\n\
        /cairn/*\n  Content-Security-Policy: default-src 'none'\n  X-Content-Type-Options: nosniff\n\n\
        /cairn/\n  Cache-Control: no-cache\n\
        /cairn/index.html\n  Cache-Control: no-cache\n\
        /cairn/app-0123456789abcdef.js\n  Cache-Control: public, max-age=31536000, immutable\n\
        /cairn/*\n  X-Extra: a\n\
        /*\n  X-Extra: b\n";

    #[test]
    fn every_matching_rule_applies_and_repeated_names_are_joined() {
        let rules = parse_headers_file(HEADERS).unwrap();
        let get = |path: &str| headers_for(&rules, path);
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            get("/cairn/index.html"),
            pairs(&[
                ("Content-Security-Policy", "default-src 'none'"),
                ("X-Content-Type-Options", "nosniff"),
                ("Cache-Control", "no-cache"),
                ("X-Extra", "a, b"),
            ])
        );
        assert_eq!(
            get("/cairn/app-0123456789abcdef.js")[2],
            (
                "Cache-Control".to_owned(),
                "public, max-age=31536000, immutable".to_owned()
            )
        );
        // No Cache-Control rule for an unlisted file, and nothing of /cairn/* elsewhere.
        assert!(
            !get("/cairn/other.js")
                .iter()
                .any(|(n, _)| n == "Cache-Control")
        );
        assert_eq!(get("/elsewhere"), pairs(&[("X-Extra", "b")]));
    }

    #[test]
    fn what_this_server_cannot_apply_is_refused() {
        for bad in [
            "https://cairn.example/*\n  X: y\n",
            "/cairn/:page\n  X: y\n",
            "/cairn/*.js\n  X: y\n",
            "  X: y\n",
            "/cairn/\n  no colon\n",
        ] {
            assert!(parse_headers_file(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn files_under_the_base_path_only() {
        let dist = std::env::temp_dir().join(format!("cairn-apphost-{}", std::process::id()));
        std::fs::create_dir_all(dist.join(".stage")).unwrap();
        std::fs::write(dist.join("index.html"), "<html>").unwrap();
        std::fs::write(dist.join("_headers"), "/*\n").unwrap();
        std::fs::write(dist.join(".stage/x.js"), "x").unwrap();
        let site = Site {
            dist: dist.clone(),
            base_path: "/cairn/".into(),
            headers: String::new(),
            config_json: Some("{}".into()),
            page_policy: None,
        };
        let status = |path: &str| file_response(&site, path).status();
        assert_eq!(status("/cairn/"), StatusCode::OK);
        assert_eq!(status("/cairn/index.html"), StatusCode::OK);
        assert_eq!(status("/cairn/cairn.config.json"), StatusCode::OK);
        assert_eq!(status("/cairn"), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(status("/index.html"), StatusCode::NOT_FOUND);
        assert_eq!(status("/cairn/_headers"), StatusCode::NOT_FOUND);
        assert_eq!(status("/cairn/.stage/x.js"), StatusCode::NOT_FOUND);
        assert_eq!(status("/cairn/../cairn/index.html"), StatusCode::NOT_FOUND);
        assert_eq!(status("/cairn/missing.js"), StatusCode::NOT_FOUND);
        let _ = std::fs::remove_dir_all(&dist);
    }
}
