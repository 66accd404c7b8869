//! What travels from sources to workers.

use super::barrier::Barrier;
use crate::domain::{Label, Millis, Transaction};
use crate::telemetry::TransactionTrace;
use std::sync::Arc;
use std::time::Instant;

/// Transactions are nearly all the traffic: boxing them to shrink the rare
/// label variant would cost an allocation per transaction.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Work {
    Transaction {
        transaction: Transaction,
        /// Stands in for a missing timestamp.
        ingested_at: Millis,
        /// When the record was read, for the decision's latency.
        started: Instant,
        /// Present when this transaction is sampled for tracing.
        trace: Option<TransactionTrace>,
    },
    Label(Label),
    /// Everything routed before it is to be written before the barrier opens.
    Barrier(Arc<Barrier>),
}
