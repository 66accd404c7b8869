//! Workers with an agent: an escalated outcome waits for the agent (up to its
//! deadline) while that customer's later decisions are held behind it, in
//! order; other customers' decisions flow on untouched.

use super::work::Work;
use super::worker::{OutcomeRecords, Outlet, Pending, Worker, WorkerError, WorkerOutputs};
use super::Barrier;
use crate::agent::Escalator;
use crate::domain::Transaction;
use crate::engine::Outcome;
use crate::state::{keys, KeyHasher};
use crate::telemetry::TransactionTrace;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// The agent a worker escalates to, and the runtime its investigations run on.
#[derive(Clone)]
pub struct AgentLink {
    pub escalator: Arc<Escalator>,
    pub runtime: Handle,
    /// The agent's own runtime (`agent.threads`), kept alive while linked.
    pub own_runtime: Option<Arc<OwnRuntime>>,
}

/// A runtime that is shut down without waiting when the last link goes:
/// an investigation still running then is past every deadline anyway.
pub struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl OwnRuntime {
    pub fn start(threads: usize) -> std::io::Result<OwnRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("agent")
            .enable_all()
            .build()?;
        Ok(OwnRuntime(Some(runtime)))
    }

    pub fn handle(&self) -> Option<Handle> {
        self.0.as_ref().map(|runtime| runtime.handle().clone())
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A decision made while an earlier one of the same customer was with the agent.
struct Parked {
    transaction: Transaction,
    outcome: Outcome,
    escalate: bool,
}

/// Customers with an escalation in flight, and what waits behind it, by
/// customer key (as the state is keyed: every outcome looks here, so the
/// lookup must cost little).
#[derive(Default)]
struct Holds {
    queues: HashMap<u64, VecDeque<Parked>, BuildHasherDefault<KeyHasher>>,
}

impl Holds {
    /// The outcome's customer key when that customer has an escalation in
    /// flight. With none in flight, the customer is not even hashed.
    fn held_customer(&self, outcome: &Outcome) -> Option<u64> {
        if self.queues.is_empty() {
            return None;
        }
        let customer = keys::key(&outcome.decision.customer_id);
        self.queues.contains_key(&customer).then_some(customer)
    }
}

/// An escalation's final outcome, with its records already encoded on the
/// agent's thread: a case carrying the agent's transcript is the costliest
/// record there is, and the worker's thread is the main path's.
struct Settled {
    outcome: Outcome,
    records: Result<OutcomeRecords, WorkerError>,
}

enum Event {
    Batch(Option<Vec<Work>>),
    Resolved(Option<Box<Settled>>),
}

struct Escalating<'a> {
    worker: &'a Worker,
    link: AgentLink,
    resolved: mpsc::UnboundedSender<Box<Settled>>,
    /// The worker's outputs, shared with the escalations that encode for them.
    outputs: Arc<WorkerOutputs>,
    /// Checkpoint barriers wait until no decision is held: a barrier promises
    /// that everything read before it is written.
    barriers: Vec<Arc<Barrier>>,
    holds: Holds,
    /// Decisions so far, for the stage metrics' sample.
    decided: u64,
    /// Escalations decided since the last launch: handed to the agent's
    /// runtime together, so that it is woken once per batch, not per review.
    launching: Vec<(Transaction, Outcome)>,
}

impl Worker {
    /// As `run`, with escalations. Ends once the routers hung up and every
    /// escalation has resolved.
    pub(super) fn run_escalating(
        &self,
        mut input: mpsc::Receiver<Vec<Work>>,
        link: AgentLink,
    ) -> Result<(), WorkerError> {
        let (resolved, mut results) = mpsc::unbounded_channel();
        let runtime = link.runtime.clone();
        let mut state = Escalating {
            worker: self,
            link,
            resolved,
            outputs: Arc::new(self.outputs.clone()),
            holds: Holds::default(),
            barriers: Vec::new(),
            decided: 0,
            launching: Vec::new(),
        };
        let mut open = true;
        while open || !state.holds.queues.is_empty() {
            let event = runtime.block_on(async {
                tokio::select! {
                    biased;
                    outcome = results.recv() => Event::Resolved(outcome),
                    batch = input.recv(), if open => Event::Batch(batch),
                }
            });
            let mut pending = Pending::default();
            let resolved_only = matches!(event, Event::Resolved(Some(_)));
            match event {
                Event::Batch(Some(batch)) => state.take(batch, &mut pending)?,
                Event::Batch(None) => open = false,
                Event::Resolved(Some(settled)) => state.resolve(*settled, &mut pending)?,
                Event::Resolved(None) => break,
            }
            while let Ok(settled) = results.try_recv() {
                state.resolve(*settled, &mut pending)?;
            }
            // Resolved outcomes travel with the next batch's when it is
            // already waiting: one send, so one wake-up of the sinks, not two.
            if resolved_only && open {
                if let Ok(batch) = input.try_recv() {
                    state.take(batch, &mut pending)?;
                }
            }
            state.launch();
            self.send(pending)?;
            if state.holds.queues.is_empty() {
                for barrier in state.barriers.drain(..) {
                    barrier.arrive(self.outputs.deliveries());
                }
            }
        }
        for barrier in state.barriers.drain(..) {
            barrier.arrive(self.outputs.deliveries());
        }
        self.release_remaining_labels()
    }
}

/// Each outcome is held behind an escalation of the same customer,
/// escalated, or sent straight to the sinks.
impl Outlet for Escalating<'_> {
    fn outcome(
        &mut self,
        transaction: &Transaction,
        outcome: Outcome,
        trace: Option<TransactionTrace>,
        _: Option<(SystemTime, SystemTime)>,
        pending: &mut Pending,
    ) -> Result<(), WorkerError> {
        // The trace ends with the engine's decision: the agent's time is its own.
        if let Some(trace) = trace {
            trace.finish_decision(&outcome.decision);
        }
        // Nearly every outcome goes straight on, read in place: moving an
        // outcome (656 bytes) costs a copy, and this runs per transaction.
        let escalate = self.link.escalator.wants(&outcome);
        let held_customer = self.holds.held_customer(&outcome);
        if !escalate && held_customer.is_none() {
            return self.worker.collect(&outcome, pending);
        }
        let customer = held_customer.unwrap_or_else(|| keys::key(&outcome.decision.customer_id));
        self.hold_or_escalate(transaction, outcome, customer, escalate);
        Ok(())
    }

    /// Checkpoint barriers wait until no decision is held.
    fn barrier(&mut self, barrier: &Arc<Barrier>, _: &mut Pending) -> Result<(), WorkerError> {
        self.barriers.push(barrier.clone());
        Ok(())
    }
}

impl Escalating<'_> {
    fn take(&mut self, mut batch: Vec<Work>, pending: &mut Pending) -> Result<(), WorkerError> {
        let worker = self.worker;
        let mut decided = std::mem::take(&mut self.decided);
        let result = worker.decide_batch(&mut batch, &mut decided, self, pending);
        self.decided = decided;
        result
    }

    /// Parks the outcome behind its customer's escalation in flight, or
    /// escalates it: the only path on which an outcome is moved.
    #[inline(never)]
    fn hold_or_escalate(
        &mut self,
        transaction: &Transaction,
        outcome: Outcome,
        customer: u64,
        escalate: bool,
    ) {
        if let Some(queue) = self.holds.queues.get_mut(&customer) {
            queue.push_back(Parked {
                transaction: transaction.clone(),
                outcome,
                escalate,
            });
            return;
        }
        self.holds.queues.insert(customer, VecDeque::new());
        self.escalate(transaction.clone(), outcome);
    }

    fn escalate(&mut self, transaction: Transaction, outcome: Outcome) {
        self.launching.push((transaction, outcome));
    }

    /// Starts the reviews escalated since the last launch. Spawning from
    /// this thread wakes the agent's runtime (a system call on the main
    /// path's core); spawning from inside it does not, so several reviews
    /// go in one task that spawns the rest there.
    fn launch(&mut self) {
        let mut reviews = std::mem::take(&mut self.launching);
        let review = |(transaction, outcome): (Transaction, Outcome)| {
            let escalator = self.link.escalator.clone();
            let resolved = self.resolved.clone();
            let outputs = self.outputs.clone();
            // The review's future is tens of kilobytes: boxed, it is built
            // on the agent's thread at its first poll, not copied on this one.
            async move {
                let outcome = Box::pin(escalator.review(transaction, outcome)).await;
                let records = outputs.encode_outcome(&outcome);
                // The worker outlives every escalation it started.
                let _ = resolved.send(Box::new(Settled { outcome, records }));
            }
        };
        match reviews.len() {
            0 => {}
            1 => {
                if let Some(only) = reviews.pop() {
                    self.link.runtime.spawn(review(only));
                }
            }
            _ => {
                let tasks: Vec<_> = reviews.into_iter().map(review).collect();
                self.link.runtime.spawn(async move {
                    for task in tasks {
                        tokio::spawn(task);
                    }
                });
            }
        }
    }

    /// Emits the resolved outcome, then what waited behind it up to the next escalation.
    fn resolve(&mut self, settled: Settled, pending: &mut Pending) -> Result<(), WorkerError> {
        let Settled { outcome, records } = settled;
        let customer = keys::key(&outcome.decision.customer_id);
        self.worker.collect_encoded(&outcome, records?, pending);
        let Some(mut queue) = self.holds.queues.remove(&customer) else {
            return Ok(());
        };
        while let Some(parked) = queue.pop_front() {
            if parked.escalate {
                self.escalate(parked.transaction, parked.outcome);
                self.holds.queues.insert(customer, queue);
                return Ok(());
            }
            self.worker.collect(&parked.outcome, pending)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_own_runtime_runs_on_its_threads_and_goes_away_from_async_code() {
        let own = Arc::new(OwnRuntime::start(1).unwrap());
        let handle = own.handle().unwrap();
        let name = handle
            .block_on(handle.spawn(async { std::thread::current().name().map(str::to_owned) }))
            .unwrap();
        assert_eq!(name.as_deref(), Some("agent"));
        // The last link is often dropped inside the pipeline's async code,
        // where dropping a runtime the usual way panics.
        let pipeline = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        pipeline.block_on(async move { drop(own) });
    }
}
