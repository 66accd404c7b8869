//! A fixed-bucket latency histogram that workers record into without locks.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds in microseconds: 10 µs to 10 s, roughly ×2.5 apart.
pub const BUCKET_BOUNDS_US: [u64; 14] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 250_000, 1_000_000, 10_000_000,
];

#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// One more than the bounds: the last counts everything above them.
    buckets: [AtomicU64; BUCKET_BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

/// Cumulative counts per bound, as Prometheus wants them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    pub cumulative: Vec<(u64, u64)>,
    pub count: u64,
    pub sum_us: u64,
}

impl LatencyHistogram {
    pub fn record_us(&self, micros: u64) {
        let bucket = BUCKET_BOUNDS_US.partition_point(|&bound| bound < micros);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let cumulative = BUCKET_BOUNDS_US
            .iter()
            .zip(&self.buckets)
            .map(|(&bound, bucket)| {
                running += bucket.load(Ordering::Relaxed);
                (bound, running)
            })
            .collect();
        HistogramSnapshot {
            cumulative,
            count: self.count.load(Ordering::Relaxed),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_inclusive() {
        let histogram = LatencyHistogram::default();
        for micros in [5, 10, 11, 900, 20_000_000] {
            histogram.record_us(micros);
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count, 5);
        assert_eq!(snapshot.cumulative[0], (10, 2), "le=10 holds 5 and 10");
        assert_eq!(snapshot.cumulative[1], (25, 3));
        assert_eq!(
            snapshot.cumulative.last().unwrap().1,
            4,
            "20 s is above every bound"
        );
    }
}
