//! Offline geography: resolving free-text place names ("Seattle, WA",
//! "Moscow, Russia") to coordinates without any network call.
//!
//! The data is a compact GeoNames extract (CC BY 4.0, see
//! `data/GEONAMES-LICENSE.md`) compiled into the binary and regenerated with
//! `scripts/build_gazetteer.py`.

pub mod gazetteer;
mod recent;

pub use gazetteer::{Gazetteer, Place};
