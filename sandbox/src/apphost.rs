//! A static server for Cairn's built `dist/`, on its own origin, serving a generated
//! `cairn.config.json` so the app can be pointed at an EHR on any port, with the security headers
//! a deployment must send: a CSP derived from that configuration, `Referrer-Policy` and
//! `X-Content-Type-Options`.

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower_http::services::ServeDir;

pub fn app_host(dist_dir: PathBuf, config_json: String) -> Router {
    let index = std::fs::read_to_string(dist_dir.join("index.html")).unwrap_or_default();
    let headers: Vec<(HeaderName, HeaderValue)> = security_headers(&config_json, &index)
        .into_iter()
        .filter_map(|(name, value)| Some((name, HeaderValue::from_str(&value).ok()?)))
        .collect();
    let config = move || {
        let body = config_json.clone();
        async move {
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                ],
                body,
            )
                .into_response()
        }
    };
    Router::new()
        .route("/cairn.config.json", get(config))
        .fallback_service(ServeDir::new(dist_dir))
        .layer(axum::middleware::map_response(
            move |mut response: Response| {
                let headers = headers.clone();
                async move {
                    for (name, value) in headers {
                        response.headers_mut().insert(name, value);
                    }
                    response
                }
            },
        ))
}

/// Serves `dist_dir` on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    dist_dir: PathBuf,
    config_json: String,
) -> std::io::Result<()> {
    serve_with_latency(listener, dist_dir, config_json, Duration::ZERO).await
}

/// Like [`serve`], each response leaving `latency` after its request arrived at the earliest
/// (the benchmark's wide-area network; see `Ehr::set_latency`).
pub async fn serve_with_latency(
    listener: tokio::net::TcpListener,
    dist_dir: PathBuf,
    config_json: String,
    latency: Duration,
) -> std::io::Result<()> {
    let router = app_host(dist_dir, config_json).layer(axum::middleware::from_fn(
        move |request: Request, next: Next| async move {
            let response = next.run(request).await;
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            response
        },
    ));
    axum::serve(listener, router).await
}

/// The headers every response of a Cairn deployment carries, from its configuration and its
/// built `index.html` (whose inline loader script must be allowed by hash).
pub fn security_headers(config_json: &str, index_html: &str) -> Vec<(HeaderName, String)> {
    let config: Value = serde_json::from_str(config_json).unwrap_or(Value::Null);
    let mut connect = vec!["'self'".to_owned()];
    // Forms go only to authorization servers (`authorize-post`), and come back to Cairn
    // through their redirect, which Chromium also checks against `form-action`.
    let mut form = vec!["'self'".to_owned()];
    for server in config["fhir_servers"].as_array().into_iter().flatten() {
        let fhir_origin = server["fhir_base"].as_str().and_then(origin_of);
        let auth_origins = origins(&server["auth_origins"]);
        // Without `auth_origins`, the authorization server shares the FHIR base's origin.
        let auth_origins = if auth_origins.is_empty() {
            fhir_origin.iter().cloned().collect()
        } else {
            auth_origins
        };
        add_unique(
            &mut connect,
            fhir_origin.iter().chain(&auth_origins).cloned(),
        );
        add_unique(&mut form, auth_origins);
    }
    // The brands bundle is read from the start page.
    add_unique(
        &mut connect,
        config["brand_bundle"].as_str().and_then(origin_of),
    );
    let ancestors = origins(&config["ehr_origins"]);
    let ancestors = if ancestors.is_empty() {
        "'none'".to_owned()
    } else {
        ancestors.join(" ")
    };
    let mut script = vec!["'self'".to_owned(), "'wasm-unsafe-eval'".to_owned()];
    script.extend(inline_scripts(index_html).map(|body| {
        format!(
            "'sha256-{}'",
            STANDARD.encode(Sha256::digest(body.as_bytes()))
        )
    }));
    let csp = [
        "default-src 'none'".to_owned(),
        format!("script-src {}", script.join(" ")),
        format!("connect-src {}", connect.join(" ")),
        "style-src 'self'".to_owned(),
        "img-src 'self' data:".to_owned(),
        "base-uri 'none'".to_owned(),
        format!("form-action {}", form.join(" ")),
        "object-src 'none'".to_owned(),
        format!("frame-ancestors {ancestors}"),
    ]
    .join("; ");
    vec![
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::REFERRER_POLICY, "no-referrer".to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
    ]
}

/// The origins of an array of URLs (entries that are not URLs are skipped).
fn origins(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(origin_of)
        .collect()
}

/// Appends the `items` not already in `list`, in order.
fn add_unique(list: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

/// The bodies of `<script>` elements without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (tag, after) = rest.split_once('>')?;
        if tag.contains("src=") {
            return None;
        }
        after.split_once("</script>").map(|(body, _)| body)
    })
}

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!scheme.is_empty() && !host.is_empty() && !host.contains('@')).then(|| {
        format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_follows_the_configuration_and_the_built_page() {
        let config = r#"{"fhir_servers":[{"fhir_base":"https://fhir.example/r4","auth_origins":["https://login.example"]},
            {"fhir_base":"https://fhir.example/other"}],"ehr_origins":["https://ehr.example"],
            "brand_bundle":"https://brands.example/b.json"}"#;
        let index = "<head><script type=\"module\">import init from '/a.js';</script>\
                     <script src=\"/boot.js\" integrity=\"x\"></script></head>";
        let headers = security_headers(config, index);
        let csp = &headers[0].1;
        let hash = STANDARD.encode(Sha256::digest(b"import init from '/a.js';"));
        assert!(
            csp.contains(&format!(
                "script-src 'self' 'wasm-unsafe-eval' 'sha256-{hash}';"
            )),
            "{csp}"
        );
        assert!(
            csp.contains(
                "connect-src 'self' https://fhir.example https://login.example https://brands.example;"
            ),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors https://ehr.example"), "{csp}");
        assert!(
            csp.contains("form-action 'self' https://login.example https://fhir.example;"),
            "{csp}"
        );
        assert!(csp.starts_with("default-src 'none';"));
        for directive in [
            "style-src 'self';",
            "img-src 'self' data:;",
            "base-uri 'none';",
            "object-src 'none';",
        ] {
            assert!(csp.contains(directive), "{directive} missing: {csp}");
        }
        assert!(
            !csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"),
            "{csp}"
        );
        assert_eq!(
            headers[2],
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned())
        );
        assert_eq!(
            headers[1],
            (header::REFERRER_POLICY, "no-referrer".to_owned())
        );
    }

    #[test]
    fn no_ehr_origins_means_no_framing() {
        let headers = security_headers(r#"{"fhir_servers":[]}"#, "");
        assert!(
            headers[0].1.ends_with("frame-ancestors 'none'"),
            "{}",
            headers[0].1
        );
    }
}
