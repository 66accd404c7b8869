//! The console's routes, merged into the detector's HTTP server:
//! `/console` (the page and its assets, public: they hold no data) and
//! `/api/...` (everything with data, behind [`access::require`]).

use super::{access, assets, cases, customer, live::Filter, submit, verdict, Console};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};

pub fn router(console: Arc<Console>) -> Router {
    let api = Router::new()
        .route("/api/session", get(whoami))
        .route("/api/live", get(recent))
        .route("/api/live/stream", get(stream))
        .route("/api/stats", get(stats))
        .route("/api/seeds", get(submit::seeds))
        .route("/api/submit", post(submit::submit))
        .route("/api/submit/stream", post(submit::submit_stream))
        .route("/api/customers/{customer_id}", get(customer::customer))
        .route("/api/verdicts", post(verdict::verdict))
        .route("/api/cases", get(cases::cases))
        .route("/api/cases/{case_id}", get(cases::case))
        .route_layer(middleware::from_fn_with_state(
            console.clone(),
            access::require,
        ));
    Router::new()
        .route("/console", get(assets::page))
        .route("/console/", get(assets::page))
        .route("/console/assets/{file}", get(assets::asset))
        .route("/api/session", post(sign_in))
        .merge(api)
        .with_state(console)
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

/// Exchanges the token for an HttpOnly cookie, so scripts never hold it.
async fn sign_in(State(console): State<Arc<Console>>, Json(body): Json<SignIn>) -> Response {
    if !console.access.token_matches(body.token.trim()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "wrong token"})),
        )
            .into_response();
    }
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Strict",
        access::COOKIE,
        body.token.trim()
    );
    (
        [(header::SET_COOKIE, cookie)],
        Json(serde_json::json!({"analyst": "token holder"})),
    )
        .into_response()
}

async fn whoami(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    match console.access.identify(&headers) {
        Some(analyst) => Json(serde_json::json!({
            "analyst": analyst.0,
            "cases": console.cases_root().is_some(),
            "agent": console.agent().is_some(),
        }))
        .into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn recent(State(console): State<Arc<Console>>, Query(filter): Query<Filter>) -> Response {
    Json(console.recent(&filter)).into_response()
}

async fn stats(State(console): State<Arc<Console>>) -> Response {
    Json(console.stats.view()).into_response()
}

/// Decisions as they are made, one `decision` event each; a client too
/// slow to keep up skips ahead (told by a `lagged` event) instead of
/// holding the workers back.
async fn stream(
    State(console): State<Arc<Console>>,
    Query(filter): Query<Filter>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let events = BroadcastStream::new(console.feed.subscribe()).filter_map(move |item| {
        let event = match item {
            Ok(decision) if filter.matches(&decision) => Event::default()
                .event("decision")
                .json_data(&*decision)
                .ok(),
            Ok(_) => None,
            Err(lagged) => Some(Event::default().event("lagged").data(lagged.to_string())),
        };
        event.map(Ok)
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
