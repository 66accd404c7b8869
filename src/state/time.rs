//! State keeps time as u32 seconds since 2000-01-01: half the bytes of epoch
//! millis, good until 2136, and the domain already rejects earlier timestamps.

use crate::domain::Millis;

pub type Secs = u32;

const EPOCH_2000_MS: Millis = 946_684_800_000;

pub fn to_secs(millis: Millis) -> Secs {
    ((millis - EPOCH_2000_MS) / 1_000).clamp(0, Secs::MAX as Millis) as Secs
}

pub fn to_millis(secs: Secs) -> Millis {
    EPOCH_2000_MS + secs as Millis * 1_000
}
