//! One shard's reader: its iterator, how far it has read, and how far that
//! is checkpointed. Throttling backs off; an expired iterator is re-positioned
//! after the last record read, so nothing is skipped or read twice.

use super::fanout::{self, Pushed, Subscription};
use super::kpl;
use super::leases::SHARD_END;
use super::shards::{self, FetchError, Fetched, StartAt};
use super::Stream;
use crate::aws::Backoff;
use crate::codecs::Codec;
use crate::domain::RejectKind;
use crate::runtime::Router;
use crate::sources::{ingest, SourceError};
use std::collections::HashSet;
use std::time::{Duration, Instant};

pub struct ShardReader {
    shard_id: String,
    pub parents: Vec<String>,
    start: StartAt,
    iterator: Option<String>,
    /// Sequence number of the last record routed.
    last_read: Option<String>,
    checkpointed: Option<String>,
    /// Read to the end of a closed shard (its parents' children may start).
    pub finished: bool,
    pub next_poll: Instant,
    backoff: Backoff,
    /// The customers whose transactions came from this shard: its snapshot.
    pub customers: HashSet<u64>,
    /// The open subscription, with enhanced fan-out.
    subscription: Option<Subscription>,
    /// The shard list says it takes no new records.
    pub closed: bool,
}

/// What a poll needs from the source.
pub struct PollContext<'a> {
    pub client: &'a aws_sdk_kinesis::Client,
    pub rt: &'a tokio::runtime::Runtime,
    pub stream_name: &'a str,
    pub codec: &'a Codec,
    pub stream: Stream,
    pub max_records: i32,
    pub poll_interval: Duration,
    /// The registered consumer's ARN when reading with enhanced fan-out.
    pub fan_out: Option<&'a str>,
}

impl ShardReader {
    pub fn new(shard_id: &str, parents: Vec<String>, start: StartAt) -> ShardReader {
        ShardReader {
            shard_id: shard_id.to_owned(),
            parents,
            start,
            iterator: None,
            last_read: None,
            checkpointed: None,
            finished: false,
            next_poll: Instant::now(),
            backoff: Backoff::default(),
            customers: HashSet::new(),
            subscription: None,
            closed: false,
        }
    }

    /// One GetRecords call, or one event of the shard's subscription; routes
    /// what it brings. Returns the records read.
    pub fn poll(&mut self, context: &PollContext, router: &mut Router) -> Result<u64, SourceError> {
        let fetched = match context.fan_out {
            Some(consumer_arn) => self.pushed(context, consumer_arn),
            None => self.pulled(context),
        };
        match fetched {
            Some(fetched) => self.take(fetched, context, router),
            None => Ok(0),
        }
    }

    /// A GetRecords page, or `None` after a failure (handled).
    fn pulled(&mut self, context: &PollContext) -> Option<Fetched> {
        let iterator = match self.iterator.take() {
            Some(iterator) => iterator,
            None => match context.rt.block_on(shards::iterator(
                context.client,
                context.stream_name,
                &self.shard_id,
                &self.position(),
            )) {
                Ok(iterator) => iterator,
                Err(error) => {
                    self.failed(error);
                    return None;
                }
            },
        };
        match context.rt.block_on(shards::fetch(
            context.client,
            &iterator,
            context.max_records,
        )) {
            Ok(fetched) => Some(fetched),
            Err(error) => {
                // Keep the iterator unless it expired: a throttled call may be retried with it.
                if !matches!(error, FetchError::Expired) {
                    self.iterator = Some(iterator);
                }
                self.failed(error);
                None
            }
        }
    }

    /// The subscription's next event (subscribing first if needed), or
    /// `None` when there is none yet or after a failure (handled).
    fn pushed(&mut self, context: &PollContext, consumer_arn: &str) -> Option<Fetched> {
        if self.subscription.is_none() {
            let start = self.position();
            let subscribing =
                fanout::subscribe(context.client, consumer_arn, &self.shard_id, &start);
            match context.rt.block_on(subscribing) {
                Ok(subscription) => self.subscription = Some(subscription),
                Err(error) => {
                    self.failed(error);
                    return None;
                }
            }
        }
        let subscription = self.subscription.as_mut()?;
        let wait = Duration::from_millis(20);
        match context.rt.block_on(subscription.next(wait)) {
            Ok(Pushed::Page(mut fetched)) => {
                // Kinesis ends a closed shard's subscription with its children;
                // an emulator may only go quiet: caught up on a closed shard is its end.
                let caught_up =
                    fetched.records.is_empty() && fetched.millis_behind_latest == Some(0);
                if self.closed && caught_up {
                    fetched.next_iterator = None;
                }
                Some(fetched)
            }
            Ok(Pushed::Quiet) => {
                self.next_poll = Instant::now() + context.poll_interval.min(wait * 5);
                None
            }
            Ok(Pushed::Ended) => {
                self.subscription = None;
                None
            }
            Err(error) => {
                self.subscription = None;
                self.failed(error);
                None
            }
        }
    }

    /// Routes a page's records and moves on.
    fn take(
        &mut self,
        fetched: Fetched,
        context: &PollContext,
        router: &mut Router,
    ) -> Result<u64, SourceError> {
        self.backoff.reset();
        let read = fetched.records.len() as u64;
        for record in &fetched.records {
            self.route(record, context, router)?;
            self.last_read = Some(record.sequence_number().to_owned());
        }
        if let Some(millis) = fetched.millis_behind_latest {
            router
                .telemetry()
                .shard_lag
                .set(router.source(), &self.shard_id, millis);
        }
        match fetched.next_iterator {
            // A subscription's pages carry no iterator, only whether the shard goes on.
            Some(next) if context.fan_out.is_none() => self.iterator = Some(next),
            Some(_) => {}
            None => {
                self.finished = true;
                self.subscription = None;
            }
        }
        let full = read >= context.max_records as u64;
        self.next_poll = Instant::now()
            + if full {
                Duration::ZERO
            } else {
                context.poll_interval
            };
        Ok(read)
    }

    fn route(
        &mut self,
        record: &aws_sdk_kinesis::types::Record,
        context: &PollContext,
        router: &mut Router,
    ) -> Result<(), SourceError> {
        let data = record.data().as_ref();
        let sequence = record.sequence_number();
        let is_labels = context.stream == Stream::Labels;
        match kpl::deaggregate(data) {
            Ok(parts) => {
                for (index, part) in parts.iter().enumerate() {
                    let shard = &self.shard_id;
                    let customer = ingest(router, context.codec, context.stream, part, || {
                        format!("shard {shard} sequence {sequence} record {index}")
                    })?;
                    self.customers.extend(customer);
                }
            }
            Err(error) => router.reject(
                is_labels,
                format!("shard {} sequence {sequence}", self.shard_id),
                RejectKind::Decode,
                error.to_string(),
                data,
            )?,
        }
        Ok(())
    }

    fn failed(&mut self, error: FetchError) {
        let delay = match error {
            FetchError::Expired => {
                tracing::info!(shard = %self.shard_id, "iterator expired; re-positioning");
                Duration::ZERO
            }
            FetchError::Throttled(detail) => {
                tracing::debug!(shard = %self.shard_id, %detail, "throttled; backing off");
                self.backoff.next_delay()
            }
            FetchError::Other(detail) => {
                tracing::warn!(shard = %self.shard_id, %detail, "GetRecords failed; backing off");
                self.backoff.next_delay()
            }
        };
        self.next_poll = Instant::now() + delay;
    }

    /// Where a new iterator starts: after the last record read, else the start.
    fn position(&self) -> StartAt {
        match &self.last_read {
            Some(sequence) => StartAt::After(sequence.clone()),
            None => self.start.clone(),
        }
    }

    /// The checkpoint to write now, if it moved since the last one.
    pub fn checkpoint_due(&self) -> Option<String> {
        let position = if self.finished {
            Some(SHARD_END.to_owned())
        } else {
            self.last_read.clone()
        }?;
        (self.checkpointed.as_deref() != Some(position.as_str())).then_some(position)
    }

    pub fn checkpointed(&mut self, position: &str) {
        self.checkpointed = Some(position.to_owned());
    }
}
