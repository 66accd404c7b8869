//! The live view's feed: a bounded ring of recent decisions and a broadcast
//! to every open event stream.
//!
//! The workers call it for every outcome, so it must stay cheap at hundreds
//! of thousands of decisions a second: past a per-second budget, approvals
//! are only counted (stats), while REVIEW and BLOCK still reach the feed.

use super::view::LiveDecision;
use crate::domain::{Action, ReasonCode};
use serde::Deserialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

pub const DEFAULT_RING: usize = 1_000;
/// Approvals shown per second; more would scroll faster than anyone reads.
const APPROVALS_PER_SECOND: u64 = 50;
/// Flagged decisions shown per second, to keep the feed bounded under attack.
const FLAGGED_PER_SECOND: u64 = 500;

pub struct Feed {
    ring: Mutex<VecDeque<Arc<LiveDecision>>>,
    capacity: usize,
    sender: broadcast::Sender<Arc<LiveDecision>>,
    budget: Budget,
}

impl Feed {
    pub fn new(capacity: usize) -> Feed {
        let (sender, _) = broadcast::channel(capacity.max(16));
        Feed {
            ring: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
            sender,
            budget: Budget::default(),
        }
    }

    /// Builds the view only when the budget admits it.
    pub fn offer(&self, action: Action, make: impl FnOnce() -> LiveDecision) {
        if self.budget.admit(action) {
            self.push(Arc::new(make()));
        }
    }

    /// Always shown: a decision an analyst asked for.
    pub fn push(&self, decision: Arc<LiveDecision>) {
        if let Ok(mut ring) = self.ring.lock() {
            if ring.len() == self.capacity {
                ring.pop_front();
            }
            ring.push_back(decision.clone());
        }
        // No subscriber is not an error: nobody has the page open.
        let _ = self.sender.send(decision);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveDecision>> {
        self.sender.subscribe()
    }

    /// Newest last, at most `filter.limit`.
    pub fn recent(&self, filter: &Filter) -> Vec<Arc<LiveDecision>> {
        let Ok(ring) = self.ring.lock() else {
            return Vec::new();
        };
        let mut matching: Vec<Arc<LiveDecision>> = ring
            .iter()
            .rev()
            .filter(|decision| filter.matches(decision))
            .take(filter.limit())
            .cloned()
            .collect();
        matching.reverse();
        matching
    }
}

/// Counts admissions per wall-clock second without a lock.
#[derive(Default)]
struct Budget {
    second: AtomicU64,
    approvals: AtomicU64,
    flagged: AtomicU64,
}

impl Budget {
    fn admit(&self, action: Action) -> bool {
        let now = crate::domain::now_millis().max(0) as u64 / 1_000;
        if self.second.swap(now, Ordering::Relaxed) != now {
            self.approvals.store(0, Ordering::Relaxed);
            self.flagged.store(0, Ordering::Relaxed);
        }
        let (counter, limit) = match action {
            Action::Approve => (&self.approvals, APPROVALS_PER_SECOND),
            Action::Review | Action::Block => (&self.flagged, FLAGGED_PER_SECOND),
        };
        counter.fetch_add(1, Ordering::Relaxed) < limit
    }
}

/// The live view's filters, from the query string.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Filter {
    pub action: Option<Action>,
    pub customer: Option<String>,
    pub reason: Option<ReasonCode>,
    pub limit: Option<usize>,
}

impl Filter {
    pub fn matches(&self, decision: &LiveDecision) -> bool {
        self.action.is_none_or(|action| decision.action == action)
            && self
                .customer
                .as_deref()
                .filter(|customer| !customer.is_empty())
                .is_none_or(|customer| decision.customer_id == customer)
            && self
                .reason
                .is_none_or(|reason| decision.reasons.contains(&reason))
    }

    fn limit(&self) -> usize {
        self.limit.unwrap_or(200).min(DEFAULT_RING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(
        id: &str,
        customer: &str,
        action: Action,
        reasons: Vec<ReasonCode>,
    ) -> LiveDecision {
        LiveDecision {
            transaction_id: id.into(),
            customer_id: customer.into(),
            action,
            risk_score: 0,
            reasons,
            amount: 1.0,
            currency: None,
            merchant: None,
            location: None,
            position: None,
            event_time: 0,
            decided_at: 0,
            latency_us: 0,
            model_score: None,
            origin: super::super::view::Origin::Stream,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_and_filters() {
        let feed = Feed::new(3);
        for index in 0..5 {
            let action = if index % 2 == 0 {
                Action::Block
            } else {
                Action::Approve
            };
            feed.push(Arc::new(decision(
                &format!("t{index}"),
                "c1",
                action,
                vec![ReasonCode::NewDevice],
            )));
        }
        let all = feed.recent(&Filter::default());
        let ids: Vec<&str> = all.iter().map(|d| d.transaction_id.as_str()).collect();
        assert_eq!(ids, ["t2", "t3", "t4"]);
        let blocks = feed.recent(&Filter {
            action: Some(Action::Block),
            ..Filter::default()
        });
        assert_eq!(blocks.len(), 2);
        let travel = feed.recent(&Filter {
            reason: Some(ReasonCode::ImpossibleTravel),
            ..Filter::default()
        });
        assert!(travel.is_empty());
        let other = feed.recent(&Filter {
            customer: Some("c2".into()),
            ..Filter::default()
        });
        assert!(other.is_empty());
    }

    #[test]
    fn approvals_past_the_budget_are_not_shown() {
        let budget = Budget::default();
        let admitted = (0..1_000).filter(|_| budget.admit(Action::Approve)).count() as u64;
        // The second may turn during the loop: at most two seconds' worth.
        assert!((APPROVALS_PER_SECOND..=2 * APPROVALS_PER_SECOND).contains(&admitted));
        assert!(budget.admit(Action::Block));
    }
}
