//! A Kinesis Data Streams source: polls GetRecords on the shards this
//! replica holds, de-aggregates KPL records, and checkpoints only once the
//! outputs of what it read are written.
//!
//! With a `leases` table, replicas share the shards through DynamoDB leases
//! (see `leases.rs`); without one, this replica reads every shard and keeps
//! its checkpoints in memory. Either way a shard is read only after its
//! parents are read to their end, so per-customer order holds across splits
//! and merges.

pub mod fanout;
pub mod kpl;
pub mod leases;
pub mod readback;
mod reader;
mod renewer;
pub mod shards;
pub mod snapshots;

use super::{Source, SourceError, SourceReport, Stream};
use crate::aws::{self, AwsSettings};
use crate::codecs::{Codec, CodecKind};
use crate::duration::Span;
use crate::runtime::{Router, Shutdown};
use crate::state::StateStore;
use fanout::FanOutConfig;
use leases::{Claim, LeaseConfig, LeaseTable, Observations, SHARD_END, TRIM_HORIZON};
use readback::ReadbackConfig;
use reader::ShardReader;
use renewer::Renewer;
use serde::{Deserialize, Serialize};
use shards::{ShardInfo, StartAt};
use snapshots::{ShardSnapshot, SnapshotConfig, SnapshotStore};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialPosition {
    /// The oldest record the stream keeps.
    #[default]
    TrimHorizon,
    /// Only records put after the reader starts.
    Latest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KinesisSourceConfig {
    /// The stream to read.
    pub stream_name: String,
    /// `json`, `avro` (a bare datum per record) or `confluent_avro`.
    #[serde(default)]
    pub codec: CodecKind,
    /// Transactions or labels.
    #[serde(default)]
    pub stream: Stream,
    /// Region and endpoint for Kinesis (default: the standard AWS chain).
    #[serde(default)]
    pub aws: AwsSettings,
    /// Where a shard without a checkpoint starts.
    #[serde(default)]
    pub initial_position: InitialPosition,
    /// Wait between GetRecords calls on a shard that returned less than a full batch.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Span,
    /// Records per GetRecords call (at most 10,000).
    #[serde(default = "default_max_records")]
    pub max_records: i32,
    /// How often progress is made durable (and the shard list refreshed).
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: Span,
    /// Share shards with other replicas through this DynamoDB lease table.
    #[serde(default)]
    pub leases: Option<LeaseConfig>,
    /// Snapshot each shard's customers to S3 with its checkpoint (needs `leases`).
    #[serde(default)]
    pub snapshots: Option<SnapshotConfig>,
    /// The decisions stream, read back when a shard is taken over so that
    /// what its previous owner decided after its last checkpoint is not
    /// decided again (needs `leases`).
    #[serde(default)]
    pub decisions_readback: Option<ReadbackConfig>,
    /// Read with enhanced fan-out (SubscribeToShard) as this registered
    /// consumer instead of polling GetRecords.
    #[serde(default)]
    pub enhanced_fan_out: Option<FanOutConfig>,
}

fn default_poll_interval() -> Span {
    Span(250)
}

fn default_max_records() -> i32 {
    1_000
}

fn default_checkpoint_interval() -> Span {
    Span::secs(5)
}

impl KinesisSourceConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.aws.problems();
        if self.stream_name.trim().is_empty() {
            problems.push("stream_name: must not be empty".into());
        }
        if !(1..=10_000).contains(&self.max_records) {
            problems.push("max_records: must be between 1 and 10000".into());
        }
        if self.poll_interval.as_millis() == 0 || self.checkpoint_interval.as_millis() == 0 {
            problems.push("poll_interval and checkpoint_interval must be positive".into());
        }
        if let Some(snapshots) = &self.snapshots {
            problems.extend(
                snapshots
                    .problems()
                    .into_iter()
                    .map(|p| format!("snapshots.{p}")),
            );
            if self.leases.is_none() {
                problems.push(
                    "snapshots: need leases (a snapshot goes with a checkpoint in the lease table)"
                        .into(),
                );
            }
        }
        if let Some(fan_out) = &self.enhanced_fan_out {
            if fan_out.consumer_name.trim().is_empty() {
                problems.push("enhanced_fan_out.consumer_name: must not be empty".into());
            }
        }
        if let Some(readback) = &self.decisions_readback {
            let prefixed = readback.problems().into_iter();
            problems.extend(prefixed.map(|p| format!("decisions_readback.{p}")));
            if self.leases.is_none() {
                problems.push(
                    "decisions_readback: needs leases (it reads back from a checkpoint's time)"
                        .into(),
                );
            }
        }
        if let Some(leases) = &self.leases {
            problems.extend(leases.problems().into_iter().map(|p| format!("leases.{p}")));
            if self.checkpoint_interval >= leases.lease_duration {
                problems
                    .push("checkpoint_interval: must be shorter than leases.lease_duration".into());
            }
        }
        problems
    }

    pub(super) fn build(&self) -> Result<KinesisSource, SourceError> {
        Ok(KinesisSource {
            config: self.clone(),
        })
    }
}

pub struct KinesisSource {
    config: KinesisSourceConfig,
}

impl Source for KinesisSource {
    fn run(
        self: Box<Self>,
        router: &mut Router,
        shutdown: &Shutdown,
    ) -> Result<SourceReport, SourceError> {
        let io = |what: &str, detail: String| SourceError::Io {
            source_name: router.source().to_owned(),
            what: what.to_owned(),
            detail,
        };
        let rt = aws::source_runtime().map_err(|error| io("a runtime", error.to_string()))?;
        let config = self.config;
        let client = rt.block_on(config.aws.kinesis());
        let table = match &config.leases {
            Some(leases) => Some(
                rt.block_on(LeaseTable::connect(leases))
                    .map_err(|detail| io("the lease table", detail))?,
            ),
            None => None,
        };
        let renewer = match &config.leases {
            Some(leases) => {
                let started = Renewer::start(leases);
                Some(started.map_err(|error| io("the lease renewer", error.to_string()))?)
            }
            None => None,
        };
        let snapshots = match &config.snapshots {
            Some(snapshots) => {
                let state = router.telemetry().state().cloned().ok_or_else(|| {
                    io("the state", "the pipeline has no state to snapshot".into())
                })?;
                let store = rt.block_on(SnapshotStore::connect(snapshots, &config.stream_name));
                Some((store, state))
            }
            None => None,
        };
        let fan_out = match &config.enhanced_fan_out {
            Some(fan_out) => {
                let registering =
                    fanout::register(&client, &config.stream_name, &fan_out.consumer_name);
                let arn = rt
                    .block_on(registering)
                    .map_err(|detail| io("the enhanced fan-out consumer", detail))?;
                tracing::info!(consumer = %arn, "reading with enhanced fan-out");
                Some(arn)
            }
            None => None,
        };
        let readback = config
            .decisions_readback
            .as_ref()
            .map(|readback| (readback.clone(), rt.block_on(readback.aws.kinesis())));
        let mut coordinator = Coordinator {
            codec: Codec::new(config.codec),
            snapshots,
            readback,
            fan_out,
            hash_ranges: BTreeMap::new(),
            config,
            client,
            table,
            renewer,
            handing_off: BTreeMap::new(),
            rt,
            leases: BTreeMap::new(),
            readers: BTreeMap::new(),
            observations: Observations::default(),
            records: 0,
        };
        coordinator.run(router, shutdown)
    }
}

/// The source thread's loop: lease upkeep, polling, checkpoints.
struct Coordinator {
    config: KinesisSourceConfig,
    codec: Codec,
    client: aws_sdk_kinesis::Client,
    table: Option<LeaseTable>,
    /// Renews the leases held, from a thread of its own.
    renewer: Option<Renewer>,
    /// Leases held that another replica asked for: shard → that replica.
    handing_off: BTreeMap<String, String>,
    rt: tokio::runtime::Runtime,
    /// Every shard's lease as last seen (held in memory without a table).
    leases: BTreeMap<String, leases::Lease>,
    readers: BTreeMap<String, ShardReader>,
    observations: Observations,
    records: u64,
    /// Where shard snapshots go, and the state they are taken from.
    snapshots: Option<(SnapshotStore, Arc<StateStore>)>,
    /// The decisions stream's client, for read-backs at a takeover.
    readback: Option<(ReadbackConfig, aws_sdk_kinesis::Client)>,
    /// Each listed shard's partition-key hash range.
    hash_ranges: BTreeMap<String, (u128, u128)>,
    /// The registered consumer's ARN, with enhanced fan-out.
    fan_out: Option<String>,
}

impl Coordinator {
    fn run(
        &mut self,
        router: &mut Router,
        shutdown: &Shutdown,
    ) -> Result<SourceReport, SourceError> {
        let upkeep_every = self.upkeep_interval();
        let checkpoint_every = self.config.checkpoint_interval.as_std();
        let mut next_upkeep = Instant::now();
        let mut next_checkpoint = Instant::now() + checkpoint_every;
        while !shutdown.is_triggered() {
            if Instant::now() >= next_upkeep {
                self.upkeep(router);
                next_upkeep = Instant::now() + upkeep_every;
            }
            let polled = self.poll_ready(router)?;
            if Instant::now() >= next_checkpoint {
                self.checkpoint(router)?;
                next_checkpoint = Instant::now() + checkpoint_every;
            }
            if !polled {
                let wake = self
                    .readers
                    .values()
                    .map(|reader| reader.next_poll)
                    .min()
                    .unwrap_or(next_upkeep)
                    .min(next_upkeep)
                    .min(next_checkpoint);
                let pause = wake.saturating_duration_since(Instant::now());
                std::thread::sleep(
                    pause.clamp(Duration::from_millis(1), Duration::from_millis(100)),
                );
            }
        }
        self.checkpoint(router)?;
        self.release_all();
        Ok(SourceReport {
            records: self.records,
        })
    }

    fn upkeep_interval(&self) -> Duration {
        match &self.config.leases {
            Some(leases) => leases.lease_duration.as_std() / 3,
            None => self.config.checkpoint_interval.as_std(),
        }
    }

    /// Lists the shards, keeps the leases, and starts or stops readers to match.
    fn upkeep(&mut self, router: &Router) {
        let listed = match self
            .rt
            .block_on(shards::list_shards(&self.client, &self.config.stream_name))
        {
            Ok(listed) => listed,
            Err(error) => {
                tracing::warn!(%error, stream = %self.config.stream_name, "cannot list shards; retrying");
                return;
            }
        };
        self.hash_ranges = listed
            .iter()
            .filter_map(|shard| Some((shard.shard_id.clone(), shard.hash_range?)))
            .collect();
        for shard in listed.iter().filter(|shard| shard.closed) {
            if let Some(reader) = self.readers.get_mut(&shard.shard_id) {
                reader.closed = true;
            }
        }
        let result = match &self.table {
            Some(_) => self.upkeep_table(&listed),
            None => {
                self.upkeep_local(&listed);
                Ok(())
            }
        };
        if let Err(error) = result {
            tracing::warn!(%error, "lease table upkeep failed; retrying");
        }
        self.match_readers(router);
    }

    fn upkeep_local(&mut self, listed: &[ShardInfo]) {
        for shard in listed {
            self.leases
                .entry(shard.shard_id.clone())
                .or_insert_with(|| leases::Lease {
                    shard_id: shard.shard_id.clone(),
                    owner: "local".into(),
                    counter: 0,
                    checkpoint: TRIM_HORIZON.into(),
                    parents: shard.parents.clone(),
                    snapshot: None,
                    checkpointed_at: None,
                    handoff_to: None,
                });
        }
    }

    fn upkeep_table(&mut self, listed: &[ShardInfo]) -> Result<(), String> {
        let (Some(table), Some(config)) = (&self.table, &self.config.leases) else {
            return Ok(());
        };
        let mut seen = self.rt.block_on(table.scan())?;
        if self.rt.block_on(table.create_missing(listed, &seen))? {
            seen = self.rt.block_on(table.scan())?;
        }
        // Finished shards need no renewal: nobody takes a finished lease.
        if let Some(renewer) = &self.renewer {
            track_held(renewer, &mut seen, &table.worker_id, &self.readers);
        }
        let duration = config.lease_duration.as_std();
        let expired = self.observations.observe(&seen, Instant::now(), duration);
        for claim in leases::plan_claims(&seen, &expired, &table.worker_id) {
            let shard_id = claim.shard();
            let Some(lease) = seen.iter_mut().find(|lease| lease.shard_id == shard_id) else {
                continue;
            };
            match claim {
                Claim::Take(_) if self.rt.block_on(table.take(lease))? => {
                    tracing::info!(shard = %shard_id, from = %lease.owner, "lease taken");
                    lease.owner = table.worker_id.clone();
                    lease.counter += 1;
                    if let Some(renewer) = &self.renewer {
                        renewer.hold(&lease.shard_id, lease.counter);
                    }
                }
                Claim::AskHandoff(_) if self.rt.block_on(table.ask_handoff(lease))? => {
                    tracing::info!(shard = %shard_id, from = %lease.owner, "lease asked for");
                }
                _ => {}
            }
        }
        self.handing_off = seen
            .iter()
            .filter(|lease| lease.owner == table.worker_id && !lease.finished())
            .filter_map(|lease| Some((lease.shard_id.clone(), lease.handoff_to.clone()?)))
            .collect();
        self.leases = seen
            .into_iter()
            .map(|lease| (lease.shard_id.clone(), lease))
            .collect();
        Ok(())
    }

    fn me(&self) -> &str {
        self.table
            .as_ref()
            .map_or("local", |table| &table.worker_id)
    }

    /// A reader for every lease held and not finished; none for the rest.
    fn match_readers(&mut self, router: &Router) {
        let me = self.me().to_owned();
        let lost: Vec<String> = self
            .readers
            .keys()
            .filter(|shard| {
                self.leases
                    .get(*shard)
                    .is_none_or(|lease| lease.owner != me)
            })
            .cloned()
            .collect();
        for shard in lost {
            tracing::info!(%shard, "lease lost; reader stopped");
            self.readers.remove(&shard);
            router.telemetry().shard_lag.remove(router.source(), &shard);
        }
        let starting: Vec<&leases::Lease> = self
            .leases
            .values()
            .filter(|lease| {
                lease.owner == me
                    && !lease.finished()
                    && !self.readers.contains_key(&lease.shard_id)
            })
            .collect();
        if let Err(error) = self.read_back(&starting, router) {
            // Reading on would decide again what the previous owner decided: wait.
            tracing::warn!(%error, "decisions not read back; retrying");
            return;
        }
        for lease in starting {
            let start = match lease.checkpoint.as_str() {
                TRIM_HORIZON => match self.config.initial_position {
                    InitialPosition::TrimHorizon => StartAt::TrimHorizon,
                    InitialPosition::Latest => StartAt::Latest,
                },
                sequence => StartAt::After(sequence.to_owned()),
            };
            tracing::info!(shard = %lease.shard_id, ?start, "reading shard");
            let mut reader = ShardReader::new(&lease.shard_id, lease.parents.clone(), start);
            match self.restore(lease) {
                Ok(customers) => reader.customers = customers,
                Err(error) => {
                    // Reading on with empty windows would miss what they hold: wait.
                    tracing::warn!(shard = %lease.shard_id, %error, "snapshot not restored; retrying");
                    continue;
                }
            }
            if !reader.customers.is_empty() {
                let customers = reader.customers.len();
                tracing::info!(shard = %lease.shard_id, customers, "windows restored from the snapshot");
            }
            self.readers.insert(lease.shard_id.clone(), reader);
        }
    }

    /// Marks the transactions of `starting` shards that were decided since
    /// their last checkpoints (by whichever replica held them) as decided
    /// elsewhere: the workers fold them into state without a second decision.
    fn read_back(&self, starting: &[&leases::Lease], router: &Router) -> Result<(), String> {
        let Some((config, client)) = &self.readback else {
            return Ok(());
        };
        let Some(since) = starting
            .iter()
            .filter_map(|lease| lease.checkpointed_at)
            .min()
        else {
            return Ok(());
        };
        let state = router
            .telemetry()
            .state()
            .ok_or("the pipeline has no state")?;
        let ranges: Vec<(u128, u128)> = starting
            .iter()
            .filter_map(|lease| self.hash_ranges.get(&lease.shard_id).copied())
            .collect();
        let since = since - readback::CLOCK_MARGIN_MS;
        let decided = self
            .rt
            .block_on(readback::decided_since(client, config, since))?;
        let key = crate::state::keys::key;
        let ours: Vec<(u64, u64)> = decided
            .iter()
            .filter(|(_, customer)| {
                let hash = shards::partition_hash(customer);
                ranges
                    .iter()
                    .any(|(low, high)| (*low..=*high).contains(&hash))
            })
            .map(|(transaction, customer)| (key(transaction), key(customer)))
            .collect();
        tracing::info!(
            marked = ours.len(),
            "decisions since the last checkpoints read back"
        );
        state.decided_elsewhere().note(ours);
        Ok(())
    }

    /// The customers of the snapshot at the lease's checkpoint, put into
    /// state. A shard without one yet (new after a split) inherits its
    /// parents' customers that this replica does not hold.
    fn restore(&self, lease: &leases::Lease) -> Result<HashSet<u64>, String> {
        let Some((store, state)) = &self.snapshots else {
            return Ok(HashSet::new());
        };
        if let Some(key) = &lease.snapshot {
            let snapshot = self.rt.block_on(store.load(key))?;
            return Ok(snapshot.restore(state).into_iter().collect());
        }
        let mut inherited = HashSet::new();
        let parent_snapshots = lease
            .parents
            .iter()
            .filter_map(|parent| self.leases.get(parent)?.snapshot.clone());
        for key in parent_snapshots {
            let mut snapshot = self.rt.block_on(store.load(&key))?;
            snapshot
                .customers
                .retain(|(customer, _)| state.customer(*customer).is_none());
            inherited.extend(snapshot.restore(state));
        }
        Ok(inherited)
    }

    /// False from the moment the renewer finds the shard's lease taken
    /// (another replica reads it from the checkpoint on, so reading on here
    /// would decide its records twice; upkeep then stops the reader), and
    /// while the lease waits to be handed over at the next checkpoint.
    fn still_held(&self, shard: &str) -> bool {
        let renewed = self
            .renewer
            .as_ref()
            .is_none_or(|renewer| renewer.counter(shard).is_some());
        renewed && !self.handing_off.contains_key(shard)
    }

    /// A shard is read once each parent is finished, or gone from the table.
    fn parents_done(&self, reader: &ShardReader) -> bool {
        reader.parents.iter().all(|parent| {
            self.leases.get(parent).is_none_or(leases::Lease::finished)
                && self.readers.get(parent).is_none_or(|r| r.finished)
        })
    }

    /// Polls every reader that is due; true if any returned records.
    fn poll_ready(&mut self, router: &mut Router) -> Result<bool, SourceError> {
        let now = Instant::now();
        let due: Vec<String> = self
            .readers
            .iter()
            .filter(|(_, reader)| !reader.finished && reader.next_poll <= now)
            .filter(|(shard, _)| self.still_held(shard))
            .filter(|(_, reader)| self.parents_done(reader))
            .map(|(shard, _)| shard.clone())
            .collect();
        let mut polled = false;
        for shard in due {
            let Some(reader) = self.readers.get_mut(&shard) else {
                continue;
            };
            let context = reader::PollContext {
                client: &self.client,
                rt: &self.rt,
                stream_name: &self.config.stream_name,
                codec: &self.codec,
                stream: self.config.stream,
                max_records: self.config.max_records,
                poll_interval: self.config.poll_interval.as_std(),
                fan_out: self.fan_out.as_deref(),
            };
            let read = reader.poll(&context, router)?;
            self.records += read;
            polled |= read > 0;
        }
        router.flush()?;
        Ok(polled)
    }

    /// Waits until everything read is decided and written, then records it.
    fn checkpoint(&mut self, router: &mut Router) -> Result<(), SourceError> {
        let barrier = router.barrier()?;
        if !barrier.wait(Duration::from_secs(120)) {
            tracing::warn!("outputs did not confirm within 120 s; checkpoint skipped");
            return Ok(());
        }
        let mut ended = Vec::new();
        for (shard, reader) in &mut self.readers {
            let Some(position) = reader.checkpoint_due() else {
                continue;
            };
            let snapshot = match snapshot_at(&self.snapshots, &self.rt, shard, reader, &position) {
                Ok(snapshot) => snapshot,
                Err(error) => {
                    // A checkpoint without its snapshot would restore stale windows.
                    tracing::warn!(%shard, %error, "snapshot failed; checkpoint retried next time");
                    continue;
                }
            };
            let saved = match &self.table {
                Some(table) => {
                    let written = table.checkpoint(shard, &position, snapshot.as_deref());
                    match self.rt.block_on(written) {
                        Ok(saved) => saved,
                        Err(error) => {
                            tracing::warn!(%shard, %error, "checkpoint failed; retried next time");
                            continue;
                        }
                    }
                }
                None => true,
            };
            if !saved {
                continue; // the lease went elsewhere; upkeep stops this reader
            }
            reader.checkpointed(&position);
            if let Some(lease) = self.leases.get_mut(shard) {
                lease.checkpoint = position.clone();
                let superseded = match snapshot {
                    Some(key) => lease.snapshot.replace(key),
                    None => None,
                };
                if let (Some(old), Some((store, _))) = (superseded, &self.snapshots) {
                    self.rt.block_on(store.delete(&old));
                }
            }
            if position == SHARD_END {
                ended.push(shard.clone());
            }
        }
        for shard in ended {
            tracing::info!(%shard, "shard read to its end");
            router.telemetry().shard_lag.remove(router.source(), &shard);
        }
        self.hand_over(router);
        Ok(())
    }

    /// Gives each lease asked for, once checkpointed where its reading
    /// stopped, to the replica that asked; that one reads on from there.
    fn hand_over(&mut self, router: &Router) {
        let Some(table) = &self.table else {
            return;
        };
        let checkpointed = |shard: &String| {
            self.readers
                .get(shard)
                .is_none_or(|reader| reader.checkpoint_due().is_none())
        };
        let ready: Vec<(String, String)> = self
            .handing_off
            .iter()
            .filter(|(shard, _)| checkpointed(shard))
            .map(|(shard, to)| (shard.clone(), to.clone()))
            .collect();
        for (shard, to) in ready {
            match self.rt.block_on(table.hand_off(&shard, &to)) {
                Ok(true) => tracing::info!(%shard, %to, "lease handed over"),
                Ok(false) => tracing::info!(%shard, %to, "lease no longer ours to hand over"),
                Err(error) => {
                    tracing::warn!(%shard, %error, "lease not handed over; retrying");
                    continue;
                }
            }
            self.handing_off.remove(&shard);
            self.readers.remove(&shard);
            if let Some(renewer) = &self.renewer {
                renewer.forget(&shard);
            }
            router.telemetry().shard_lag.remove(router.source(), &shard);
        }
    }

    fn release_all(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.stop();
        }
        let Some(table) = &self.table else {
            return;
        };
        for shard in self.readers.keys() {
            if let Err(error) = self.rt.block_on(table.release(shard)) {
                tracing::warn!(%shard, %error, "cannot release lease; it will expire");
            }
        }
    }
}

/// Brings the scanned leases and the renewer into line: the renewer keeps
/// the ones this replica holds, a lease it found taken reads as lost, and
/// one the table says is ours that nothing renews yet (held before a
/// restart under the same worker id) is adopted.
fn track_held(
    renewer: &Renewer,
    seen: &mut [leases::Lease],
    me: &str,
    readers: &BTreeMap<String, ShardReader>,
) {
    for lease in seen {
        let ours = lease.owner == me && !lease.finished();
        match (ours, renewer.counter(&lease.shard_id)) {
            (true, Some(counter)) => lease.counter = counter,
            (true, None) if readers.contains_key(&lease.shard_id) => lease.owner.clear(),
            (true, None) => renewer.hold(&lease.shard_id, lease.counter),
            (false, Some(_)) => renewer.forget(&lease.shard_id),
            (false, None) => {}
        }
    }
}

/// The shard's snapshot at `position`, written to S3 (when snapshots are on).
fn snapshot_at(
    snapshots: &Option<(SnapshotStore, Arc<StateStore>)>,
    rt: &tokio::runtime::Runtime,
    shard: &str,
    reader: &mut ShardReader,
    position: &str,
) -> Result<Option<String>, String> {
    let Some((store, state)) = snapshots else {
        return Ok(None);
    };
    let snapshot = ShardSnapshot::take(position, &mut reader.customers, state);
    rt.block_on(store.save(shard, &snapshot)).map(Some)
}

#[cfg(test)]
mod tests {
    use crate::sources::SourceConfig;
    use crate::topology::Topology;
    use std::path::Path;

    #[test]
    fn the_shipped_kinesis_topology_loads_with_its_defaults() {
        let text = include_str!("../../../topologies/kinesis.yaml");
        let topology = Topology::parse_with(text, Path::new("kinesis.yaml"), |_| None).unwrap();
        let SourceConfig::Kinesis(source) = &topology.sources["transactions"] else {
            panic!("not a kinesis source");
        };
        assert_eq!(source.stream_name, "transactions");
        let leases = source.leases.as_ref().unwrap();
        assert_eq!(leases.table, "fraud-detector-leases");
        assert!(
            !leases.worker_id().is_empty(),
            "an empty worker id falls back"
        );
    }

    #[test]
    fn every_bad_setting_is_reported_with_its_key() {
        let text = "sources:
  tx:
    type: kinesis
    stream_name: tx
    max_records: 0
    checkpoint_interval: 20s
    aws: {endpoint: 'localhost:4567'}
    leases: {table: t, lease_duration: 10s}
sinks:
  decisions: {type: kinesis, stream_name: '', max_attempts: 0}
  dead_letters: {type: stdout}
";
        let error = Topology::parse_with(text, Path::new("t.yaml"), |_| None).unwrap_err();
        let keys: Vec<&str> = error.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sources.tx.aws.endpoint",
                "sources.tx.max_records",
                "sources.tx.checkpoint_interval",
                "sinks.decisions.stream_name",
                "sinks.decisions.max_attempts",
            ],
            "{error}"
        );
    }
}
