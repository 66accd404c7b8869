//! Identifiers are hashed once at the edge: state stores fixed-size keys, never strings.

use xxhash_rust::xxh3::xxh3_64;

/// Stable across processes and versions (snapshots depend on it). At 64 bits,
/// a collision among even 100 M customers has odds near 1 in 3,700.
pub fn key(id: &str) -> u64 {
    xxh3_64(id.as_bytes())
}

/// A short fingerprint for small per-customer sets (devices, IPs, merchants):
/// a collision only makes a new value look known among a handful of entries.
pub fn fingerprint(id: &str) -> u32 {
    let hash = xxh3_64(id.as_bytes());
    (hash ^ (hash >> 32)) as u32
}
