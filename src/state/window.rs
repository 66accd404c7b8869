//! Event-time windows as rings of bucketed counters.
//!
//! A window of length L split into N buckets keeps one counter per L/N slice
//! of time; a query at time t sums the buckets of the N slices ending with
//! t's own. So a window covers between L - L/N and L of history: that
//! granularity is the price of a fixed, small state per customer instead of
//! a list of every transaction. All windows of a customer share one flat
//! array of buckets so the whole state is a single allocation.

use super::time::Secs;
use crate::duration::Span;
use serde::{Deserialize, Serialize};

/// At most this many windows per customer.
pub const MAX_WINDOWS: usize = 5;
/// At most this many buckets across all windows (12 bytes each).
pub const MAX_BUCKETS: usize = 16;

/// One window as written in the topology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Name used in decisions and metrics, such as `1h`.
    pub name: String,
    /// How far back the window reaches.
    pub length: Span,
    /// How many buckets the length is cut into; more is finer and larger.
    pub buckets: u8,
}

pub fn default_windows() -> Vec<WindowSpec> {
    let spec = |name: &str, length, buckets| WindowSpec {
        name: name.into(),
        length,
        buckets,
    };
    vec![
        // 16 buckets in all: 1m by 30 s, 1h by 15 min, 24h by 6 h, 7d by
        // 56 h, 30d by 10 d. Finer costs 12 bytes a bucket per customer.
        spec("1m", Span::minutes(1), 2),
        spec("1h", Span::hours(1), 4),
        spec("24h", Span::hours(24), 4),
        spec("7d", Span::days(7), 3),
        spec("30d", Span::days(30), 3),
    ]
}

#[derive(Debug, Clone)]
struct WindowShape {
    name: String,
    width_secs: u32,
    buckets: u32,
    offset: usize,
}

/// The validated arrangement of windows, shared by every customer.
#[derive(Debug, Clone)]
pub struct WindowLayout {
    shapes: Vec<WindowShape>,
}

impl WindowLayout {
    pub fn new(specs: &[WindowSpec]) -> Result<WindowLayout, String> {
        if specs.is_empty() || specs.len() > MAX_WINDOWS {
            return Err(format!(
                "between 1 and {MAX_WINDOWS} windows are supported, got {}",
                specs.len()
            ));
        }
        let mut shapes = Vec::with_capacity(specs.len());
        let mut offset = 0;
        for spec in specs {
            shapes.push(shape_of(spec, offset)?);
            offset += spec.buckets as usize;
        }
        if offset > MAX_BUCKETS {
            return Err(format!("windows use {offset} buckets in all, at most {MAX_BUCKETS} fit the per-customer budget"));
        }
        Ok(WindowLayout { shapes })
    }

    pub fn len(&self) -> usize {
        self.shapes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty()
    }

    pub fn name(&self, window: usize) -> &str {
        &self.shapes[window].name
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.shapes.iter().position(|shape| shape.name == name)
    }

    /// The longest window's reach, for expiring idle customers.
    pub fn longest_secs(&self) -> u32 {
        self.shapes
            .iter()
            .map(|shape| shape.width_secs * shape.buckets)
            .max()
            .unwrap_or(0)
    }
}

fn shape_of(spec: &WindowSpec, offset: usize) -> Result<WindowShape, String> {
    if spec.buckets == 0 {
        return Err(format!("window `{}` needs at least one bucket", spec.name));
    }
    let width_secs = spec.length.as_secs() / spec.buckets as u64;
    if width_secs == 0 || !spec.length.as_secs().is_multiple_of(spec.buckets as u64) {
        return Err(format!(
            "window `{}`: length {} must split into {} whole seconds-long buckets",
            spec.name, spec.length, spec.buckets
        ));
    }
    let width_secs =
        u32::try_from(width_secs).map_err(|_| format!("window `{}` is too long", spec.name))?;
    Ok(WindowShape {
        name: spec.name.clone(),
        width_secs,
        buckets: spec.buckets as u32,
        offset,
    })
}

/// Counters for one slice of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    count: u16,
    small: u16,
    sum_cents: u32,
    max_cents: u32,
}

/// What a window holds at a point in time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WindowValue {
    pub count: u32,
    /// Transactions under the small-amount threshold (card testing).
    pub small: u32,
    pub sum: f64,
    pub max: f64,
}

/// An amount as the windows count it: whole cents, saturating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Amount {
    pub cents: u32,
    pub small: bool,
}

impl Amount {
    pub fn new(amount: f64, small_below: f64) -> Amount {
        Amount {
            cents: (amount * 100.0).round().clamp(0.0, u32::MAX as f64) as u32,
            small: amount < small_below,
        }
    }
}

/// All windows of one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowCounters {
    /// The newest bucket number of each window (time / bucket width).
    heads: [u32; MAX_WINDOWS],
    buckets: [Bucket; MAX_BUCKETS],
}

impl Default for WindowCounters {
    fn default() -> Self {
        WindowCounters {
            heads: [0; MAX_WINDOWS],
            buckets: [Bucket::default(); MAX_BUCKETS],
        }
    }
}

impl WindowCounters {
    /// Counts a transaction at `at` in every window. Returns false when it is
    /// older than a window's oldest bucket (that window cannot hold it).
    pub fn add(&mut self, layout: &WindowLayout, at: Secs, amount: Amount) -> bool {
        let mut counted_everywhere = true;
        for (window, shape) in layout.shapes.iter().enumerate() {
            let number = at / shape.width_secs;
            let head = self.advance(window, shape, number);
            if number as u64 + shape.buckets as u64 <= head as u64 {
                counted_everywhere = false;
                continue;
            }
            let bucket = &mut self.buckets[slot(shape, number)];
            bucket.count = bucket.count.saturating_add(1);
            bucket.small = bucket.small.saturating_add(amount.small as u16);
            bucket.sum_cents = bucket.sum_cents.saturating_add(amount.cents);
            bucket.max_cents = bucket.max_cents.max(amount.cents);
        }
        counted_everywhere
    }

    /// Moves the ring forward to `number`, clearing the slices it passes.
    fn advance(&mut self, window: usize, shape: &WindowShape, number: u32) -> u32 {
        let head = self.heads[window];
        if number <= head {
            return head;
        }
        let steps = (number - head).min(shape.buckets);
        for step in 1..=steps {
            self.buckets[slot(shape, head.wrapping_add(step))] = Bucket::default();
        }
        self.heads[window] = number;
        number
    }

    /// The window's totals as of `at`, from the buckets still held.
    pub fn value(&self, layout: &WindowLayout, window: usize, at: Secs) -> WindowValue {
        let shape = &layout.shapes[window];
        let (first, last) = held_range(self.heads[window], shape, at);
        let mut value = WindowValue::default();
        let mut max_cents = 0;
        let mut sum_cents = 0u64;
        for number in first..=last {
            let bucket = &self.buckets[slot(shape, number as u32)];
            value.count += bucket.count as u32;
            value.small += bucket.small as u32;
            sum_cents += bucket.sum_cents as u64;
            max_cents = max_cents.max(bucket.max_cents);
        }
        value.sum = sum_cents as f64 / 100.0;
        value.max = max_cents as f64 / 100.0;
        value
    }
}

fn slot(shape: &WindowShape, number: u32) -> usize {
    shape.offset + (number % shape.buckets) as usize
}

/// Bucket numbers that belong to the window at `at` and are still in the ring.
/// An empty range comes back as first > last.
fn held_range(head: u32, shape: &WindowShape, at: Secs) -> (i64, i64) {
    let query = (at / shape.width_secs) as i64;
    let buckets = shape.buckets as i64;
    let oldest_held = head as i64 - buckets + 1;
    let first = (query - buckets + 1).max(oldest_held);
    let last = query.min(head as i64);
    (first, last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn layout() -> WindowLayout {
        WindowLayout::new(&default_windows()).unwrap()
    }

    #[test]
    fn rejects_layouts_over_budget() {
        let mut specs = default_windows();
        specs[4].buckets = 30;
        assert!(WindowLayout::new(&specs).is_err());
        specs[4].buckets = 4;
        specs[1].buckets = 7;
        assert!(WindowLayout::new(&specs).unwrap_err().contains("whole"));
    }

    #[test]
    fn counts_expire_as_time_moves() {
        let layout = layout();
        let mut counters = WindowCounters::default();
        let start = 1_000_000;
        counters.add(&layout, start, Amount::new(10.0, 5.0));
        counters.add(&layout, start + 5, Amount::new(2.5, 5.0));
        let minute = layout.index_of("1m").unwrap();
        let now = counters.value(&layout, minute, start + 5);
        assert_eq!((now.count, now.small, now.sum, now.max), (2, 1, 12.5, 10.0));
        let later = counters.value(&layout, minute, start + 3_600);
        assert_eq!(later.count, 0);
        let hour = counters.value(&layout, layout.index_of("1h").unwrap(), start + 1_800);
        assert_eq!(hour.count, 2);
    }

    /// The ring against a recomputation from the raw events.
    fn brute_force(
        events: &[(Secs, Amount)],
        shape: &WindowShape,
        head: u32,
        at: Secs,
    ) -> WindowValue {
        let (first, last) = held_range(head, shape, at);
        let mut value = WindowValue::default();
        let mut max_cents = 0;
        let mut sum_cents = 0u64;
        for (time, amount) in events {
            let number = (time / shape.width_secs) as i64;
            if number >= first && number <= last {
                value.count += 1;
                value.small += amount.small as u32;
                sum_cents += amount.cents as u64;
                max_cents = max_cents.max(amount.cents);
            }
        }
        value.sum = sum_cents as f64 / 100.0;
        value.max = max_cents as f64 / 100.0;
        value
    }

    proptest! {
        #[test]
        fn windows_equal_recomputation_over_out_of_order_events(
            steps in prop::collection::vec((0u32..7_200, 0u32..600, 0u32..200_000), 1..200),
            query_offsets in prop::collection::vec(0u32..100_000, 1..8),
        ) {
            let layout = layout();
            let mut counters = WindowCounters::default();
            let mut applied = Vec::new();
            let mut newest: Secs = 500_000_000;
            // Each step moves time forward, then sends an event up to 10 minutes late.
            for (forward, lateness, cents) in steps {
                newest += forward;
                let at = newest - lateness;
                let amount = Amount { cents, small: cents < 500 };
                counters.add(&layout, at, amount);
                applied.push((at, amount));
            }
            for offset in query_offsets {
                let at = (newest + offset).saturating_sub(50_000);
                for (window, shape) in layout.shapes.iter().enumerate() {
                    let expected = brute_force(&applied, shape, counters.heads[window], at);
                    prop_assert_eq!(counters.value(&layout, window, at), expected);
                }
            }
        }
    }
}
