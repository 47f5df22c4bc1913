//! The stylesheet and script, compiled into the binary and served with a
//! long cache lifetime (their address carries the crate version).

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::server::AppState;

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

/// Address of the stylesheet, changing with each release.
pub(crate) const CSS_PATH: &str = concat!("/static/app-", env!("CARGO_PKG_VERSION"), ".css");
/// Address of the script, changing with each release.
pub(crate) const JS_PATH: &str = concat!("/static/app-", env!("CARGO_PKG_VERSION"), ".js");

const CACHE: &str = "public, max-age=31536000, immutable";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            CSS_PATH,
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            JS_PATH,
            get(|| async { asset("text/javascript; charset=utf-8", JS) }),
        )
}

/// A compiled-in file, cached for as long as its address lasts.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, CACHE),
        ],
        body,
    )
        .into_response()
}
