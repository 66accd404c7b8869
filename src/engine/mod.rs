//! The pure core: one transaction in, one decision (and maybe an alert and a
//! case) out. No I/O and no runtime: the runtime calls it from its workers,
//! benches and tests call it directly.

mod clock;
mod outcome;
mod place;

pub use clock::{Clock, FixedClock, SystemClock};
pub use outcome::{alert_for, DeferredLearning, Outcome};
pub use place::{distance_km, locate, Located};

use crate::domain::{Action, Label, Millis, Transaction};
use crate::geo::Gazetteer;
use crate::model::{FeatureVector, ModelOpinion, ModelSlot};
use crate::rules::{Novelty, Rules, RulesConfig, Signals, Travel, Verdict};
use crate::state::time::{to_millis, to_secs, Secs};
use crate::state::{
    keys, Amount, History, LabelEffect, Observation, RecentTransaction, Seen, StateError,
    StateStore, TerminalRisk,
};
use std::sync::Arc;
use std::time::Instant;

pub struct Engine {
    state: Arc<StateStore>,
    rules: Rules,
    gazetteer: &'static Gazetteer,
    clock: Arc<dyn Clock>,
    /// Compute the model's feature vector with every decision.
    features: bool,
    /// Scores every transaction alongside the rules.
    model: Option<Arc<ModelSlot>>,
    /// Which (action, risk) go to the LLM agent, when there is one.
    escalates: Option<EscalationPolicy>,
}

/// Whether a concluded (action, risk score) goes to the LLM agent.
pub type EscalationPolicy = Arc<dyn Fn(Action, i32) -> bool + Send + Sync>;

/// A transaction seen by state and judged by the rules, before the model
/// has scored it and before the customer's profile learns from it.
pub struct Assessment<'a> {
    transaction: &'a Transaction,
    signals: Signals<'a>,
    verdict: Verdict,
    facts: CustomerFacts,
    customer_key: u64,
    event_time: Millis,
    started: Instant,
    features: Option<FeatureVector>,
}

impl Assessment<'_> {
    pub fn customer_id(&self) -> &str {
        &self.transaction.customer_id
    }
}

/// What the customer's state contributed, gathered under its lock.
struct CustomerFacts {
    /// With its lateness settled.
    observation: Observation,
    history: History,
    late: bool,
    countries_24h: u32,
    merchants_24h: u32,
}

impl Engine {
    pub fn new(
        state: Arc<StateStore>,
        rules: RulesConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Engine, Vec<String>> {
        let layout = state.layout();
        let window_names: Vec<String> = (0..layout.len())
            .map(|window| layout.name(window).to_owned())
            .collect();
        Ok(Engine {
            rules: Rules::new(rules, &window_names)?,
            state,
            gazetteer: Gazetteer::embedded(),
            clock,
            features: false,
            model: None,
            escalates: None,
        })
    }

    /// Default state and rules settings: for tests, benches and embedding.
    pub fn with_defaults(clock: Arc<dyn Clock>) -> Engine {
        let state = StateStore::new(crate::state::StateConfig::default())
            .expect("the default state settings are valid (tested)");
        Engine::new(Arc::new(state), RulesConfig::default(), clock)
            .expect("the default rules are valid (tested)")
    }

    /// Attach the model's feature vector to every outcome.
    pub fn with_features(mut self, features: bool) -> Engine {
        self.features = features;
        self
    }

    /// Score with a model as well as the rules.
    pub fn with_model(mut self, model: Arc<ModelSlot>) -> Engine {
        self.model = Some(model);
        self
    }

    /// A transaction this policy escalates is learned only if the agent's
    /// final action is APPROVE: a device, IP or place the agent blocks never
    /// becomes "familiar", and one it clears does. An escalated APPROVE also
    /// gets a case for the agent's record.
    pub fn with_escalation(mut self, policy: EscalationPolicy) -> Engine {
        self.escalates = Some(policy);
        self
    }

    /// Learns what an escalated transaction held back, once the agent's final
    /// action is APPROVE.
    pub fn learn_deferred(&self, learning: &DeferredLearning) {
        self.state
            .customer_mut(learning.customer_key)
            .learn(&learning.observation);
    }

    pub fn model(&self) -> Option<&Arc<ModelSlot>> {
        self.model.as_ref()
    }

    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Why `transaction` must not be decided again: the index of recent
    /// transactions (the one labels use) holds its id for this customer (a
    /// producer's retry, a record read twice). Its decision exists, with the
    /// same deterministic id. The index is bounded and in memory only.
    pub fn already_decided(&self, transaction: &Transaction) -> Option<String> {
        let seen = self
            .state
            .recent()
            .find(keys::key(&transaction.transaction_id))?;
        (seen.customer == keys::key(&transaction.customer_id)).then(|| {
            format!(
                "transaction {} of customer {} is already decided (decision dec-{0})",
                transaction.transaction_id, transaction.customer_id
            )
        })
    }

    /// True (once) if another replica decided `transaction` (read back from
    /// the decisions stream at a takeover): fold it in with [`Engine::replay`].
    pub fn decided_elsewhere(&self, transaction: &Transaction) -> bool {
        self.state.decided_elsewhere().take(
            keys::key(&transaction.transaction_id),
            keys::key(&transaction.customer_id),
        )
    }

    /// Folds a transaction another replica decided into state, as deciding it
    /// would, and says why no decision comes of it.
    pub fn replay(
        &self,
        transaction: &Transaction,
        ingested_at: Millis,
        started: Instant,
    ) -> String {
        // An escalated transaction's deferred learning is dropped: the agent's
        // final word went to the previous owner, and an unlearned device
        // costs a review where a wrongly learned one would hide fraud.
        let _ = self.decide(transaction, ingested_at, started);
        format!(
            "transaction {} of customer {} was decided by the shard's previous owner \
             (dec-{0}, read back from the decisions stream): folded into state, not decided again",
            transaction.transaction_id, transaction.customer_id
        )
    }

    /// Decides one valid transaction and folds it into state.
    /// `ingested_at` stands in for a missing timestamp; `started` is when the
    /// record was read, for the decision's latency.
    pub fn decide(
        &self,
        transaction: &Transaction,
        ingested_at: Millis,
        started: Instant,
    ) -> Outcome {
        let assessment = self.assess(transaction, ingested_at, started);
        match &self.model {
            None => self.conclude(assessment, None),
            Some(_) => self
                .conclude_all(vec![assessment].drain(..))
                .next()
                .expect("one assessment in, one outcome out"),
        }
    }

    /// The first half of a decision: state observes the transaction and the
    /// rules judge it. Assessments of different customers may be gathered
    /// and scored by the model together (`conclude_all`); a customer's next
    /// transaction must wait until this one is concluded, because its
    /// profile learns only then.
    pub fn assess<'a>(
        &self,
        transaction: &'a Transaction,
        ingested_at: Millis,
        started: Instant,
    ) -> Assessment<'a> {
        let event_time = transaction.timestamp.unwrap_or(ingested_at);
        let at = to_secs(event_time);
        let located = locate(self.gazetteer, transaction);
        let observation = self.observation(transaction, at, &located);
        let device_customers_24h = self.observe_device(transaction, at);
        let terminal = self.observe_terminal(transaction, at);
        let customer_key = keys::key(&transaction.customer_id);
        let facts = self.observe_customer(customer_key, observation);
        self.remember(transaction, customer_key, at);

        let signals = Signals {
            transaction,
            event_time,
            position: located.position,
            seconds_since_last: (facts.history.newest_event != 0)
                .then(|| at.saturating_sub(facts.history.newest_event) as f64),
            transactions_seen: facts.history.transactions_seen,
            mean_amount: facts.history.mean_amount,
            stddev_amount: facts.history.stddev_amount,
            windows: windows_with(&facts.history, &observation),
            travel: self.travel(transaction, &facts.history, &located, at, event_time),
            unknown_places: [
                located.unknown,
                self.unknown_previous_place(transaction, &facts.history),
            ],
            device: facts
                .history
                .device
                .map(|seen| novelty(seen, facts.history.known_devices)),
            device_customers_24h,
            ip: facts
                .history
                .ip
                .map(|seen| novelty(seen, facts.history.known_ips)),
            // Parsing costs a few percent of the budget: only for a deny list.
            ip_address: transaction
                .ip_address
                .as_deref()
                .filter(|_| self.rules.checks_ip_addresses())
                .and_then(|ip| ip.trim().parse().ok()),
            countries_24h: facts.countries_24h,
            merchants_24h: facts.merchants_24h,
            compromised_since: compromised_before(facts.history.compromised_since, at),
            terminal,
            late: facts.late,
            ingestion_time: transaction.timestamp.is_none(),
        };
        let verdict = self.rules.judge(&signals);
        let features = (self.features || self.model.is_some())
            .then(|| crate::model::extract(&signals, self.rules.merchant_tier(transaction)));
        Assessment {
            transaction,
            signals,
            verdict,
            facts,
            customer_key,
            event_time,
            started,
            features,
        }
    }

    /// Scores the assessments in one model call (when there is a model),
    /// then concludes each, in order, as the caller takes it: no buffer of
    /// a whole round's outcomes (1.5 KB each; allocating and freeing one per
    /// round is what costs glibc's allocator most). The assessments are
    /// drained, so the caller's buffer serves the next round. At most one
    /// assessment per customer. Take every outcome: an assessment left in
    /// the iterator is never concluded, so its customer's profile never
    /// learns it.
    #[must_use = "each outcome is a decision: none may be dropped"]
    pub fn conclude_all<'e, 'a: 'e>(
        &'e self,
        assessments: std::vec::Drain<'e, Assessment<'a>>,
    ) -> impl Iterator<Item = Outcome> + 'e {
        let opinions = match &self.model {
            None => Vec::new(),
            Some(slot) => {
                let rows: Vec<FeatureVector> = assessments
                    .as_slice()
                    .iter()
                    .map(|assessment| {
                        assessment
                            .features
                            .unwrap_or([0.0; crate::model::FEATURE_COUNT])
                    })
                    .collect();
                slot.opinions(&rows)
            }
        };
        let opinions = opinions.into_iter().chain(std::iter::repeat_with(|| None));
        assessments
            .into_iter()
            .zip(opinions)
            .map(|(assessment, opinion)| self.conclude(assessment, opinion))
    }

    /// The second half: the model's opinion joins the rules' verdict, the
    /// profile learns from an approved transaction, the records are made.
    pub fn conclude(&self, assessment: Assessment, opinion: Option<ModelOpinion>) -> Outcome {
        let Assessment {
            transaction,
            signals,
            mut verdict,
            facts,
            customer_key,
            event_time,
            started,
            features,
        } = assessment;
        if let Some(opinion) = &opinion {
            // The model can raise the risk, never lower it: the rules' hard
            // blocks and points stand.
            verdict.risk_score = verdict.risk_score.max(opinion.risk);
            verdict.action = verdict
                .action
                .max(self.rules.action_for(verdict.risk_score));
        }
        let opinion = opinion.map(|opinion| self.explained(opinion, &verdict, features.as_ref()));
        let escalated = self
            .escalates
            .as_ref()
            .is_some_and(|escalates| escalates(verdict.action, verdict.risk_score));
        let approved = verdict.action == Action::Approve;
        if approved && !escalated {
            self.state
                .customer_mut(customer_key)
                .learn(&facts.observation);
        }
        let mut outcome = outcome::assemble(
            self,
            outcome::Inputs {
                transaction,
                signals: &signals,
                verdict,
                history: &facts.history,
                event_time,
                started,
                features: features.filter(|_| self.features),
                model: opinion,
                escalated,
            },
        );
        // Whatever the engine decided, the agent's final word decides whether
        // the customer's profile learns this transaction: a REVIEW the agent
        // lowers to APPROVE is an approved transaction too.
        outcome.deferred_learning = escalated.then_some(DeferredLearning {
            customer_key,
            observation: facts.observation,
        });
        outcome
    }

    /// Adds the feature contributions to a REVIEW or BLOCK.
    fn explained(
        &self,
        mut opinion: ModelOpinion,
        verdict: &Verdict,
        features: Option<&FeatureVector>,
    ) -> ModelOpinion {
        if verdict.action == Action::Approve {
            return opinion;
        }
        if let (Some(slot), Some(row)) = (&self.model, features) {
            opinion.contributions = slot.explain(&opinion, row);
        }
        opinion
    }

    fn observation(&self, transaction: &Transaction, at: Secs, located: &Located) -> Observation {
        let small_below = self.state.config().small_amount;
        Observation {
            at,
            amount: transaction.amount,
            counted: Amount::new(transaction.amount, small_below),
            position: located.position,
            device: transaction.device_id.as_deref().map(keys::fingerprint),
            ip: transaction.ip_address.as_deref().map(keys::fingerprint),
            merchant: merchant_identity(transaction).map(keys::fingerprint),
            country: located.country.map(|code| u16::from_be_bytes(code) as u32),
            late: false,
        }
    }

    /// Customers on this device in 24 h, this one included.
    fn observe_device(&self, transaction: &Transaction, at: Secs) -> u32 {
        let Some(device) = transaction.device_id.as_deref() else {
            return 0;
        };
        let mut state = self.state.device_mut(keys::key(device));
        state.observe(keys::fingerprint(&transaction.customer_id), at);
        state.customers_24h(at)
    }

    /// The terminal's delayed risk, read before this transaction is counted.
    fn observe_terminal(&self, transaction: &Transaction, at: Secs) -> Option<[TerminalRisk; 3]> {
        let terminal = transaction.terminal_id.as_deref()?;
        let delay_days = (self.state.config().terminal_feedback_delay.as_secs() / 86_400) as u32;
        let mut state = self.state.terminal_mut(keys::key(terminal));
        let risks = state.risks(at, delay_days);
        state.add_transaction(at);
        Some(risks)
    }

    fn observe_customer(&self, customer_key: u64, mut observation: Observation) -> CustomerFacts {
        let layout = self.state.layout();
        let lateness = self
            .state
            .config()
            .allowed_lateness
            .as_secs()
            .min(u32::MAX as u64) as u32;
        let mut customer = self.state.customer_mut(customer_key);
        let late = customer.amounts.count > 0
            && observation.at.saturating_add(lateness) < customer.newest_event;
        observation.late = late;
        let history = customer.history(layout, &observation);
        customer.count_attempt(layout, &observation);
        let at = observation.at;
        CustomerFacts {
            observation,
            late,
            countries_24h: customer.distinct_countries_24h(at),
            merchants_24h: customer.distinct_merchants_24h(at),
            history,
        }
    }

    fn remember(&self, transaction: &Transaction, customer: u64, at: Secs) {
        self.state.recent().remember(RecentTransaction {
            transaction: keys::key(&transaction.transaction_id),
            customer,
            terminal: transaction.terminal_id.as_deref().map_or(0, keys::key),
            at: at.max(1),
        });
        self.state.advance_watermark(at);
    }

    /// From the customer's previous place in state, or else from the
    /// transaction's own `previous_location` and `time_since_last_transaction`.
    fn travel(
        &self,
        transaction: &Transaction,
        history: &History,
        located: &Located,
        at: Secs,
        event_time: Millis,
    ) -> Option<Travel> {
        let here = located.position?;
        if let Some(previous) = history.previous_place {
            let there = (previous.latitude as f64, previous.longitude as f64);
            let elapsed = at.saturating_sub(previous.at) as f64;
            return Some(Travel::new(distance_km(there, here), elapsed, false));
        }
        let there = self
            .gazetteer
            .resolve(transaction.previous_location.as_deref()?)?;
        let elapsed_millis =
            crate::domain::parse_time_since(transaction.time_since_last_transaction.as_deref()?)?;
        let previous_time = to_secs(event_time - elapsed_millis);
        let elapsed = at.saturating_sub(previous_time) as f64;
        Some(Travel::new(
            distance_km((there.latitude, there.longitude), here),
            elapsed,
            true,
        ))
    }

    /// The hint only matters when state has no previous place.
    fn unknown_previous_place<'a>(
        &self,
        transaction: &'a Transaction,
        history: &History,
    ) -> Option<&'a str> {
        if history.previous_place.is_some() {
            return None;
        }
        let name = transaction.previous_location.as_deref()?;
        self.gazetteer.resolve(name).is_none().then_some(name)
    }

    /// Applies a label now if its report time has been reached in event
    /// time; otherwise it waits and comes back from `release_due_labels`.
    pub fn accept_label(&self, label: Label) -> Option<(Label, Result<LabelEffect, StateError>)> {
        let label = self
            .state
            .pending_labels()
            .defer_if_early(label, self.state.watermark())?;
        let result = self.state.apply_label(&label);
        Some((label, result))
    }

    /// Applies the waiting labels whose report time the watermark has reached.
    pub fn release_due_labels(&self) -> Vec<(Label, Result<LabelEffect, StateError>)> {
        let due = self.state.pending_labels().take_due(self.state.watermark());
        self.apply_all(due)
    }

    /// Applies every waiting label: the input has ended, no later
    /// transaction is left to protect from them.
    pub fn release_all_labels(&self) -> Vec<(Label, Result<LabelEffect, StateError>)> {
        let waiting = self.state.pending_labels().take_all();
        self.apply_all(waiting)
    }

    fn apply_all(&self, labels: Vec<Label>) -> Vec<(Label, Result<LabelEffect, StateError>)> {
        labels
            .into_iter()
            .map(|label| {
                let result = self.state.apply_label(&label);
                (label, result)
            })
            .collect()
    }

    fn now(&self) -> Millis {
        self.clock.now_millis()
    }
}

fn merchant_identity(transaction: &Transaction) -> Option<&str> {
    transaction
        .merchant_id
        .as_deref()
        .or(transaction.merchant.as_deref())
}

fn novelty(seen: Seen, known: u32) -> Novelty {
    Novelty {
        new: seen == Seen::New,
        known,
    }
}

fn compromised_before(since: Secs, at: Secs) -> Option<Millis> {
    (since != 0 && since <= at).then(|| to_millis(since))
}

/// The windows as they stand with this transaction counted.
fn windows_with(
    history: &History,
    observation: &Observation,
) -> [crate::state::WindowValue; crate::state::MAX_WINDOWS] {
    let mut windows = history.windows;
    let amount = observation.counted.cents as f64 / 100.0;
    for window in &mut windows {
        window.count += 1;
        window.small += observation.counted.small as u32;
        window.sum += amount;
        window.max = window.max.max(amount);
    }
    windows
}
