//! Labels that arrived before their report time in event time.
//!
//! A replay can read a label file faster than the transactions: applying a
//! chargeback reported on 12 December to a transaction of 3 December would
//! leak the future into the decision. Such labels wait here until the
//! event-time watermark reaches their `reported_at`.

use super::time::{to_secs, Secs};
use crate::domain::Label;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};
use std::sync::Mutex;

struct Waiting {
    due: Secs,
    arrival: u64,
    label: Label,
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.arrival) == (other.due, other.arrival)
    }
}
impl Eq for Waiting {}
impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.arrival).cmp(&(other.due, other.arrival))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Waiting>>,
    arrivals: u64,
}

pub struct PendingLabels {
    queue: Mutex<Queue>,
    /// The earliest due time waiting (u32::MAX: none), checked without the lock
    /// on every transaction.
    next_due: AtomicU32,
}

impl Default for PendingLabels {
    fn default() -> Self {
        PendingLabels {
            queue: Mutex::default(),
            next_due: AtomicU32::new(u32::MAX),
        }
    }
}

impl PendingLabels {
    /// Keeps the label if it is due after `watermark`; gives it back if it is due now.
    pub fn defer_if_early(&self, label: Label, watermark: Secs) -> Option<Label> {
        let due = to_secs(label.reported_at);
        if due <= watermark {
            return Some(label);
        }
        let mut queue = self.lock();
        queue.arrivals += 1;
        let arrival = queue.arrivals;
        queue.heap.push(Reverse(Waiting {
            due,
            arrival,
            label,
        }));
        self.next_due.fetch_min(due, AtomicOrdering::Relaxed);
        None
    }

    /// Labels due at `watermark`, in report order.
    pub fn take_due(&self, watermark: Secs) -> Vec<Label> {
        if self.next_due.load(AtomicOrdering::Relaxed) > watermark {
            return Vec::new();
        }
        self.take_while(|due| due <= watermark)
    }

    /// Everything still waiting, for the end of a finite input.
    pub fn take_all(&self) -> Vec<Label> {
        self.take_while(|_| true)
    }

    pub fn len(&self) -> usize {
        self.lock().heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take_while(&self, is_due: impl Fn(Secs) -> bool) -> Vec<Label> {
        let mut queue = self.lock();
        let mut due = Vec::new();
        while queue
            .heap
            .peek()
            .is_some_and(|Reverse(waiting)| is_due(waiting.due))
        {
            if let Some(Reverse(waiting)) = queue.heap.pop() {
                due.push(waiting.label);
            }
        }
        let next = queue
            .heap
            .peek()
            .map_or(u32::MAX, |Reverse(waiting)| waiting.due);
        self.next_due.store(next, AtomicOrdering::Relaxed);
        due
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Plain data: a panic elsewhere while holding the lock leaves it usable.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::time::to_millis;

    fn label(id: &str, reported: Secs) -> Label {
        Label {
            transaction_id: id.into(),
            is_fraud: true,
            reported_at: to_millis(reported),
            customer_id: None,
            terminal_id: None,
            transaction_time: None,
            source: None,
        }
    }

    #[test]
    fn early_labels_wait_for_the_watermark() {
        let pending = PendingLabels::default();
        assert!(pending.defer_if_early(label("now", 100), 100).is_some());
        assert!(pending.defer_if_early(label("later", 300), 100).is_none());
        assert!(pending.defer_if_early(label("soon", 200), 100).is_none());
        assert!(pending.take_due(150).is_empty());
        let due: Vec<String> = pending
            .take_due(250)
            .into_iter()
            .map(|l| l.transaction_id)
            .collect();
        assert_eq!(due, ["soon"]);
        assert_eq!(pending.take_all().len(), 1);
        assert!(pending.is_empty());
    }
}
