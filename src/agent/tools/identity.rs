//! identity-verifier: the customer's devices and IPs from live state, when
//! each was first and last seen, and whether the device is shared.

use super::super::escalation::Escalation;
use super::super::mask::mask_ipv4;
use crate::domain::format_millis;
use crate::state::time::{to_millis, to_secs};
use crate::state::{keys, Seen, StateStore};
use serde_json::{json, Value};

pub fn verify(state: &StateStore, escalation: &Escalation) -> Value {
    let transaction = &escalation.transaction;
    let customer = state.customer(keys::key(&transaction.customer_id));
    let seen = |found: Option<Seen>| match found {
        Some(Seen::Known { first, last }) => json!({
            "known": true,
            "first_seen": format_millis(to_millis(first)),
            "last_seen": format_millis(to_millis(last)),
        }),
        _ => json!({"known": false}),
    };
    let device = transaction.device_id.as_deref().map(|device| {
        let sighting = customer
            .as_ref()
            .map(|state| state.devices.lookup(keys::fingerprint(device)));
        let at = to_secs(escalation.decision.event_time);
        let sharing = state
            .device(keys::key(device))
            .map_or(0, |device| device.customers_24h(at));
        let mut found = seen(sighting);
        found["device_id"] = json!(device);
        found["customers_on_device_24h"] = json!(sharing);
        found["shared"] = json!(sharing > 1);
        found
    });
    let ip = transaction.ip_address.as_deref().map(|ip| {
        let sighting = customer
            .as_ref()
            .map(|state| state.ips.lookup(keys::fingerprint(ip)));
        let mut found = seen(sighting);
        found["ip_address"] = json!(mask_ipv4(ip).unwrap_or_else(|| "(not IPv4)".into()));
        found
    });
    let profile = customer.as_ref().map(|state| {
        let sightings = |set: Vec<(u32, u32, u32)>| -> Vec<Value> {
            set.into_iter()
                .map(|(id, first, last)| {
                    json!({
                        "fingerprint": format!("{id:08x}"),
                        "first_seen": format_millis(to_millis(first)),
                        "last_seen": format_millis(to_millis(last)),
                    })
                })
                .collect()
        };
        json!({
            "approved_transactions": state.amounts.count,
            "known_devices": sightings(state.devices.iter().filter(|s| s.last != 0).map(|s| (s.id, s.first, s.last)).collect()),
            "known_ips": sightings(state.ips.iter().filter(|s| s.last != 0).map(|s| (s.id, s.first, s.last)).collect()),
        })
    });
    let unknown_device = device
        .as_ref()
        .is_some_and(|device| device["known"] == json!(false));
    json!({
        "customer_id": transaction.customer_id,
        "device": device,
        "ip": ip,
        "customer_profile": profile,
        "card_present": transaction.card_present,
        "assessment": if unknown_device { "UNKNOWN_DEVICE" } else { "KNOWN_DEVICE" },
    })
}
