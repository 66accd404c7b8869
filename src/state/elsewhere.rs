//! Transactions another replica decided after its last checkpoint: read
//! back by the replica that took the shard over (see the Kinesis source's
//! `readback`), folded into state when they are read again, never decided
//! twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct DecidedElsewhere {
    /// Kept beside the map so the hot path costs one atomic load.
    count: AtomicUsize,
    /// Transaction key → customer key.
    ids: Mutex<HashMap<u64, u64>>,
}

impl DecidedElsewhere {
    pub fn note(&self, transaction: u64, customer: u64) {
        let mut ids = self.lock();
        ids.insert(transaction, customer);
        self.count.store(ids.len(), Ordering::Release);
    }

    /// True (once) if this customer's transaction was decided elsewhere.
    pub fn take(&self, transaction: u64, customer: u64) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        let mut ids = self.lock();
        let found = ids.get(&transaction) == Some(&customer);
        if found {
            ids.remove(&transaction);
            self.count.store(ids.len(), Ordering::Release);
        }
        found
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, u64>> {
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
        elsewhere.note(1, 10);
        assert!(!elsewhere.take(1, 11), "another customer's id");
        assert!(elsewhere.take(1, 10));
        assert!(!elsewhere.take(1, 10), "only once");
    }
}
