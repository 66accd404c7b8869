//! Counters every stage updates.

use crate::domain::{Action, RejectKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct Counters {
    pub transactions_in: AtomicU64,
    pub labels_in: AtomicU64,
    approve: AtomicU64,
    review: AtomicU64,
    block: AtomicU64,
    pub alerts: AtomicU64,
    pub cases: AtomicU64,
    pub labels_applied: AtomicU64,
    dead_decode: AtomicU64,
    dead_validation: AtomicU64,
    dead_oversize: AtomicU64,
    dead_duplicate: AtomicU64,
    dead_unmatched_label: AtomicU64,
    pub late_events: AtomicU64,
    /// Transactions read per source, for the per-source metric.
    sources: Mutex<Vec<(String, Arc<AtomicU64>)>>,
}

/// A consistent-enough copy of the counters for reports and checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    pub transactions_in: u64,
    pub labels_in: u64,
    pub approve: u64,
    pub review: u64,
    pub block: u64,
    pub alerts: u64,
    pub cases: u64,
    pub labels_applied: u64,
    pub dead_decode: u64,
    pub dead_validation: u64,
    pub dead_oversize: u64,
    pub dead_duplicate: u64,
    pub dead_unmatched_label: u64,
    pub late_events: u64,
}

impl CountersSnapshot {
    pub fn decisions(&self) -> u64 {
        self.approve + self.review + self.block
    }

    pub fn dead_letters(&self) -> u64 {
        self.dead_decode
            + self.dead_validation
            + self.dead_oversize
            + self.dead_duplicate
            + self.dead_unmatched_label
    }

    /// Every record read was decided or dead-lettered: the pipeline's invariant.
    pub fn balanced(&self) -> bool {
        self.transactions_in + self.labels_in
            == self.decisions() + self.labels_applied + self.dead_letters()
    }
}

fn add(counter: &AtomicU64, amount: u64) {
    counter.fetch_add(amount, Ordering::Relaxed);
}

impl Counters {
    pub fn decided(&self, action: Action) {
        let counter = match action {
            Action::Approve => &self.approve,
            Action::Review => &self.review,
            Action::Block => &self.block,
        };
        add(counter, 1);
    }

    pub fn dead_lettered(&self, kind: RejectKind) {
        let counter = match kind {
            RejectKind::Decode => &self.dead_decode,
            RejectKind::Validation => &self.dead_validation,
            RejectKind::Oversize => &self.dead_oversize,
            RejectKind::Duplicate => &self.dead_duplicate,
        };
        add(counter, 1);
    }

    /// A label that decoded but matched no transaction: counted apart, also dead-lettered.
    pub fn label_unmatched(&self) {
        add(&self.dead_unmatched_label, 1);
    }

    pub fn incr(counter: &AtomicU64) {
        add(counter, 1);
    }

    /// The counter of transactions read by `source`, created on first use.
    pub fn source_counter(&self, source: &str) -> Arc<AtomicU64> {
        let mut sources = self
            .sources
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, counter)) = sources.iter().find(|(name, _)| name == source) {
            return counter.clone();
        }
        let counter = Arc::new(AtomicU64::new(0));
        sources.push((source.to_owned(), counter.clone()));
        counter
    }

    pub fn per_source(&self) -> Vec<(String, u64)> {
        let sources = self
            .sources
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sources
            .iter()
            .map(|(name, counter)| (name.clone(), counter.load(Ordering::Relaxed)))
            .collect()
    }

    pub fn snapshot(&self) -> CountersSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        CountersSnapshot {
            transactions_in: read(&self.transactions_in),
            labels_in: read(&self.labels_in),
            approve: read(&self.approve),
            review: read(&self.review),
            block: read(&self.block),
            alerts: read(&self.alerts),
            cases: read(&self.cases),
            labels_applied: read(&self.labels_applied),
            dead_decode: read(&self.dead_decode),
            dead_validation: read(&self.dead_validation),
            dead_oversize: read(&self.dead_oversize),
            dead_duplicate: read(&self.dead_duplicate),
            dead_unmatched_label: read(&self.dead_unmatched_label),
            late_events: read(&self.late_events),
        }
    }
}
