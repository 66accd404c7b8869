//! Keyed state: per customer, per device and per terminal, in concurrent maps.
//!
//! Workers own disjoint sets of customers (the runtime hashes each customer
//! onto one worker), so a customer's entry is only ever written by one thread;
//! the maps are shared so tools and consoles can read state while it runs.

mod customer;
mod device;
mod elsewhere;
pub mod keys;
mod pending;
mod recent;
mod sets;
mod snapshot;
mod terminal;
pub mod time;
pub mod window;

pub use customer::{AmountStats, CustomerState, History, Observation, Whereabouts};
pub use device::{DeviceState, DEVICE_CUSTOMERS_TRACKED};
pub use elsewhere::DecidedElsewhere;
pub use pending::PendingLabels;
pub use recent::{RecentTransaction, RecentTransactions};
pub use sets::{Seen, Sighting};
pub use snapshot::{SnapshotError, SnapshotStats, SNAPSHOT_VERSION};
pub use terminal::{TerminalRisk, TerminalState, TERMINAL_DAYS};
pub use window::{Amount, WindowLayout, WindowSpec, WindowValue, MAX_WINDOWS};

use crate::domain::Label;
use crate::duration::Span;
use dashmap::mapref::one::{Ref, RefMut};
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use thiserror::Error;
use time::Secs;

/// State settings from the topology's `state:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// Event-time windows kept per customer (count, sum, max of amounts).
    pub windows: Vec<WindowSpec>,
    /// Events at most this much older than their customer's newest are
    /// applied in event-time order; older ones are still decided, flagged late.
    pub allowed_lateness: Span,
    /// Customers idle this long in event time are forgotten.
    pub customer_ttl: Span,
    /// Amounts under this count as small (card-testing bursts).
    pub small_amount: f64,
    /// Terminal risk ignores the most recent days, whose labels have not arrived yet.
    pub terminal_feedback_delay: Span,
    /// Size of the table that maps recent transaction ids to customer and terminal for labels.
    pub recent_transactions: usize,
    /// Periodic snapshots of all state, restored on start.
    pub snapshot: Option<SnapshotConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// File to write; the previous snapshots are kept beside it as `.1`, `.2`, ...
    pub path: PathBuf,
    /// How often to snapshot while running (also on shutdown).
    #[serde(default = "default_snapshot_interval")]
    pub interval: Span,
    /// How many older snapshots to keep for a restore that needs them.
    #[serde(default = "default_snapshot_keep")]
    pub keep: usize,
}

fn default_snapshot_interval() -> Span {
    Span::minutes(5)
}

fn default_snapshot_keep() -> usize {
    2
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            windows: window::default_windows(),
            allowed_lateness: Span::minutes(5),
            customer_ttl: Span::days(35),
            small_amount: 5.0,
            terminal_feedback_delay: Span::days(7),
            recent_transactions: 1 << 18,
            snapshot: None,
        }
    }
}

impl StateConfig {
    /// Every problem with the settings, for the topology to report at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(problem) = WindowLayout::new(&self.windows) {
            problems.push(format!("windows: {problem}"));
        }
        let max_delay_days = TERMINAL_DAYS as u64 - 31;
        if self.terminal_feedback_delay.as_secs() / 86_400 > max_delay_days {
            problems.push(format!(
                "terminal_feedback_delay: at most {max_delay_days}d"
            ));
        }
        if !(self.small_amount.is_finite() && self.small_amount >= 0.0) {
            problems.push("small_amount: must be a non-negative number".into());
        }
        if self.recent_transactions == 0 {
            problems.push("recent_transactions: must be at least 1".into());
        }
        problems
    }
}

/// Keys are already xxh3 hashes: hashing them again would only cost time.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ byte as u64;
        }
    }
    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

pub type KeyMap<V> = DashMap<u64, V, BuildHasherDefault<KeyHasher>>;

#[derive(Debug, Error, PartialEq)]
pub enum StateError {
    #[error("invalid state settings: {0}")]
    Config(String),
    #[error("label for transaction `{0}`: the transaction is not in the recent index and the label names no customer_id")]
    UnmatchedLabel(String),
}

/// What a label changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelEffect {
    pub customer_marked: bool,
    pub terminal_counted: bool,
}

pub struct StateStore {
    config: StateConfig,
    layout: WindowLayout,
    customers: KeyMap<Box<CustomerState>>,
    devices: KeyMap<DeviceState>,
    terminals: KeyMap<TerminalState>,
    recent: RecentTransactions,
    pending_labels: PendingLabels,
    decided_elsewhere: DecidedElsewhere,
    /// The newest event time seen by any customer: the clock for expiry.
    watermark: AtomicU32,
}

impl StateStore {
    pub fn new(config: StateConfig) -> Result<StateStore, StateError> {
        let layout = WindowLayout::new(&config.windows).map_err(StateError::Config)?;
        Ok(StateStore {
            recent: RecentTransactions::with_capacity(config.recent_transactions),
            pending_labels: PendingLabels::default(),
            decided_elsewhere: DecidedElsewhere::default(),
            layout,
            config,
            customers: KeyMap::default(),
            devices: KeyMap::default(),
            terminals: KeyMap::default(),
            watermark: AtomicU32::new(0),
        })
    }

    pub fn config(&self) -> &StateConfig {
        &self.config
    }

    pub fn layout(&self) -> &WindowLayout {
        &self.layout
    }

    pub fn customer(&self, key: u64) -> Option<Ref<'_, u64, Box<CustomerState>>> {
        self.customers.get(&key)
    }

    /// The customer's entry, created empty on first sight. Hold it only
    /// while deciding one transaction: it locks the map's shard.
    pub fn customer_mut(&self, key: u64) -> RefMut<'_, u64, Box<CustomerState>> {
        self.customers.entry(key).or_default()
    }

    pub fn device(&self, key: u64) -> Option<Ref<'_, u64, DeviceState>> {
        self.devices.get(&key)
    }

    pub fn device_mut(&self, key: u64) -> RefMut<'_, u64, DeviceState> {
        self.devices.entry(key).or_default()
    }

    pub fn terminal(&self, key: u64) -> Option<Ref<'_, u64, TerminalState>> {
        self.terminals.get(&key)
    }

    pub fn terminal_mut(&self, key: u64) -> RefMut<'_, u64, TerminalState> {
        self.terminals.entry(key).or_default()
    }

    pub fn recent(&self) -> &RecentTransactions {
        &self.recent
    }

    /// Transactions another replica decided, to fold in when read again.
    pub fn decided_elsewhere(&self) -> &DecidedElsewhere {
        &self.decided_elsewhere
    }

    pub fn pending_labels(&self) -> &PendingLabels {
        &self.pending_labels
    }

    pub fn advance_watermark(&self, at: Secs) {
        self.watermark.fetch_max(at, Ordering::Relaxed);
    }

    pub fn watermark(&self) -> Secs {
        self.watermark.load(Ordering::Relaxed)
    }

    pub fn active_customers(&self) -> usize {
        self.customers.len()
    }

    pub fn active_devices(&self) -> usize {
        self.devices.len()
    }

    pub fn active_terminals(&self) -> usize {
        self.terminals.len()
    }

    /// Applies fraud feedback: the card is compromised from the report on,
    /// and the terminal's fraud count for the transaction's day grows.
    pub fn apply_label(&self, label: &Label) -> Result<LabelEffect, StateError> {
        let mut effect = LabelEffect {
            customer_marked: false,
            terminal_counted: false,
        };
        if !label.is_fraud {
            return Ok(effect);
        }
        let (customer, terminal, at) = self.locate(label)?;
        // Known from the report on: decisions between the fraud and its
        // report could not have known it.
        self.customer_mut(customer)
            .mark_compromised(time::to_secs(label.reported_at).max(at));
        effect.customer_marked = true;
        if let Some(terminal) = terminal {
            effect.terminal_counted = self.terminal_mut(terminal).add_fraud(at);
        }
        Ok(effect)
    }

    /// The label's own fields win; the recent index fills the gaps.
    fn locate(&self, label: &Label) -> Result<(u64, Option<u64>, Secs), StateError> {
        let recent = self.recent.find(keys::key(&label.transaction_id));
        let customer = label
            .customer_id
            .as_deref()
            .map(keys::key)
            .or(recent.map(|entry| entry.customer))
            .ok_or_else(|| StateError::UnmatchedLabel(label.transaction_id.clone()))?;
        let terminal = label.terminal_id.as_deref().map(keys::key).or(recent
            .map(|entry| entry.terminal)
            .filter(|&terminal| terminal != 0));
        let at = label
            .transaction_time
            .map(time::to_secs)
            .or(recent.map(|entry| entry.at))
            .unwrap_or_else(|| time::to_secs(label.reported_at));
        Ok((customer, terminal, at))
    }

    /// Forgets customers and devices idle past the TTL and terminals whose
    /// history has run out, measured against the event-time watermark.
    pub fn expire_idle(&self) -> usize {
        let watermark = self.watermark();
        let ttl = self.config.customer_ttl.as_secs().min(u32::MAX as u64) as u32;
        let cutoff = watermark.saturating_sub(ttl);
        let before = self.customers.len();
        self.customers
            .retain(|_, customer| customer.newest_event >= cutoff);
        self.devices
            .retain(|_, device| device.last_seen() >= cutoff);
        let oldest_day = (watermark / 86_400).saturating_sub(TERMINAL_DAYS);
        self.terminals
            .retain(|_, terminal| terminal.newest_day() >= oldest_day);
        before - self.customers.len()
    }

    /// A rough count of the bytes held, for metrics.
    pub fn approx_bytes(&self) -> usize {
        const TABLE_SLOT: usize = 16;
        const ALLOCATOR_HEADER: usize = 16;
        let customer = std::mem::size_of::<CustomerState>() + ALLOCATOR_HEADER + TABLE_SLOT;
        let device = std::mem::size_of::<DeviceState>() + TABLE_SLOT;
        let terminal =
            std::mem::size_of::<TerminalState>() + 4 * TERMINAL_DAYS as usize + TABLE_SLOT;
        self.customers.len() * customer
            + self.devices.len() * device
            + self.terminals.len() * terminal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(id: &str, customer: Option<&str>) -> Label {
        Label {
            transaction_id: id.into(),
            is_fraud: true,
            reported_at: 1_700_000_000_000,
            customer_id: customer.map(str::to_owned),
            terminal_id: None,
            transaction_time: None,
            source: None,
        }
    }

    #[test]
    fn labels_find_their_transaction_or_say_why_not() {
        let store = StateStore::new(StateConfig::default()).unwrap();
        store.recent().remember(RecentTransaction {
            transaction: keys::key("T1"),
            customer: keys::key("C1"),
            terminal: keys::key("TERM"),
            at: 5 * 86_400,
        });
        let effect = store.apply_label(&label("T1", None)).unwrap();
        assert!(effect.customer_marked && effect.terminal_counted);
        // Compromised from the report on, not from the fraud itself.
        let reported = time::to_secs(1_700_000_000_000);
        assert_eq!(
            store.customer(keys::key("C1")).unwrap().compromised_since,
            reported
        );
        assert_eq!(
            store.apply_label(&label("T2", None)),
            Err(StateError::UnmatchedLabel("T2".into()))
        );
        assert!(store.apply_label(&label("T3", Some("C3"))).is_ok());
    }

    #[test]
    fn idle_customers_expire_in_event_time() {
        let store = StateStore::new(StateConfig::default()).unwrap();
        store.customer_mut(1).newest_event = 100;
        store.customer_mut(2).newest_event = 40 * 86_400;
        store.advance_watermark(40 * 86_400);
        assert_eq!(store.expire_idle(), 1);
        assert!(store.customer(1).is_none() && store.customer(2).is_some());
    }

    #[test]
    fn settings_problems_are_all_reported() {
        let config = StateConfig {
            small_amount: f64::NAN,
            recent_transactions: 0,
            terminal_feedback_delay: Span::days(20),
            ..StateConfig::default()
        };
        assert_eq!(config.problems().len(), 3);
    }
}
