//! Processing time comes from a clock the engine is given, so tests can fix it.

use crate::domain::{now_millis, Millis};

pub trait Clock: Send + Sync {
    fn now_millis(&self) -> Millis;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> Millis {
        now_millis()
    }
}

/// A clock that always says the same time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Millis);

impl Clock for FixedClock {
    fn now_millis(&self) -> Millis {
        self.0
    }
}
