//! Recent escalations by transaction id, so MCP clients can investigate a
//! transaction the detector escalated. Bounded: the oldest are forgotten.

use super::escalation::Escalation;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Entry {
    pub escalation: Arc<Escalation>,
    pub case_id: Option<String>,
}

#[derive(Debug)]
pub struct Registry {
    capacity: usize,
    inner: Mutex<(HashMap<String, Entry>, VecDeque<String>)>,
}

impl Registry {
    pub fn new(capacity: usize) -> Registry {
        Registry {
            capacity: capacity.max(1),
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<String, Entry>, VecDeque<String>)> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn remember(&self, escalation: Arc<Escalation>) {
        let id = escalation.decision.transaction_id.to_string();
        let mut inner = self.lock();
        let (entries, order) = &mut *inner;
        if entries
            .insert(
                id.clone(),
                Entry {
                    escalation,
                    case_id: None,
                },
            )
            .is_none()
        {
            order.push_back(id);
        }
        while order.len() > self.capacity {
            if let Some(oldest) = order.pop_front() {
                entries.remove(&oldest);
            }
        }
    }

    pub fn set_case(&self, transaction_id: &str, case_id: &str) {
        if let Some(entry) = self.lock().0.get_mut(transaction_id) {
            entry.case_id = Some(case_id.to_owned());
        }
    }

    pub fn get(&self, transaction_id: &str) -> Option<Entry> {
        self.lock().0.get(transaction_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Transaction;
    use crate::engine::{Engine, FixedClock};

    fn escalation(id: &str) -> Arc<Escalation> {
        let transaction: Transaction = serde_json::from_str(&format!(
            r#"{{"transaction_id":"{id}","customer_id":"C","amount":1}}"#
        ))
        .unwrap();
        let engine = Engine::with_defaults(Arc::new(FixedClock(1_764_616_434_000)));
        let outcome = engine.decide(&transaction, 1_764_616_434_000, std::time::Instant::now());
        Arc::new(Escalation::from_outcome(transaction, &outcome))
    }

    #[test]
    fn keeps_the_newest_within_capacity() {
        let registry = Registry::new(2);
        for id in ["A", "B", "C"] {
            registry.remember(escalation(id));
        }
        assert!(registry.get("A").is_none());
        registry.set_case("C", "FRD-2025-0001");
        assert_eq!(
            registry.get("C").unwrap().case_id.as_deref(),
            Some("FRD-2025-0001")
        );
    }
}
