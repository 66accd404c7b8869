//! Transactions another replica decided after its last checkpoint: read
//! back by the replica that took the shard over (see the Kinesis source's
//! `readback`), folded into state when they are read again, never decided
//! twice.
//!
//! A read-back also finds decisions from just before the checkpoint, which
//! are never read again: entries older than [`KEPT_FOR`] are dropped at the
//! next read-back, so the map stays as small as a few takeovers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a read-back id waits to be read again (a shard lagging further
/// behind its takeover decides those transactions again, with the same ids).
pub const KEPT_FOR: Duration = Duration::from_secs(3600);

#[derive(Default)]
pub struct DecidedElsewhere {
    /// Kept beside the map so the hot path costs one atomic load.
    count: AtomicUsize,
    /// Transaction key → (customer key, when it was read back).
    ids: Mutex<HashMap<u64, (u64, Instant)>>,
}

impl DecidedElsewhere {
    /// Notes one read-back's (transaction key, customer key) pairs.
    pub fn note(&self, decided: impl IntoIterator<Item = (u64, u64)>) {
        let now = Instant::now();
        let mut ids = self.lock();
        ids.retain(|_, (_, noted)| now.duration_since(*noted) < KEPT_FOR);
        ids.extend(
            decided
                .into_iter()
                .map(|(transaction, customer)| (transaction, (customer, now))),
        );
        self.count.store(ids.len(), Ordering::Release);
    }

    /// True (once) if this customer's transaction was decided elsewhere.
    pub fn take(&self, transaction: u64, customer: u64) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        let mut ids = self.lock();
        let found = ids
            .get(&transaction)
            .is_some_and(|(owner, _)| *owner == customer);
        if found {
            ids.remove(&transaction);
            self.count.store(ids.len(), Ordering::Release);
        }
        found
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (u64, Instant)>> {
        self.ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_is_taken_once_and_only_for_its_customer() {
        let elsewhere = DecidedElsewhere::default();
        assert!(!elsewhere.take(1, 10));
        elsewhere.note([(1, 10)]);
        assert!(!elsewhere.take(1, 11), "another customer's id");
        assert!(elsewhere.take(1, 10));
        assert!(!elsewhere.take(1, 10), "only once");
    }
}
