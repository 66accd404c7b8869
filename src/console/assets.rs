//! The page, its script and its style sheet, compiled into the binary.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");

pub async fn page() -> Response {
    with_type("text/html; charset=utf-8", PAGE)
}

pub async fn asset(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "console.js" => with_type("text/javascript; charset=utf-8", SCRIPT),
        "console.css" => with_type("text/css; charset=utf-8", STYLE),
        _ => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

fn with_type(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
            ),
        ],
        body,
    )
        .into_response()
}
