//! Sampling helpers over the generator's one seeded random stream.

use crate::domain::Millis;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub(super) type Random = ChaCha8Rng;

pub(super) const MINUTE: Millis = 60_000;
pub(super) const HOUR: Millis = 60 * MINUTE;
pub(super) const DAY: Millis = 24 * HOUR;

/// True with probability `p`.
pub(super) fn chance(rng: &mut Random, p: f64) -> bool {
    rng.gen::<f64>() < p
}

/// Uniform in `[low, high)`; `low` when the range is empty.
pub(super) fn uniform(rng: &mut Random, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.gen::<f64>()
}

/// Uniform whole milliseconds in `[low, high]`.
pub(super) fn millis_between(rng: &mut Random, low: Millis, high: Millis) -> Millis {
    if high <= low {
        low
    } else {
        rng.gen_range(low..=high)
    }
}

/// A standard normal draw (Box-Muller; rand 0.8 has no normal without rand_distr).
pub(super) fn normal(rng: &mut Random) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]: ln stays finite
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal around `median` with log-spread `sigma`.
pub(super) fn log_normal(rng: &mut Random, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Exponential waiting time with the given mean, in milliseconds (at least 1).
pub(super) fn exponential_millis(rng: &mut Random, mean: f64) -> Millis {
    let u: f64 = 1.0 - rng.gen::<f64>();
    ((-u.ln() * mean) as Millis).max(1)
}

/// Index into a cumulative weight table; the last entry on rounding.
pub(super) fn pick_cumulative<T: Into<f64> + Copy>(rng: &mut Random, cumulative: &[T]) -> usize {
    let total: f64 = cumulative.last().map_or(0.0, |&last| last.into());
    let target = rng.gen::<f64>() * total;
    let found = cumulative.partition_point(|&value| value.into() <= target);
    found.min(cumulative.len().saturating_sub(1))
}

/// A uniformly chosen element, or None if empty.
pub(super) fn pick<'a, T>(rng: &mut Random, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        items.get(rng.gen_range(0..items.len()))
    }
}

/// Rounded to cents, as card amounts are.
pub(super) fn cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}

/// "dev-" and 12 hex digits, like an app's installation id.
pub(super) fn device_id(rng: &mut Random) -> String {
    let bits: u64 = rng.gen::<u64>() & 0xffff_ffff_ffff;
    format!("dev-{bits:012x}")
}

/// First octets of broadband and mobile ranges; none private or reserved.
const RESIDENTIAL_PREFIXES: [u8; 16] = [
    24, 47, 67, 71, 73, 76, 81, 82, 86, 90, 92, 98, 109, 151, 176, 189,
];

/// A public IPv4 address as a customer's home or phone would have.
pub(super) fn residential_ip(rng: &mut Random) -> String {
    let first = RESIDENTIAL_PREFIXES[rng.gen_range(0..RESIDENTIAL_PREFIXES.len())];
    let [a, b, c]: [u8; 3] = rng.gen();
    format!("{first}.{a}.{b}.{}", c.max(1))
}

/// An address fraudsters come from: hosting ranges, and sometimes a Tor exit
/// in 185.220.100.0/22 so that an IP denylist has something to catch.
pub(super) fn fraudster_ip(rng: &mut Random) -> String {
    if chance(rng, 0.2) {
        let [b, c]: [u8; 2] = rng.gen();
        return format!("185.220.{}.{}", 100 + b % 4, c.max(1));
    }
    const HOSTING: [u8; 6] = [5, 45, 91, 103, 146, 194];
    let first = HOSTING[rng.gen_range(0..HOSTING.len())];
    let [a, b, c]: [u8; 3] = rng.gen();
    format!("{first}.{a}.{b}.{}", c.max(1))
}

/// Great-circle distance in km on a sphere: good enough to tell continents apart.
pub(super) fn haversine_km(from: (f64, f64), to: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6_371.0;
    let (lat1, lat2) = (from.0.to_radians(), to.0.to_radians());
    let d_lat = lat2 - lat1;
    let d_lon = (to.1 - from.1).to_radians();
    let a = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}
