//! The exactly-once loop for a Kafka source: poll a batch, decide it, then
//! write its outputs, its customers' changelog state and the consumer
//! offsets in one transaction. A batch is always committed before the next
//! poll, so a rebalance never lands inside an open transaction.
//!
//! Lifecycle: `init_transactions` with a stable `transactional.id` fences a
//! killed predecessor and aborts what it left open; each assigned partition's
//! state is restored from the changelog before its first record is decided;
//! a failed transaction is aborted, its partitions rewound to the committed
//! offsets and their state restored, then retried with backoff; SIGTERM
//! commits the batch in hand, leaves the group and returns. While the
//! producer's queue is full, the input partitions are paused until the
//! batch's transaction ends ([`InputPause`]).

use super::admin;
use super::batch::{self, Buffers, Origin, OutputTopic, Outputs, Polled, Produced, Tally};
use super::changelog;
use super::client::{client_config, PRODUCER_DEFAULTS};
use super::context::ConsumerEvents;
use super::pause::InputPause;
use super::sink::send;
use super::{KafkaError, KafkaSinkConfig, KafkaSourceConfig};
use crate::engine::{Engine, SystemClock};
use crate::runtime::{RunOptions, RunReport, RuntimeError, Shutdown};
use crate::sinks::{Output, SinkConfig};
use crate::sources::{SourceConfig, SourceReport};
use crate::state::{keys, StateStore};
use crate::telemetry::{self, Counters, Telemetry};
use crate::topology::Topology;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);
const RESTORE_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The Kafka source of `topology`, if it has one.
pub fn kafka_source(topology: &Topology) -> Option<(&String, &KafkaSourceConfig)> {
    topology
        .sources
        .iter()
        .find_map(|(name, source)| match source {
            SourceConfig::Kafka(config) => Some((name, config)),
            _ => None,
        })
}

/// Problems a topology with a Kafka source has beyond each component's own.
pub fn topology_problems(topology: &Topology) -> Vec<(String, String)> {
    let Some((name, source)) = kafka_source(topology) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if topology.sources.len() > 1 {
        problems.push((
            format!("sources.{name}"),
            "a Kafka source runs alone in its exactly-once loop: remove the other sources".into(),
        ));
    }
    if topology.sinks.labels.is_some() {
        problems.push((
            "sinks.labels".into(),
            "analysts' verdicts come from the console, which does not run with a Kafka source"
                .into(),
        ));
    }
    for (output, sink) in sinks(topology) {
        match sink {
            Some(SinkConfig::Kafka(sink)) if sink.bootstrap_servers != source.bootstrap_servers => {
                problems.push((
                    format!("sinks.{}.bootstrap_servers", output.key()),
                    "must be the Kafka source's cluster: outputs are written in its transactions"
                        .into(),
                ))
            }
            Some(SinkConfig::Kafka(_)) | None => {}
            Some(_) => problems.push((
                format!("sinks.{}", output.key()),
                "with a Kafka source every sink must be type: kafka (written in one transaction)"
                    .into(),
            )),
        }
    }
    problems
}

fn sinks(topology: &Topology) -> [(Output, Option<&SinkConfig>); 5] {
    let sinks = &topology.sinks;
    [
        (Output::Decisions, Some(&sinks.decisions)),
        (Output::Alerts, sinks.alerts.as_ref()),
        (Output::Cases, sinks.cases.as_ref()),
        (Output::DeadLetters, Some(&sinks.dead_letters)),
        (Output::Labels, sinks.labels.as_ref()),
    ]
}

/// Runs a topology whose source is Kafka until SIGTERM or `options.shutdown`.
pub async fn run(topology: &Topology, options: RunOptions) -> Result<RunReport, RuntimeError> {
    let started = Instant::now();
    let (name, source) = kafka_source(topology)
        .ok_or_else(|| KafkaError::Setup("the topology has no Kafka source".into()))?;
    if options.console.is_some() {
        // Its decisions would bypass the exactly-once transactions and the changelog.
        return Err(KafkaError::Setup(
            "the analyst console (--console) is not available with a Kafka source".into(),
        )
        .into());
    }
    let telemetry = options.telemetry.clone().unwrap_or_else(|| {
        Arc::new(Telemetry::with_counters(
            options.counters.clone().unwrap_or_default(),
        ))
    });
    let state = Arc::new(StateStore::new(topology.state.clone())?);
    telemetry.attach_state(state.clone());
    if let Some(address) = options.http {
        telemetry::serve(address, telemetry.clone()).await?;
    }
    let mut engine = Engine::new(state, topology.rules.clone(), Arc::new(SystemClock))
        .map_err(RuntimeError::Rules)?;
    if let Some(model) = crate::runtime::load_model(topology).await? {
        telemetry.attach_model(model.clone());
        engine = engine.with_model(model);
    }
    let engine = Arc::new(crate::runtime::with_escalation(engine, topology));
    if options.handle_signals {
        tokio::spawn(crate::runtime::stop_on_signal(
            options.shutdown.clone(),
            telemetry.clone(),
        ));
    }
    let outputs = outputs(topology, source)?;
    let traces = match &topology.telemetry.traces {
        Some(config) => Some(telemetry::Traces::start(config)?),
        None => None,
    };
    let mut processor = Processor::start(name, source, engine, telemetry.clone(), outputs)?;
    processor.sampler = traces.as_ref().map(telemetry::Traces::sampler);
    processor.agent = crate::runtime::start_agent(topology, &processor.engine, &telemetry).await?;
    let shutdown = options.shutdown.clone();
    let records = tokio::task::spawn_blocking(move || processor.run(&shutdown))
        .await
        .map_err(|error| RuntimeError::Panicked(error.to_string()))?;
    if let Some(traces) = traces {
        tokio::task::spawn_blocking(move || traces.shutdown())
            .await
            .map_err(|error| RuntimeError::Panicked(error.to_string()))?;
    }
    let records = records?;
    telemetry.set_ready(false);
    Ok(RunReport {
        counters: telemetry.counters.snapshot(),
        elapsed: started.elapsed(),
        sources: vec![(name.clone(), SourceReport { records })],
        ..RunReport::default()
    })
}

fn outputs(topology: &Topology, source: &KafkaSourceConfig) -> Result<Outputs, KafkaError> {
    let topic = |output: Output, sink: Option<&SinkConfig>| match sink {
        Some(SinkConfig::Kafka(config)) => Ok(Some(output_topic(output, config))),
        None => Ok(None),
        Some(_) => Err(KafkaError::Setup(format!(
            "sinks.{}: with a Kafka source every sink must be type: kafka",
            output.key()
        ))),
    };
    let required = |output, sink| {
        topic(output, Some(sink))?
            .ok_or_else(|| KafkaError::Setup(format!("sinks.{} is required", output.key())))
    };
    let sinks = &topology.sinks;
    Ok(Outputs {
        decisions: required(Output::Decisions, &sinks.decisions)?,
        alerts: topic(Output::Alerts, sinks.alerts.as_ref())?,
        cases: topic(Output::Cases, sinks.cases.as_ref())?,
        dead_letters: required(Output::DeadLetters, &sinks.dead_letters)?,
        changelog: source.changelog_topic(),
    })
}

fn output_topic(output: Output, config: &KafkaSinkConfig) -> OutputTopic {
    OutputTopic {
        output,
        topic: config.topic.clone(),
        codec: config.codec(),
    }
}

struct Processor {
    source: String,
    config: KafkaSourceConfig,
    engine: Arc<Engine>,
    telemetry: Arc<Telemetry>,
    outputs: Outputs,
    consumer: BaseConsumer<ConsumerEvents>,
    producer: BaseProducer,
    /// Settings to build a new producer after a fatal producer error.
    producer_config: ClientConfig,
    /// Settings for the changelog readers: the cluster and the user's properties.
    reader_config: ClientConfig,
    read_counter: Arc<std::sync::atomic::AtomicU64>,
    watchdog: Watchdog,
    /// Traces sampled transactions (and every one whose producer sampled it).
    sampler: Option<telemetry::Sampler>,
    /// Escalations go to the LLM agent inside the batch's transaction.
    agent: Option<crate::runtime::AgentLink>,
    /// The last batch's record buffers, reused by the next.
    buffers: Buffers,
}

impl Processor {
    fn start(
        source: &str,
        config: &KafkaSourceConfig,
        engine: Arc<Engine>,
        telemetry: Arc<Telemetry>,
        outputs: Outputs,
    ) -> Result<Processor, KafkaError> {
        let bootstrap = &config.bootstrap_servers;
        let reader_config = client_config(bootstrap, &[], &config.properties);
        let consumer: BaseConsumer<ConsumerEvents> = client_config(
            bootstrap,
            &[
                ("group.id", config.group_id.as_str()),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "earliest"),
                ("isolation.level", "read_committed"),
                ("partition.assignment.strategy", "cooperative-sticky"),
                ("statistics.interval.ms", "1000"),
                // Bounded prefetch: memory stays flat however far behind we are.
                ("queued.max.messages.kbytes", "65536"),
            ],
            &config.properties,
        )
        .create_with_context(ConsumerEvents::new(&config.topic, telemetry.clone()))?;
        let transactional_id = config.transactional_id();
        let producer_defaults: Vec<(&str, &str)> = PRODUCER_DEFAULTS
            .iter()
            .copied()
            .chain([
                ("transactional.id", transactional_id.as_str()),
                ("transaction.timeout.ms", "60000"),
                // librdkafka wants deliveries settled within the transaction's timeout.
                ("message.timeout.ms", "55000"),
            ])
            .collect();
        let producer_config = client_config(bootstrap, &producer_defaults, &config.properties);
        let producer: BaseProducer = producer_config.create()?;
        let read_counter = telemetry.counters.source_counter(source);
        let stall_timeout = Duration::from_secs(config.stall_timeout_s);
        let watchdog = Watchdog::start(stall_timeout, move || {
            tracing::error!(
                seconds = stall_timeout.as_secs(),
                "a Kafka transaction has been open past stall_timeout_s: exiting so that a \
                 restart aborts it"
            );
            std::process::exit(STALLED_EXIT_CODE);
        });
        Ok(Processor {
            source: source.to_owned(),
            config: config.clone(),
            engine,
            telemetry,
            outputs,
            consumer,
            producer,
            producer_config,
            reader_config,
            read_counter,
            watchdog,
            sampler: None,
            agent: None,
            buffers: Buffers::default(),
        })
    }

    fn run(mut self, shutdown: &Shutdown) -> Result<u64, KafkaError> {
        self.prepare(shutdown)?;
        self.telemetry.set_ready(true);
        let mut records = 0;
        let mut backoff = Duration::from_millis(250);
        while !shutdown.is_triggered() {
            let batch = self.poll_batch(shutdown)?;
            if batch.is_empty() {
                continue;
            }
            let transacted = self.watchdog.guard(|| self.transact(&batch));
            match transacted {
                Ok(committed) => {
                    records += committed;
                    backoff = Duration::from_millis(250);
                }
                Err(failure) => {
                    self.recover(&batch, failure, shutdown)?;
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            self.buffers.recycle(batch);
        }
        self.telemetry.set_ready(false);
        tracing::info!(records, "committed; leaving the consumer group");
        self.consumer.unsubscribe();
        // Serve the revocation so the group rebalances now, not after a timeout.
        let _ = self.consumer.poll(Duration::from_millis(500));
        Ok(records)
    }

    /// Fences our predecessor, creates missing topics and joins the group.
    fn prepare(&self, shutdown: &Shutdown) -> Result<(), KafkaError> {
        self.init_transactions(shutdown)?;
        let partitions = admin::partition_count(&self.consumer, &self.config.topic)?;
        if self.config.create_topics {
            let mut topics = vec![(self.outputs.changelog.clone(), true)];
            let outputs = &self.outputs;
            for port in [Some(&outputs.decisions), outputs.alerts.as_ref()]
                .into_iter()
                .chain([outputs.cases.as_ref(), Some(&outputs.dead_letters)])
                .flatten()
            {
                topics.push((port.topic.clone(), false));
            }
            admin::ensure_topics(&self.reader_config, &topics, partitions)?;
        }
        self.consumer.subscribe(&[&self.config.topic])?;
        Ok(())
    }

    /// Registers our `transactional.id`, which fences an older producer with
    /// it and aborts the transaction that producer left open.
    fn init_transactions(&self, shutdown: &Shutdown) -> Result<(), KafkaError> {
        let mut backoff = Duration::from_millis(250);
        loop {
            match self.producer.init_transactions(TIMEOUT) {
                Ok(()) => return Ok(()),
                Err(error) if !is_fatal(&error) && !shutdown.is_triggered() => {
                    tracing::warn!(%error, "init_transactions: retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// A fatal producer error (after a broker restart librdkafka can lose
    /// its idempotence sequence: OutOfOrderSequenceNumber) ends that
    /// producer for good. A new one with the same `transactional.id` aborts
    /// the open transaction in `init_transactions`, as Kafka Streams does.
    fn replace_producer(&mut self, shutdown: &Shutdown) -> Result<(), KafkaError> {
        tracing::warn!("the transactional producer failed fatally: replacing it");
        self.producer = self.producer_config.create()?;
        self.init_transactions(shutdown)
    }

    /// Up to `max_batch` records, waiting at most `max_wait_ms` once the first
    /// arrived. Rebalances are handled between polls.
    fn poll_batch(&mut self, shutdown: &Shutdown) -> Result<Vec<Polled>, KafkaError> {
        let mut batch = Vec::with_capacity(self.config.max_batch.min(10_000));
        let mut deadline: Option<Instant> = None;
        let mut now = Instant::now();
        while batch.len() < self.config.max_batch && !shutdown.is_triggered() {
            let wait = match deadline {
                None => Duration::from_millis(100),
                Some(deadline) => deadline.saturating_duration_since(now),
            };
            let polled = self.consumer.poll(wait);
            self.handle_rebalance(&mut batch)?;
            // One clock read per record (after any restore, which can take
            // seconds): the record's read time and the deadline's reference.
            now = Instant::now();
            match polled {
                None if batch.is_empty() => return Ok(batch),
                None => break,
                Some(Ok(message)) => {
                    deadline.get_or_insert(now + Duration::from_millis(self.config.max_wait_ms));
                    batch.push(Polled {
                        partition: message.partition(),
                        offset: message.offset(),
                        key: message.key().map(|key| self.buffers.copy(key)),
                        payload: self.buffers.copy(message.payload().unwrap_or_default()),
                        started: now,
                        traceparent: traceparent(&message),
                    });
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "kafka poll: retrying");
                    if batch.is_empty() {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
            if deadline.is_some_and(|deadline| now >= deadline) {
                break;
            }
        }
        Ok(batch)
    }

    /// Restores the state of newly assigned partitions; drops the records of
    /// revoked ones (not decided yet: their new owner decides them).
    fn handle_rebalance(&self, batch: &mut Vec<Polled>) -> Result<(), KafkaError> {
        let changes = self.consumer.context().take_changes();
        if !changes.revoked.is_empty() {
            batch.retain(|polled| !changes.revoked.contains(&polled.partition));
        }
        if !changes.assigned.is_empty() {
            self.restore(&changes.assigned)?;
        }
        Ok(())
    }

    fn restore(&self, partitions: &[i32]) -> Result<(), KafkaError> {
        let mut wanted = TopicPartitionList::new();
        for partition in partitions {
            wanted.add_partition(&self.config.topic, *partition);
        }
        let committed = self.consumer.committed_offsets(wanted, TIMEOUT)?;
        let offsets: BTreeMap<i32, i64> = committed
            .elements_for_topic(&self.config.topic)
            .iter()
            .filter_map(|element| match element.offset() {
                Offset::Offset(offset) => Some((element.partition(), offset)),
                _ => None,
            })
            .collect();
        let started = Instant::now();
        let customers = changelog::restore(
            &self.reader_config,
            &self.outputs.changelog,
            &offsets,
            self.engine.state(),
            RESTORE_TIMEOUT,
        )?;
        tracing::info!(
            ?partitions,
            customers,
            seconds = started.elapsed().as_secs_f64(),
            "state restored from the changelog"
        );
        Ok(())
    }

    /// The aborted batch is decided again: its transactions must not look
    /// already decided.
    fn forget_decided(&self, batch: &[Polled]) {
        let codec = self.config.codec();
        for polled in batch {
            if let Ok(transaction) = crate::sources::decode_transaction(&codec, &polled.payload) {
                let key = keys::key(&transaction.transaction_id);
                self.engine.state().recent().forget(key);
            }
        }
    }

    fn transact(&self, batch: &[Polled]) -> Result<u64, Failure> {
        self.producer.begin_transaction().map_err(Failure::kafka)?;
        let mut sent: Result<(), String> = Ok(());
        // Resumes (on drop) when this transaction ends, committed or not.
        let mut pause = InputPause::new(&self.consumer, &self.telemetry.consumer_lag.pauses);
        let codec = self.config.codec();
        let origin = Origin {
            source: &self.source,
            codec: &codec,
            sampler: self.sampler.as_ref(),
            agent: self.agent.as_ref(),
        };
        let decided = batch::decide(
            &self.engine,
            &origin,
            &self.outputs,
            batch,
            &mut |record: Produced| {
                send(
                    &self.producer,
                    record.topic,
                    record.partition,
                    record.key,
                    record.payload,
                    record.traceparent,
                    &mut || pause.producer_full(),
                )
                .map_err(|error| {
                    let message = error.to_string();
                    sent = Err(message.clone());
                    message
                })
            },
        );
        let decided = match decided {
            Ok(decided) => decided,
            Err(message) => {
                return Err(Failure::Other(
                    sent.err().unwrap_or(message),
                    touched_all(batch),
                ))
            }
        };
        let touched = || {
            let customers = decided.touched.customers();
            customers.map(ToString::to_string).collect()
        };
        let mut offsets = TopicPartitionList::new();
        for (partition, next) in &decided.next_offsets {
            offsets
                .add_partition_offset(&self.config.topic, *partition, Offset::Offset(*next))
                .map_err(|error| Failure::Kafka(error, touched()))?;
        }
        let group = self
            .consumer
            .group_metadata()
            .ok_or_else(|| Failure::Other("no consumer group metadata".into(), touched()))?;
        let committed = self
            .producer
            .send_offsets_to_transaction(&offsets, &group, TIMEOUT)
            .and_then(|()| self.flush_outputs())
            .and_then(|()| self.producer.commit_transaction(TIMEOUT));
        if let Err(error) = committed {
            return Err(Failure::Kafka(error, touched()));
        }
        self.count(decided.tally);
        Ok(batch.len() as u64)
    }

    /// Waits until the broker has acknowledged every record of the open
    /// transaction. rdkafka's `commit_transaction` flushes too, but in steps
    /// that poll its event queue for a full 100 ms even after the last
    /// acknowledgement: that held each transaction open about 110 ms and
    /// capped a replica near 9,000 records/s with batches of 1,000.
    /// librdkafka's own flush (with delivery reports as events, as rdkafka
    /// sets them) waits on the count of records in flight and returns as
    /// soon as it reaches zero.
    fn flush_outputs(&self) -> Result<(), rdkafka::error::KafkaError> {
        let timeout_ms = i32::try_from(TIMEOUT.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: the pointer is our producer's live handle, valid while
        // `self.producer` is; rd_kafka_flush is thread-safe and, in event
        // mode, only waits (it does not serve the queue rdkafka polls).
        let code = unsafe {
            rdkafka::bindings::rd_kafka_flush(self.producer.client().native_ptr(), timeout_ms)
        };
        match RDKafkaErrorCode::from(code) {
            RDKafkaErrorCode::NoError => Ok(()),
            error => Err(rdkafka::error::KafkaError::Flush(error)),
        }
    }

    fn count(&self, tally: Tally) {
        let counters = &self.telemetry.counters;
        counters
            .transactions_in
            .fetch_add(tally.records, Ordering::Relaxed);
        self.read_counter
            .fetch_add(tally.records, Ordering::Relaxed);
        for action in tally.actions {
            counters.decided(action);
        }
        for kind in tally.dead {
            counters.dead_lettered(kind);
        }
        counters.alerts.fetch_add(tally.alerts, Ordering::Relaxed);
        counters.cases.fetch_add(tally.cases, Ordering::Relaxed);
        for _ in 0..tally.late {
            Counters::incr(&counters.late_events);
        }
    }

    /// After a failed transaction: abort it, forget what the batch did to its
    /// customers, rewind its partitions and restore their state.
    fn recover(
        &mut self,
        batch: &[Polled],
        failure: Failure,
        shutdown: &Shutdown,
    ) -> Result<(), KafkaError> {
        let (message, touched, fatal) = match failure {
            Failure::Kafka(error, touched) => {
                if is_fenced(&error) {
                    return Err(KafkaError::Fenced(self.config.transactional_id()));
                }
                (error.to_string(), touched, is_fatal(&error))
            }
            Failure::Other(message, touched) => (message, touched, false),
        };
        tracing::warn!(error = %message, "transaction failed: aborting and retrying the batch");
        if fatal {
            self.replace_producer(shutdown)?;
        } else if let Err(error) = self.producer.abort_transaction(TIMEOUT) {
            if is_fenced(&error) {
                return Err(KafkaError::Fenced(self.config.transactional_id()));
            }
            tracing::warn!(%error, "abort_transaction failed");
            if is_fatal(&error) {
                self.replace_producer(shutdown)?;
            }
        }
        for customer in &touched {
            **self.engine.state().customer_mut(keys::key(customer)) = Default::default();
        }
        self.forget_decided(batch);
        let mut first: BTreeMap<i32, i64> = BTreeMap::new();
        for polled in batch {
            first.entry(polled.partition).or_insert(polled.offset);
        }
        for (partition, offset) in &first {
            if let Err(error) = self.consumer.seek(
                &self.config.topic,
                *partition,
                Offset::Offset(*offset),
                TIMEOUT,
            ) {
                tracing::warn!(%error, partition, "rewind failed (partition revoked?)");
            }
        }
        let partitions: Vec<i32> = first.into_keys().collect();
        self.restore(&partitions)
    }
}

/// How often the watchdog looks at the open transaction.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Exit code of a replica whose transaction stalled: EX_TEMPFAIL, "try again".
pub const STALLED_EXIT_CODE: i32 = 75;

/// Ends the process when one transaction runs past its limit. librdkafka's
/// transactional calls can block far past their own timeouts when the
/// broker restarts mid-transaction, and a blocked call cannot be cancelled;
/// a restart with the same `transactional.id` aborts the open transaction.
struct Watchdog {
    /// Milliseconds since `origin` when the current transaction began; 0: none.
    began_ms: Arc<AtomicU64>,
    origin: Instant,
}

impl Watchdog {
    /// Calls `on_stall` (once) when a guarded transaction outlives `limit`.
    fn start(limit: Duration, on_stall: impl FnOnce() + Send + 'static) -> Watchdog {
        let began_ms = Arc::new(AtomicU64::new(0));
        let origin = Instant::now();
        let watched = Arc::downgrade(&began_ms);
        std::thread::spawn(move || {
            while let Some(began_ms) = watched.upgrade() {
                let began = began_ms.load(Ordering::Relaxed);
                let now = origin.elapsed().as_millis() as u64;
                if began != 0 && now.saturating_sub(began) > limit.as_millis() as u64 {
                    on_stall();
                    return;
                }
                drop(began_ms);
                std::thread::sleep(CHECK_EVERY.min(limit / 4));
            }
        });
        Watchdog { began_ms, origin }
    }

    fn guard<T>(&self, transaction: impl FnOnce() -> T) -> T {
        let began = (self.origin.elapsed().as_millis() as u64).max(1);
        self.began_ms.store(began, Ordering::Relaxed);
        let result = transaction();
        self.began_ms.store(0, Ordering::Relaxed);
        result
    }
}

/// Why a transaction did not commit, with the customers whose state it changed.
enum Failure {
    Kafka(rdkafka::error::KafkaError, Vec<String>),
    Other(String, Vec<String>),
}

impl Failure {
    fn kafka(error: rdkafka::error::KafkaError) -> Failure {
        Failure::Kafka(error, Vec::new())
    }
}

/// The W3C trace context the producer put in the record's headers.
fn traceparent(message: &impl Message) -> Option<String> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|header| header.key.eq_ignore_ascii_case("traceparent"))
        .and_then(|header| header.value)
        .and_then(|value| std::str::from_utf8(value).ok())
        .map(str::to_owned)
}

/// The batch's customers, read from keys when decoding stopped midway.
fn touched_all(batch: &[Polled]) -> Vec<String> {
    batch
        .iter()
        .filter_map(|polled| polled.key.as_deref())
        .map(|key| String::from_utf8_lossy(key).into_owned())
        .collect()
}

fn is_fenced(error: &rdkafka::error::KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::ProducerFenced
                | RDKafkaErrorCode::InvalidProducerEpoch
                | RDKafkaErrorCode::Fenced
                | RDKafkaErrorCode::TransactionalIdAuthorizationFailed
        )
    )
}

fn is_fatal(error: &rdkafka::error::KafkaError) -> bool {
    matches!(error, rdkafka::error::KafkaError::Transaction(inner) if inner.is_fatal())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn watchdog(limit_ms: u64) -> (Watchdog, Arc<AtomicBool>) {
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        let watchdog = Watchdog::start(Duration::from_millis(limit_ms), move || {
            flag.store(true, Ordering::SeqCst)
        });
        (watchdog, stalled)
    }

    #[test]
    fn a_transaction_past_the_limit_trips_the_watchdog() {
        let (watchdog, stalled) = watchdog(100);
        watchdog.guard(|| std::thread::sleep(Duration::from_millis(400)));
        assert!(stalled.load(Ordering::SeqCst));
    }

    #[test]
    fn quick_transactions_and_idle_time_do_not() {
        let (watchdog, stalled) = watchdog(200);
        for _ in 0..5 {
            watchdog.guard(|| std::thread::sleep(Duration::from_millis(20)));
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(!stalled.load(Ordering::SeqCst));
    }
}
