//! A static server for Cairn's built `dist/`, on its own origin, serving a generated
//! `cairn.config.json` so the app can be pointed at an EHR on any port.

use std::path::PathBuf;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::services::ServeDir;

pub fn app_host(dist_dir: PathBuf, config_json: String) -> Router {
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
}

/// Serves `dist_dir` on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    dist_dir: PathBuf,
    config_json: String,
) -> std::io::Result<()> {
    axum::serve(listener, app_host(dist_dir, config_json)).await
}
