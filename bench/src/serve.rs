//! Both apps served as production serves them: `sandbox::apphost` (the `_headers` rules, so
//! Cairn's hashed files are immutable and its pages revalidated) with, around it, what a CDN
//! adds: content negotiation and validators.
//!
//! - A file with a precompressed copy beside it (`<file>.br`, `<file>.gz`, which `cargo xtask
//!   dist` writes for scripts, styles and wasm) is sent as that copy when the request's
//!   `Accept-Encoding` allows it; any other text or wasm response is compressed on the fly
//!   (brotli quality 5, gzip level 6, as CDNs do dynamically), once per content.
//!   `Vary: Accept-Encoding` on both.
//! - Every response of a static site gets a strong `ETag` (per content and encoding), and a matching
//!   `If-None-Match` is answered `304 Not Modified`, so a page marked `no-cache` is
//!   revalidated rather than downloaded again.
//! - Every response leaves `latency` after its request arrived (the EHR's own knob).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sandbox::apphost::{self, Site};
use tokio::net::TcpListener;

/// Content encodings, in the server's order of preference.
const ENCODINGS: [&str; 2] = ["br", "gzip"];

/// Compressed bodies already made, by content hash and encoding.
type Memo = Arc<Mutex<HashMap<(u64, &'static str), Arc<Vec<u8>>>>>;

/// Serves `site` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, site: Site, latency: Duration) -> std::io::Result<()> {
    let dir = site.dist.clone();
    let app = apphost::app_host(site).map_err(std::io::Error::other)?;
    axum::serve(listener, production(app, Some(dir), latency)).await
}

/// `router` with compression (precompressed copies from `dir` when given; validators too, for
/// a static site) and `latency`. The development EHR gets it without `dir`: a FHIR server
/// compresses its JSON on the fly.
pub fn production(router: Router, dir: Option<PathBuf>, latency: Duration) -> Router {
    let memo: Memo = Arc::default();
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let (dir, memo) = (dir.clone(), memo.clone());
            async move {
                let response = negotiate(dir.as_deref(), &memo, request, next).await;
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                response
            }
        },
    ))
}

/// `router` with every CORS preflight (`OPTIONS`) held back by `latency_ms` (read per
/// request). Chromium's network emulation leaves preflights out: without this, each would cost
/// nothing under a profile, where on a real network it costs a round trip.
pub fn delay_preflights(router: Router, latency_ms: Arc<AtomicU64>) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let ms = latency_ms.load(Ordering::Relaxed);
            async move {
                let preflight = request.method() == Method::OPTIONS;
                let response = next.run(request).await;
                if preflight && ms > 0 {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                response
            }
        },
    ))
}

async fn negotiate(
    dir: Option<&std::path::Path>,
    memo: &Memo,
    request: Request,
    next: Next,
) -> Response {
    let get = request.method() == Method::GET;
    let path = request.uri().path().to_owned();
    // Read before the await: a borrow of the request may not live across it (its body is not
    // `Sync`).
    let (accepted, if_none_match) = {
        let header_text = |name: header::HeaderName| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        (
            header_text(header::ACCEPT_ENCODING),
            header_text(header::IF_NONE_MATCH),
        )
    };
    let response = next.run(request).await;
    let static_site = dir.is_some();
    if !get
        || response.status() != StatusCode::OK
        || response.headers().contains_key(header::CONTENT_ENCODING)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(raw) = to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let compressible = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.starts_with("text/")
                || (t.starts_with("application/") && t.contains("json"))
                || t.starts_with("application/wasm")
                || t.starts_with("application/javascript")
                || t.starts_with("image/svg")
        });
    let encoding = ENCODINGS
        .into_iter()
        .find(|e| compressible && accepts(&accepted, e));
    let hash = {
        let mut h = DefaultHasher::new();
        raw.hash(&mut h);
        h.finish()
    };
    let body: Arc<Vec<u8>> = match encoding {
        Some(encoding) => compressed(dir, &path, &raw, hash, encoding, memo),
        None => Arc::new(raw.to_vec()),
    };
    let etag = format!(
        "\"{hash:016x}{}\"",
        encoding.map(|e| format!("-{e}")).unwrap_or_default()
    );
    let headers = &mut parts.headers;
    if compressible {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    headers.remove(header::CONTENT_LENGTH);
    if !static_site {
        return Response::from_parts(parts, Body::from(body.as_ref().clone()));
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if if_none_match.split(',').any(|t| t.trim() == etag) {
        parts.status = StatusCode::NOT_MODIFIED;
        headers.remove(header::CONTENT_ENCODING);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(body.as_ref().clone()))
}

/// Whether an `Accept-Encoding` value allows `encoding` (a `q=0` refuses it).
fn accepts(accept_encoding: &str, encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.replace(' ', "") == "q=0");
        name.eq_ignore_ascii_case(encoding) && !refused
    })
}

/// The precompressed copy beside the file when there is one, else `raw` compressed now (and
/// kept).
fn compressed(
    dir: Option<&std::path::Path>,
    path: &str,
    raw: &[u8],
    hash: u64,
    encoding: &'static str,
    memo: &Memo,
) -> Arc<Vec<u8>> {
    if let Some(hit) = memo
        .lock()
        .ok()
        .and_then(|m| m.get(&(hash, encoding)).cloned())
    {
        return hit;
    }
    let suffix = if encoding == "br" { "br" } else { "gz" };
    let relative = path.trim_start_matches('/');
    let copy: Option<PathBuf> = dir
        .filter(|_| !relative.is_empty() && !relative.contains(".."))
        .map(|dir| dir.join(format!("{relative}.{suffix}")));
    let body = copy
        .and_then(|p| std::fs::read(p).ok())
        .unwrap_or_else(|| compress(raw, encoding));
    let body = Arc::new(body);
    if let Ok(mut m) = memo.lock() {
        m.insert((hash, encoding), body.clone());
    }
    body
}

/// On-the-fly compression at the levels CDNs use for dynamic content.
pub fn compress(raw: &[u8], encoding: &str) -> Vec<u8> {
    if encoding == "br" {
        let mut writer = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
        let _ = writer.write_all(raw);
        let _ = writer.flush();
        writer.into_inner()
    } else {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        let _ = encoder.write_all(raw);
        encoder.finish().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_as_browsers_send_it() {
        let chromium = "gzip, deflate, br, zstd";
        assert!(accepts(chromium, "br"));
        assert!(accepts(chromium, "gzip"));
        assert!(!accepts("gzip, deflate", "br"));
        assert!(!accepts("br;q=0, gzip", "br"));
        assert!(accepts("br;q=0.5", "br"));
        assert!(!accepts("", "gzip"));
    }
}
