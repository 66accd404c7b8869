//! Where recent transactions happened, so a label that names only a
//! transaction id can still reach its customer and terminal.
//!
//! A fixed-size, direct-mapped table: memory is bounded whatever the volume,
//! and an old entry is overwritten by a newer one that hashes to its slot.
//! Labels that carry `customer_id` and `terminal_id` need no entry at all.

use super::time::Secs;
use std::sync::Mutex;

const SHARDS: usize = 64;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecentTransaction {
    pub transaction: u64,
    pub customer: u64,
    /// 0 when the transaction had no terminal.
    pub terminal: u64,
    pub at: Secs,
}

pub struct RecentTransactions {
    shards: Vec<Mutex<Vec<RecentTransaction>>>,
    slots_per_shard: usize,
}

impl RecentTransactions {
    pub fn with_capacity(capacity: usize) -> RecentTransactions {
        let slots_per_shard = capacity.div_ceil(SHARDS).max(1);
        let shards = (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect();
        RecentTransactions {
            shards,
            slots_per_shard,
        }
    }

    pub fn remember(&self, entry: RecentTransaction) {
        let (shard, slot) = self.place(entry.transaction);
        let mut slots = lock(&self.shards[shard]);
        if slots.is_empty() {
            // Allocated on first use so an idle engine costs nothing.
            slots.resize(self.slots_per_shard, RecentTransaction::default());
        }
        slots[slot] = entry;
    }

    pub fn find(&self, transaction: u64) -> Option<RecentTransaction> {
        let (shard, slot) = self.place(transaction);
        let slots = lock(&self.shards[shard]);
        slots
            .get(slot)
            .filter(|entry| entry.transaction == transaction && entry.at != 0)
            .copied()
    }

    /// Drops `transaction`'s entry: its decision was undone (an aborted
    /// Kafka transaction) and it will be decided again.
    pub fn forget(&self, transaction: u64) {
        let (shard, slot) = self.place(transaction);
        let mut slots = lock(&self.shards[shard]);
        if let Some(entry) = slots
            .get_mut(slot)
            .filter(|entry| entry.transaction == transaction)
        {
            *entry = RecentTransaction::default();
        }
    }

    fn place(&self, transaction: u64) -> (usize, usize) {
        let shard = (transaction % SHARDS as u64) as usize;
        let slot = ((transaction / SHARDS as u64) % self.slots_per_shard as u64) as usize;
        (shard, slot)
    }
}

/// A poisoned shard only means another thread panicked mid-write of plain
/// data; the entries are still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_remembers() {
        let recent = RecentTransactions::with_capacity(1_000);
        let entry = RecentTransaction {
            transaction: 42,
            customer: 7,
            terminal: 9,
            at: 100,
        };
        recent.remember(entry);
        assert_eq!(recent.find(42), Some(entry));
        assert_eq!(recent.find(43), None);
        recent.forget(43);
        assert_eq!(recent.find(42), Some(entry), "forgets only its own entry");
        recent.forget(42);
        assert_eq!(recent.find(42), None);
    }
}
