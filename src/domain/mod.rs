//! The domain types: every record that enters or leaves fraud-detector.
//!
//! Each type mirrors one Avro schema in `schemas/` field for field; the codec
//! tests round-trip every type through its schema so the two cannot drift.

mod dead_letter;
mod decision;
mod label;
mod serde_time;
mod time_hint;
mod transaction;

pub use dead_letter::{DeadLetter, RejectKind};
pub use decision::{
    Action, AgentReview, AgentStatus, Alert, CaseLog, Contribution, CustomerSummary, Decision,
    Reason, ReasonCode, Severity, TimeSource, WindowSummary,
};
pub use label::Label;
pub use serde_time::{format_millis, now_millis, parse_rfc3339_millis, with_rfc3339};
pub use time_hint::parse_time_since;
pub use transaction::{Channel, Text, Transaction, ValidationError, MAX_AMOUNT};

/// Milliseconds since the Unix epoch, UTC: the one time unit of the domain.
pub type Millis = i64;
