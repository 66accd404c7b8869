//! A circuit breaker in front of vLLM: after `failures` investigations in a
//! row fail, escalations fall back at once for `open_for`; then one trial is
//! let through, and its result closes or reopens the breaker.

use super::config::BreakerConfig;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// For the metrics gauge: 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> u64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: u32,
    opened_at: Instant,
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(config: &BreakerConfig) -> Breaker {
        Breaker {
            threshold: config.failures.max(1),
            open_for: config.open_for.as_std(),
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: 0,
                opened_at: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it cannot leave the counters inconsistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// May a call go out now? Moves an expired open breaker to half-open and
    /// lets exactly one trial through.
    pub fn allow(&self) -> bool {
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => true,
            BreakerState::HalfOpen => false,
            BreakerState::Open if inner.opened_at.elapsed() >= self.open_for => {
                inner.state = BreakerState::HalfOpen;
                true
            }
            BreakerState::Open => false,
        }
    }

    pub fn success(&self) {
        let mut inner = self.lock();
        inner.state = BreakerState::Closed;
        inner.failures = 0;
    }

    pub fn failure(&self) {
        let mut inner = self.lock();
        inner.failures = inner.failures.saturating_add(1);
        if inner.state == BreakerState::HalfOpen || inner.failures >= self.threshold {
            inner.state = BreakerState::Open;
            inner.opened_at = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::Span;

    #[test]
    fn opens_after_the_threshold_then_one_trial_closes_it() {
        let breaker = Breaker::new(&BreakerConfig {
            failures: 2,
            open_for: Span(0),
        });
        breaker.failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(breaker.allow(), "open_for elapsed: one trial");
        assert!(!breaker.allow(), "only one trial at a time");
        breaker.failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(breaker.allow());
        breaker.success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn stays_open_until_open_for_passes() {
        let breaker = Breaker::new(&BreakerConfig {
            failures: 1,
            open_for: Span(60_000),
        });
        breaker.failure();
        assert!(!breaker.allow());
    }
}
