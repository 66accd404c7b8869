//! The customer view: what the engine's state holds for one customer —
//! its windows, amount habits, the two most recent places (drawn on a map
//! from the gazetteer's coordinates), its devices and IPs (as the
//! fingerprints the state keeps, never the raw values), plus the decisions
//! about it still in the live view's ring.

use super::view::LiveDecision;
use super::{live::Filter, submit::unavailable, Console};
use crate::domain::Millis;
use crate::state::time::to_millis;
use crate::state::{keys, CustomerState, Sighting, StateStore};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Serialize)]
pub struct CustomerView {
    pub customer_id: String,
    /// The customer's newest event time: windows are read as of then.
    pub as_of: Millis,
    pub windows: Vec<WindowView>,
    pub approved_transactions: u32,
    pub mean_amount: f64,
    pub stddev_amount: f64,
    pub places: Vec<PlaceView>,
    pub devices: Vec<SightingView>,
    pub ips: Vec<SightingView>,
    pub compromised_since: Option<Millis>,
    pub recent: Vec<Arc<LiveDecision>>,
}

#[derive(Debug, Serialize)]
pub struct WindowView {
    pub window: String,
    pub count: u32,
    pub sum: f64,
    pub max: f64,
}

#[derive(Debug, Serialize)]
pub struct PlaceView {
    pub latitude: f32,
    pub longitude: f32,
    pub at: Millis,
}

#[derive(Debug, Serialize)]
pub struct SightingView {
    /// The state's 32-bit fingerprint of the device or IP, in hex.
    pub fingerprint: String,
    pub first_seen: Millis,
    pub last_seen: Millis,
}

pub async fn customer(
    State(console): State<Arc<Console>>,
    Path(customer_id): Path<String>,
) -> Response {
    let Some(engine) = console.engine() else {
        return unavailable();
    };
    let recent = console.recent(&Filter {
        customer: Some(customer_id.clone()),
        limit: Some(50),
        ..Filter::default()
    });
    match view(engine.state(), &customer_id, recent) {
        Some(view) => Json(view).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": format!("no state for customer {customer_id}")})),
        )
            .into_response(),
    }
}

pub fn view(
    state: &StateStore,
    customer_id: &str,
    recent: Vec<Arc<LiveDecision>>,
) -> Option<CustomerView> {
    let held = state.customer(keys::key(customer_id))?;
    let customer: &CustomerState = &held;
    let layout = state.layout();
    let at = customer.newest_event;
    let windows = (0..layout.len())
        .map(|window| {
            let value = customer.windows.value(layout, window, at);
            WindowView {
                window: layout.name(window).to_owned(),
                count: value.count,
                sum: value.sum,
                max: value.max,
            }
        })
        .collect();
    Some(CustomerView {
        customer_id: customer_id.to_owned(),
        as_of: to_millis(at),
        windows,
        approved_transactions: customer.amounts.count,
        mean_amount: customer.amounts.mean(),
        stddev_amount: customer.amounts.stddev(),
        places: customer
            .whereabouts
            .iter()
            .filter(|place| place.at != 0)
            .map(|place| PlaceView {
                latitude: place.latitude,
                longitude: place.longitude,
                at: to_millis(place.at),
            })
            .collect(),
        devices: customer.devices.entries().map(sighting).collect(),
        ips: customer.ips.entries().map(sighting).collect(),
        compromised_since: (customer.compromised_since != 0)
            .then(|| to_millis(customer.compromised_since)),
        recent,
    })
}

fn sighting(seen: &Sighting) -> SightingView {
    SightingView {
        fingerprint: format!("{:08x}", seen.id),
        first_seen: to_millis(seen.first),
        last_seen: to_millis(seen.last),
    }
}
