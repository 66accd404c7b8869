//! Throughput and latency per second over the last minute, for the live
//! view's counters and sparklines. Lock-free: the workers record every
//! decision here.

use crate::domain::{now_millis, Action, Decision};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

const SECONDS: usize = 60;

#[derive(Default)]
struct Second {
    /// Which second this slot holds (epoch seconds).
    at: AtomicU64,
    decisions: AtomicU64,
    flagged: AtomicU64,
    latency_sum_us: AtomicU64,
    latency_max_us: AtomicU64,
}

pub struct Stats {
    seconds: [Second; SECONDS],
    by_action: [AtomicU64; Action::ALL.len()],
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            seconds: std::array::from_fn(|_| Second::default()),
            by_action: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// One point of the sparklines.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    pub at: u64,
    pub decisions: u64,
    pub flagged: u64,
    pub mean_latency_us: u64,
    pub max_latency_us: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatsView {
    pub approve: u64,
    pub review: u64,
    pub block: u64,
    /// Oldest first, one per second, seconds without decisions included.
    pub series: Vec<Point>,
}

impl Stats {
    pub fn record(&self, decision: &Decision) {
        self.record_at(
            now_secs(),
            decision.action,
            decision.latency_us.max(0) as u64,
        );
    }

    fn record_at(&self, now: u64, action: Action, latency_us: u64) {
        self.by_action[action as usize].fetch_add(1, Ordering::Relaxed);
        let slot = &self.seconds[now as usize % SECONDS];
        let held = slot.at.load(Ordering::Relaxed);
        if held != now
            && slot
                .at
                .compare_exchange(held, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            // This thread turned the slot over; a decision another thread
            // counts in between may be lost, which a sparkline tolerates.
            slot.decisions.store(0, Ordering::Relaxed);
            slot.flagged.store(0, Ordering::Relaxed);
            slot.latency_sum_us.store(0, Ordering::Relaxed);
            slot.latency_max_us.store(0, Ordering::Relaxed);
        }
        slot.decisions.fetch_add(1, Ordering::Relaxed);
        if action != Action::Approve {
            slot.flagged.fetch_add(1, Ordering::Relaxed);
        }
        slot.latency_sum_us.fetch_add(latency_us, Ordering::Relaxed);
        slot.latency_max_us.fetch_max(latency_us, Ordering::Relaxed);
    }

    pub fn view(&self) -> StatsView {
        self.view_at(now_secs())
    }

    fn view_at(&self, now: u64) -> StatsView {
        let count = |action: Action| self.by_action[action as usize].load(Ordering::Relaxed);
        let first = now.saturating_sub(SECONDS as u64 - 1);
        let series = (first..=now).map(|at| self.point(at)).collect();
        StatsView {
            approve: count(Action::Approve),
            review: count(Action::Review),
            block: count(Action::Block),
            series,
        }
    }

    fn point(&self, at: u64) -> Point {
        let slot = &self.seconds[at as usize % SECONDS];
        if slot.at.load(Ordering::Relaxed) != at {
            return Point {
                at,
                decisions: 0,
                flagged: 0,
                mean_latency_us: 0,
                max_latency_us: 0,
            };
        }
        let decisions = slot.decisions.load(Ordering::Relaxed);
        Point {
            at,
            decisions,
            flagged: slot.flagged.load(Ordering::Relaxed),
            mean_latency_us: slot.latency_sum_us.load(Ordering::Relaxed) / decisions.max(1),
            max_latency_us: slot.latency_max_us.load(Ordering::Relaxed),
        }
    }
}

fn now_secs() -> u64 {
    now_millis().max(0) as u64 / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_counted_apart_and_old_ones_forgotten() {
        let stats = Stats::default();
        stats.record_at(1_000, Action::Approve, 10);
        stats.record_at(1_000, Action::Block, 30);
        stats.record_at(1_001, Action::Review, 5);
        let view = stats.view_at(1_001);
        assert_eq!((view.approve, view.review, view.block), (1, 1, 1));
        assert_eq!(view.series.len(), SECONDS);
        let last_two = &view.series[SECONDS - 2..];
        assert_eq!(
            (
                last_two[0].decisions,
                last_two[0].flagged,
                last_two[0].mean_latency_us,
                last_two[0].max_latency_us
            ),
            (2, 1, 20, 30)
        );
        assert_eq!(last_two[1].decisions, 1);
        // A minute later the slot of second 1000 holds second 1060.
        stats.record_at(1_060, Action::Approve, 1);
        let later = stats.view_at(1_060);
        assert_eq!(later.series.last().map(|p| p.decisions), Some(1));
        assert!(later.series.iter().all(|p| p.at != 1_000));
    }
}
