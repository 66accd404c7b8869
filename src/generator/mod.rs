//! A deterministic generator of realistic card transactions with injected,
//! labelled fraud scenarios, for the `demo` and `generate` commands and the
//! pipeline's generator source.
//!
//! Events come out in event-time order: customers' purchases (a Poisson
//! process per customer, quieter at night), the fraudulent transactions of
//! scenarios, and a chargeback [`Label`] for every fraudulent transaction,
//! days later. The ground truth travels beside each transaction in
//! [`Generated::Transaction`], never inside it.
//!
//! With the defaults, the 200 000 transactions span about five weeks of
//! event time: a compromised terminal's frauds then have time to be labelled
//! and to show in the terminal's delayed fraud rate.

mod catalog;
mod config;
mod legit;
mod population;
mod random;
mod scenarios;
#[cfg(test)]
mod tests;

pub use config::{GeneratorConfig, Scenario, ScenarioWeights};

use crate::domain::{Label, Millis, Text, Transaction};
use legit::Whereabouts;
use population::{Customer, Purchase, World};
use rand::SeedableRng;
use random::{chance, Random};
use scenarios::{Plan, Trigger};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One event of the stream.
// Nearly every event is a transaction: boxing it to shrink the rare label
// variant would add an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Generated {
    /// `truth` is Some(scenario) iff the transaction is fraudulent.
    Transaction {
        transaction: Transaction,
        truth: Option<Scenario>,
    },
    Label(Label),
}

impl Generated {
    /// The transaction's timestamp, or the label's `reported_at`.
    pub fn event_time(&self) -> Millis {
        match self {
            Generated::Transaction { transaction, .. } => transaction.timestamp.unwrap_or_default(),
            Generated::Label(label) => label.reported_at,
        }
    }
}

/// Counts of what has been generated so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeneratorStats {
    pub transactions: u64,
    pub labels: u64,
    /// Scenarios started, indexed by [`Scenario::index`].
    pub scenarios_started: [u64; 5],
    /// Fraudulent transactions emitted, indexed by [`Scenario::index`].
    pub fraudulent: [u64; 5],
}

impl GeneratorStats {
    pub fn started(&self, scenario: Scenario) -> u64 {
        self.scenarios_started[scenario.index()]
    }

    pub fn frauds(&self, scenario: Scenario) -> u64 {
        self.fraudulent[scenario.index()]
    }

    pub fn total_frauds(&self) -> u64 {
        self.fraudulent.iter().sum()
    }
}

/// The stream: an endless or bounded iterator of [`Generated`] events.
pub struct Generator {
    config: GeneratorConfig,
    rng: Random,
    world: World,
    customers: Vec<Customer>,
    /// Per terminal: skimmed until when, and which share of its transactions.
    compromised: Vec<Option<Compromise>>,
    queue: BinaryHeap<Scheduled>,
    /// Breaks ties in the queue first-scheduled-first, for determinism.
    sequence: u64,
    /// "TX-<seed>-", to which each transaction's number is appended.
    id_prefix: String,
    scenario_weights: [f64; 5],
    label_delay: (Millis, Millis),
    /// The transaction limit is reached: only labels still due come out.
    draining: bool,
    stats: GeneratorStats,
}

#[derive(Debug, Clone, Copy)]
struct Compromise {
    until: Millis,
    share: f64,
}

struct Scheduled {
    at: Millis,
    sequence: u64,
    event: Event,
}

enum Event {
    /// The customer with this index buys something.
    Purchase(u32),
    /// A scenario's fraudulent transaction, built when the scenario started.
    Fraud(Box<(Transaction, Scenario)>),
    Label(Box<Label>),
}

/// Earliest first in a max-heap: reversed on (time, sequence).
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.sequence).cmp(&(self.at, self.sequence))
    }
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.sequence) == (other.at, other.sequence)
    }
}

impl Eq for Scheduled {}

impl Generator {
    /// Builds the population (tens of milliseconds for the default size) and
    /// schedules every customer's first purchase. Err lists every problem.
    pub fn new(config: GeneratorConfig) -> Result<Generator, String> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let start = config.start_millis()?;
        let mut rng = Random::seed_from_u64(config.seed);
        let (world, customers) = World::build(&mut rng, config.customers)?;
        let mut generator = Generator {
            compromised: vec![None; world.terminals.len()],
            id_prefix: format!("TX-{}-", config.seed),
            scenario_weights: config.scenarios.cumulative(),
            label_delay: (
                span_millis(config.label_delay_min),
                span_millis(config.label_delay_max),
            ),
            rng,
            world,
            queue: BinaryHeap::with_capacity(customers.len() * 2),
            customers,
            sequence: 0,
            draining: false,
            stats: GeneratorStats::default(),
            config,
        };
        for index in 0..generator.customers.len() {
            let customer = &generator.customers[index];
            let at =
                legit::next_purchase_time(&mut generator.rng, &generator.world, customer, start);
            generator.schedule(at, Event::Purchase(index as u32));
        }
        Ok(generator)
    }

    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    pub fn stats(&self) -> &GeneratorStats {
        &self.stats
    }

    fn schedule(&mut self, at: Millis, event: Event) {
        self.sequence += 1;
        self.queue.push(Scheduled {
            at,
            sequence: self.sequence,
            event,
        });
    }

    /// A customer's purchase, or None when the customer is travelling and
    /// the purchase is put off until after landing. The customer's entry is
    /// still the queue's top: it is moved to the next purchase in place.
    fn purchase(&mut self, index: u32, now: Millis) -> Option<Generated> {
        let customer = &mut self.customers[index as usize];
        let city = match customer.whereabouts(now) {
            Whereabouts::At(city) => city,
            Whereabouts::InTransit(lands) => {
                let at = legit::after_landing(&mut self.rng, lands);
                self.reschedule_top(at);
                return None;
            }
        };
        let customer = &self.customers[index as usize];
        let purchase = legit::purchase(&mut self.rng, &self.world, customer, index, city, now);
        let customer = &mut self.customers[index as usize];
        legit::maybe_change_habits(&mut self.rng, &self.world, customer, now);
        let next = legit::next_purchase_time(&mut self.rng, &self.world, customer, now);
        self.reschedule_top(next);
        let terminal = purchase.terminal;
        let truth = terminal
            .filter(|&terminal| self.is_skimmed(terminal, now))
            .map(|_| Scenario::CompromisedTerminal);
        let transaction = self.build(purchase);
        if chance(&mut self.rng, self.config.fraud_rate) {
            self.start_scenario(index, now, city, terminal);
        }
        Some(self.emit(transaction, truth))
    }

    /// Moves the queue's top entry to `at`: one sift instead of a pop and a
    /// push, on the path every purchase takes. Invariant: called before
    /// anything else is scheduled for this purchase, so the top is still the
    /// customer's entry that `next` peeked.
    fn reschedule_top(&mut self, at: Millis) {
        self.sequence += 1;
        if let Some(mut top) = self.queue.peek_mut() {
            top.at = at;
            top.sequence = self.sequence;
        }
    }

    fn is_skimmed(&mut self, terminal: u32, now: Millis) -> bool {
        match self.compromised[terminal as usize] {
            Some(compromise) if now < compromise.until => chance(&mut self.rng, compromise.share),
            Some(_) => {
                self.compromised[terminal as usize] = None;
                false
            }
            None => false,
        }
    }

    fn build(&mut self, purchase: Purchase) -> Transaction {
        let coordinates =
            self.world
                .coordinates(&mut self.rng, purchase.city, self.config.with_coordinates);
        let customer = &self.customers[purchase.customer as usize];
        self.world.transaction(purchase, customer, coordinates)
    }

    fn start_scenario(&mut self, index: u32, now: Millis, city: u16, terminal: Option<u32>) {
        let pick = random::pick_cumulative(&mut self.rng, &self.scenario_weights);
        let scenario = Scenario::ALL[pick];
        let trigger = Trigger {
            world: &self.world,
            customer: &self.customers[index as usize],
            index,
            at: now,
            city,
            terminal,
        };
        let Some(plan) = scenarios::plan(&mut self.rng, scenario, &trigger) else {
            return;
        };
        self.stats.scenarios_started[scenario.index()] += 1;
        match plan {
            Plan::Frauds(purchases) => {
                for purchase in purchases {
                    let at = purchase.at;
                    let transaction = self.build(purchase);
                    self.schedule(at, Event::Fraud(Box::new((transaction, scenario))));
                }
            }
            Plan::Compromise {
                terminal,
                until,
                share,
            } => {
                let slot = &mut self.compromised[terminal as usize];
                let until = slot.map_or(until, |current| current.until.max(until));
                *slot = Some(Compromise { until, share });
            }
        }
    }

    /// Numbers the transaction, schedules its label if fraudulent, and stops
    /// the stream's transactions at the configured count.
    fn emit(&mut self, mut transaction: Transaction, truth: Option<Scenario>) -> Generated {
        transaction.transaction_id = self.next_transaction_id();
        self.stats.transactions += 1;
        if let Some(scenario) = truth {
            self.stats.fraudulent[scenario.index()] += 1;
            self.schedule_label(&transaction);
        }
        if self.config.transactions == Some(self.stats.transactions) {
            self.draining = true;
            self.queue
                .retain(|scheduled| matches!(scheduled.event, Event::Label(_)));
        }
        Generated::Transaction { transaction, truth }
    }

    fn next_transaction_id(&self) -> Text {
        let mut id = Text::with_capacity(self.id_prefix.len() + 10);
        id.push_str(&self.id_prefix);
        id.push_str(itoa::Buffer::new().format(self.stats.transactions + 1));
        id
    }

    fn schedule_label(&mut self, transaction: &Transaction) {
        // Invariant: every generated transaction has a timestamp.
        let at = transaction.timestamp.unwrap_or_default();
        let delay = random::millis_between(&mut self.rng, self.label_delay.0, self.label_delay.1);
        let label = Label {
            transaction_id: transaction.transaction_id.to_string(),
            is_fraud: true,
            reported_at: at + delay,
            customer_id: Some(transaction.customer_id.to_string()),
            terminal_id: transaction.terminal_id.as_deref().map(str::to_owned),
            transaction_time: Some(at),
            source: Some(self.world.label_source()),
        };
        self.schedule(at + delay, Event::Label(Box::new(label)));
    }
}

fn span_millis(span: crate::duration::Span) -> Millis {
    Millis::try_from(span.as_millis()).unwrap_or(Millis::MAX / 4)
}

impl Iterator for Generator {
    type Item = Generated;

    fn next(&mut self) -> Option<Generated> {
        loop {
            // A purchase stays queued: `purchase` moves it to the next one.
            if let Some(&Scheduled {
                at,
                event: Event::Purchase(index),
                ..
            }) = self.queue.peek().filter(|_| !self.draining)
            {
                match self.purchase(index, at) {
                    Some(generated) => return Some(generated),
                    None => continue,
                }
            }
            match self.queue.pop()?.event {
                Event::Label(label) => {
                    self.stats.labels += 1;
                    return Some(Generated::Label(*label));
                }
                Event::Fraud(fraud) if !self.draining => {
                    let (transaction, scenario) = *fraud;
                    return Some(self.emit(transaction, Some(scenario)));
                }
                // Only labels are still due once draining.
                Event::Fraud(_) | Event::Purchase(_) => continue,
            }
        }
    }
}
