//! Fixed-bucket latency histograms that workers record into without locks.

use std::sync::atomic::{AtomicU64, Ordering};

/// Read → decided: 10 µs to 10 s (upper bounds in nanoseconds).
pub const DECISION_BOUNDS_NS: &[u64] = &[
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    50_000_000,
    250_000_000,
    1_000_000_000,
    10_000_000_000,
];

/// One stage of one transaction: 250 ns to 10 ms.
pub const STAGE_BOUNDS_NS: &[u64] = &[
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 1_000_000, 10_000_000,
];

#[derive(Debug)]
pub struct LatencyHistogram {
    bounds_ns: &'static [u64],
    /// One more than the bounds: the last counts everything above them.
    buckets: Vec<AtomicU64>,
    sum_ns: AtomicU64,
    count: AtomicU64,
}

/// Cumulative counts per bound (in seconds), as Prometheus wants them.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub cumulative: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl LatencyHistogram {
    pub fn new(bounds_ns: &'static [u64]) -> LatencyHistogram {
        LatencyHistogram {
            bounds_ns,
            buckets: (0..=bounds_ns.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn record_ns(&self, nanos: u64) {
        self.record_ns_times(nanos, 1);
    }

    /// `times` observations of the same value (each of a batch's
    /// transactions, timed together).
    pub fn record_ns_times(&self, nanos: u64, times: u64) {
        let bucket = self.bounds_ns.partition_point(|&bound| bound < nanos);
        self.buckets[bucket].fetch_add(times, Ordering::Relaxed);
        self.sum_ns.fetch_add(nanos * times, Ordering::Relaxed);
        self.count.fetch_add(times, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let cumulative = self
            .bounds_ns
            .iter()
            .zip(&self.buckets)
            .map(|(&bound, bucket)| {
                running += bucket.load(Ordering::Relaxed);
                (bound as f64 / 1e9, running)
            })
            .collect();
        HistogramSnapshot {
            cumulative,
            count: self.count.load(Ordering::Relaxed),
            sum_seconds: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_inclusive() {
        let histogram = LatencyHistogram::new(DECISION_BOUNDS_NS);
        for micros in [5, 10, 11, 900, 20_000_000] {
            histogram.record_ns(micros * 1_000);
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count, 5);
        assert_eq!(
            snapshot.cumulative[0],
            (0.00001, 2),
            "le=10µs holds 5 and 10"
        );
        assert_eq!(snapshot.cumulative[1], (0.000025, 3));
        assert_eq!(
            snapshot.cumulative.last().unwrap().1,
            4,
            "20 s is above every bound"
        );
    }
}
