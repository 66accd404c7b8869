//! geolocation-checker: where the transaction happened, where the customer
//! was before (the state behind the decision, else the transaction's own
//! hints), the geodesic distance, the time between and the implied speed.

use super::super::escalation::Escalation;
use crate::domain::{format_millis, parse_time_since, Millis};
use crate::engine::{distance_km, locate};
use crate::geo::Gazetteer;
use crate::rules::RulesConfig;
use serde_json::{json, Value};

struct Previous {
    position: (f64, f64),
    at: Option<Millis>,
    source: &'static str,
}

fn previous(gazetteer: &Gazetteer, escalation: &Escalation) -> Option<Previous> {
    let customer = escalation.case.as_ref().map(|case| &case.customer);
    if let Some(customer) = customer {
        if let (Some(latitude), Some(longitude)) = (
            customer.last_location_latitude,
            customer.last_location_longitude,
        ) {
            return Some(Previous {
                position: (latitude, longitude),
                at: customer.last_location_time,
                source: "state",
            });
        }
    }
    let transaction = &escalation.transaction;
    let place = gazetteer.resolve(transaction.previous_location.as_deref()?)?;
    let elapsed = transaction
        .time_since_last_transaction
        .as_deref()
        .and_then(parse_time_since);
    Some(Previous {
        position: (place.latitude, place.longitude),
        at: elapsed.map(|elapsed| escalation.decision.event_time - elapsed),
        source: "transaction_hint",
    })
}

pub fn check(gazetteer: &Gazetteer, rules: &RulesConfig, escalation: &Escalation) -> Value {
    let transaction = &escalation.transaction;
    let here = locate(gazetteer, transaction);
    let country = here
        .country
        .map(|code| String::from_utf8_lossy(&code).into_owned());
    let current = json!({
        "location": transaction.location,
        "position": here.position.map(|(lat, lon)| json!({"latitude": lat, "longitude": lon})),
        "country": country,
    });
    let (Some(position), Some(before)) = (here.position, previous(gazetteer, escalation)) else {
        return json!({
            "current": current,
            "previous": Value::Null,
            "impossible_travel": false,
            "note": "no previous place to compare with",
        });
    };
    let distance = distance_km(before.position, position);
    let elapsed_hours = before
        .at
        .map(|at| (escalation.decision.event_time - at).max(0) as f64 / 3_600_000.0);
    let speed = elapsed_hours
        .filter(|hours| *hours > 0.0)
        .map(|hours| distance / hours);
    let limits = &rules.impossible_travel;
    let impossible = distance >= limits.min_distance_km
        && speed.map_or(elapsed_hours == Some(0.0), |speed| {
            speed > limits.max_speed_kmh
        });
    json!({
        "current": current,
        "previous": {
            "position": {"latitude": before.position.0, "longitude": before.position.1},
            "at": before.at.map(format_millis),
            "source": before.source,
            "named": transaction.previous_location,
        },
        "distance_km": (distance * 10.0).round() / 10.0,
        "distance_miles": (distance / 1.609_344).round(),
        "elapsed_hours": elapsed_hours,
        "speed_kmh": speed.map(|speed| speed.round()),
        "max_plausible_speed_kmh": limits.max_speed_kmh,
        "impossible_travel": impossible,
    })
}
