//! `/healthz`, `/readyz` and `/metrics` over HTTP, and
//! `POST /admin/model/reload`, which reloads the configured model files (it
//! takes no path: the endpoint cannot be used to load anything else).

use super::{render, Telemetry};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use thiserror::Error;
use tokio::net::TcpListener;

#[derive(Debug, Error)]
#[error("cannot listen on {address} for /metrics and probes: {detail}")]
pub struct HttpError {
    pub address: SocketAddr,
    pub detail: String,
}

/// Binds now (so a taken port fails the start), then serves in the background.
/// Returns the bound address (port 0 picks a free one).
pub async fn serve(
    address: SocketAddr,
    telemetry: Arc<Telemetry>,
) -> Result<SocketAddr, HttpError> {
    serve_with(address, telemetry, Router::new()).await
}

/// As [`serve`], with more routes beside the probes (the analyst console).
pub async fn serve_with(
    address: SocketAddr,
    telemetry: Arc<Telemetry>,
    extra: Router,
) -> Result<SocketAddr, HttpError> {
    let fail = |error: std::io::Error| HttpError {
        address,
        detail: error.to_string(),
    };
    let listener = TcpListener::bind(address).await.map_err(fail)?;
    let bound = listener.local_addr().map_err(fail)?;
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/admin/model/reload", post(reload_model))
        .with_state(telemetry)
        .merge(extra);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics endpoint stopped");
        }
    });
    tracing::info!(%bound, "serving /healthz, /readyz and /metrics");
    Ok(bound)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(telemetry): State<Arc<Telemetry>>) -> impl IntoResponse {
    if telemetry.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn metrics(State(telemetry): State<Arc<Telemetry>>) -> impl IntoResponse {
    let body = render(&telemetry);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

async fn reload_model(State(telemetry): State<Arc<Telemetry>>) -> impl IntoResponse {
    let Some(slot) = telemetry.model() else {
        return (
            StatusCode::NOT_FOUND,
            "{\"error\":\"no model is configured\"}\n".to_owned(),
        );
    };
    match crate::model::reload_off_hot_path(slot.clone()).await {
        Ok(swapped) => (
            StatusCode::OK,
            serde_json::json!({"from": swapped.from, "to": swapped.to}).to_string() + "\n",
        ),
        Err(error) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::json!({"error": error.to_string()}).to_string() + "\n",
        ),
    }
}
