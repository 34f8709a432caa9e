//! The release as it ships: `cargo xtask test` builds one with the sample configuration
//! `tests/dist/cairn.config.json` to be served under `/cairn/` (`cargo xtask dist --config …
//! --public-url /cairn/`, into `CAIRN_DIST_PREFIXED`). These tests serve that directory exactly
//! as built, applying its generated `_headers` as a static host does, and run Cairn in
//! Chromium from the development EHR. The configuration names its ports, so the EHR listens on
//! 19090 and Cairn on 18080, one test at a time.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::path::PathBuf;

use fantoccini::Locator;
use serde_json::json;
use support::*;

const EHR_PORT: u16 = 19090;
const APP_PORT: u16 = 18080;
const BASE: &str = "/cairn/";

/// The fixed ports admit one stack at a time.
static PORTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn release() -> PathBuf {
    let dist = PathBuf::from(std::env::var("CAIRN_DIST_PREFIXED").expect(
        "CAIRN_DIST_PREFIXED is not set: run these tests with `cargo xtask test`, which builds \
         the release they serve",
    ));
    assert!(
        dist.join("_headers").exists(),
        "no release with headers in {}",
        dist.display()
    );
    dist
}

/// A header's value in the release's own `_headers` file, for the rule on `path`.
fn shipped(dist: &std::path::Path, path: &str, name: &str) -> String {
    let text = std::fs::read_to_string(dist.join("_headers")).unwrap();
    let rules = sandbox::apphost::parse_headers_file(&text).unwrap();
    sandbox::apphost::headers_for(&rules, path)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("_headers gives {path} no {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_under_a_path_prefix_launches_from_the_ehr_under_its_generated_headers() {
    let _ports = PORTS.lock().await;
    let dist = release();
    let stack = start_built_release(dist.clone(), BASE, EHR_PORT, APP_PORT).await;

    // What any client gets: the generated headers, on the files Trunk really built.
    let csp = shipped(&dist, "/cairn/", "Content-Security-Policy");
    for directive in [
        "connect-src 'self' http://127.0.0.1:19090 https://fhir.example.org;",
        "img-src 'self' data: http://127.0.0.1:19090;",
        "form-action 'self' http://127.0.0.1:19090 https://fhir.example.org;",
        "frame-ancestors http://127.0.0.1:19090",
    ] {
        assert!(csp.contains(directive), "{directive} missing: {csp}");
    }
    let wasm = std::fs::read_dir(&dist)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|name| name.ends_with("_bg.wasm"))
        .expect("a .wasm in the release");
    for (path, cache) in [
        ("/cairn/".to_owned(), "no-cache"),
        ("/cairn/index.html".to_owned(), "no-cache"),
        ("/cairn/cairn.config.json".to_owned(), "max-age=60"),
        (
            format!("/cairn/{wasm}"),
            "public, max-age=31536000, immutable",
        ),
    ] {
        let (status, headers) = http_get(APP_PORT, &path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&headers, "cache-control"), Some(cache), "{path}");
        assert_eq!(
            header(&headers, "content-security-policy"),
            Some(csp.as_str()),
            "{path}"
        );
        assert_eq!(
            header(&headers, "referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(
            header(&headers, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header(&headers, "cross-origin-opener-policy"),
            Some("same-origin"),
            "{path}"
        );
    }
    // Both pages carry the same policy in a <meta>, for a host that ignores `_headers`: all
    // of it but `frame-ancestors`, which a <meta> cannot carry.
    let (without_framing, framing) = csp.split_once("; frame-ancestors ").unwrap();
    assert_eq!(framing, "http://127.0.0.1:19090");
    for page in ["index.html", "launch.html"] {
        let html = std::fs::read_to_string(dist.join(page)).unwrap();
        let meta =
            format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{without_framing}\">");
        assert_eq!(html.matches(&meta).count(), 1, "{page}: {html}");
        assert_eq!(html.matches("http-equiv").count(), 1, "{page}");
        // Before any script it governs.
        assert!(html.find(&meta) < html.find("<script"), "{page}");
    }
    let (status, headers) = http_get(APP_PORT, "/cairn").await;
    assert_eq!(
        (status, header(&headers, "location")),
        (301, Some("/cairn/"))
    );
    assert_eq!(http_get(APP_PORT, "/cairn/_headers").await.0, 404);
    // The nginx block carries the same policy, in each of its locations.
    let nginx = std::fs::read_to_string(dist.join("nginx.conf")).unwrap();
    assert_eq!(
        nginx
            .matches(&format!(
                "add_header Content-Security-Policy \"{csp}\" always;"
            ))
            .count(),
        3,
        "{nginx}"
    );
    assert!(nginx.contains("location /cairn/ {"), "{nginx}");

    // The EHR opens http://127.0.0.1:18080/cairn/?launch=…&iss=… in its frame; Cairn reads its
    // configuration beside itself, signs in with the development server's own client id and
    // comes back to /cairn/.
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[1];
    open_chart(c, &stack, &patient.name).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    assert_address_is_clean(c).await;
    assert_canary_contained(c, &stack).await;
    let path = c.execute("return location.pathname", vec![]).await.unwrap();
    assert_eq!(path, json!("/cairn/"));
    let log = stack.ehr.requests();
    assert_eq!(count(&log, "POST", "/oauth2/token"), 1, "{log:#?}");
    assert_eq!(
        count(&log, "GET", &format!("/fhir/Patient/{}", patient.id)),
        1
    );

    // The build names itself for support.
    click(c, ".about summary").await;
    assert_eq!(
        text_of(c, ".about__version").await,
        env!("CARGO_PKG_VERSION")
    );
    let commit = std::env::var("CAIRN_DIST_COMMIT").unwrap_or_default();
    let expected = if commit.is_empty() {
        "not recorded"
    } else {
        commit.as_str()
    };
    assert_eq!(text_of(c, ".about__commit").await, expected);
    screenshot(c, "dist-prefixed-ehr-launch").await;
    c.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_page_of_a_prefixed_release_lists_each_server_with_its_logo() {
    let _ports = PORTS.lock().await;
    let stack = start_built_release(release(), BASE, EHR_PORT, APP_PORT).await;
    let b = browser().await;
    let c = &b.client;
    c.goto(&format!("{}cairn/{LAUNCH_PAGE}", stack.app_url))
        .await
        .unwrap();
    text_of(c, ".system__name").await;
    let mut names = Vec::new();
    for element in c.find_all(Locator::Css(".system__name")).await.unwrap() {
        names.push(element.text().await.unwrap());
    }
    // The development server as its brand names it, and the production server as configured.
    assert_eq!(
        names,
        ["Cairn Development Health", "Example Health (production)"]
    );
    // Only the server with a logo shows one, loaded under the release's CSP (`img-src`).
    let logos = c
        .execute(
            "return [...document.querySelectorAll('.system__logo')].map(i => \
             [i.closest('.system').querySelector('.system__name').textContent, \
              i.getAttribute('alt'), i.complete && i.naturalWidth > 0])",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(logos, json!([["Cairn Development Health", "", true]]));
    let logo_fetches = count(&stack.ehr.requests(), "GET", "/logo.svg");
    assert_eq!(logo_fetches, 1);
    screenshot(c, "dist-prefixed-start").await;
    c.clone().close().await.unwrap();
}

/// Both pages preconnect to exactly the origins of the configured FHIR and authorization
/// servers, and every script, style and wasm has its precompressed copies beside it.
#[test]
fn both_pages_preconnect_to_the_configured_servers_and_assets_are_precompressed() {
    let dist = release();
    let config =
        cairn::smart::config::parse_config(&std::fs::read(dist.join("cairn.config.json")).unwrap())
            .unwrap();
    let mut expected: Vec<String> = Vec::new();
    for server in &config.servers {
        let fhir = url::Url::parse(&server.fhir_base).unwrap();
        expected.push(fhir.origin().ascii_serialization());
        expected.extend(server.auth_origins.iter().cloned());
    }
    expected.sort();
    expected.dedup();
    for page in ["index.html", LAUNCH_PAGE] {
        let html = std::fs::read_to_string(dist.join(page)).unwrap();
        let mut found = cairn::deploy::preconnected(&html);
        found.sort();
        assert_eq!(found, expected, "{page}");
    }
    for name in std::fs::read_dir(&dist)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".js") || n.ends_with(".css") || n.ends_with(".wasm"))
    {
        let size = |n: &str| std::fs::metadata(dist.join(n)).map(|m| m.len());
        let raw = size(&name).unwrap();
        for ext in ["gz", "br"] {
            let copy =
                size(&format!("{name}.{ext}")).unwrap_or_else(|e| panic!("{name}.{ext}: {e}"));
            assert!(copy < raw, "{name}.{ext} is {copy} bytes, the file {raw}");
        }
    }
}
