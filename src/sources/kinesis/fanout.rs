//! Enhanced fan-out: a registered stream consumer gets its own read
//! throughput per shard, and records are pushed over SubscribeToShard
//! instead of polled with GetRecords. A subscription lasts five minutes; the
//! reader subscribes again after the last record it routed.

use super::shards::{FetchError, Fetched, StartAt};
use crate::aws::describe;
use aws_sdk_kinesis::primitives::event_stream::EventReceiver;
use aws_sdk_kinesis::types::error::SubscribeToShardEventStreamError;
use aws_sdk_kinesis::types::{
    ConsumerStatus, ShardIteratorType, StartingPosition, SubscribeToShardEventStream,
};
use aws_sdk_kinesis::Client;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// `enhanced_fan_out:` in a Kinesis source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanOutConfig {
    /// The consumer to register (or reuse) on the stream; replicas share it.
    pub consumer_name: String,
}

/// Registers the consumer (or finds it registered) and waits until it is
/// active; returns its ARN.
pub async fn register(client: &Client, stream: &str, consumer: &str) -> Result<String, String> {
    let summary = client
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
        .map_err(describe)?;
    let stream_arn = summary
        .stream_description_summary()
        .map(|summary| summary.stream_arn().to_owned())
        .ok_or_else(|| format!("{stream}: no stream description"))?;
    let registered = client
        .register_stream_consumer()
        .stream_arn(&stream_arn)
        .consumer_name(consumer)
        .send()
        .await;
    if let Err(error) = registered {
        // Registered already (by another replica, or before a restart): reuse it.
        if !error
            .as_service_error()
            .is_some_and(|e| e.is_resource_in_use_exception())
        {
            return Err(describe(error));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let described = client
            .describe_stream_consumer()
            .stream_arn(&stream_arn)
            .consumer_name(consumer)
            .send()
            .await
            .map_err(describe)?;
        if let Some(found) = described.consumer_description() {
            if found.consumer_status() == &ConsumerStatus::Active {
                return Ok(found.consumer_arn().to_owned());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("consumer {consumer} not active after 120 s"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One shard's open subscription.
pub struct Subscription {
    events: EventReceiver<SubscribeToShardEventStream, SubscribeToShardEventStreamError>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Subscription")
    }
}

pub async fn subscribe(
    client: &Client,
    consumer_arn: &str,
    shard_id: &str,
    start: &StartAt,
) -> Result<Subscription, FetchError> {
    let position = match start {
        StartAt::TrimHorizon => StartingPosition::builder().r#type(ShardIteratorType::TrimHorizon),
        StartAt::Latest => StartingPosition::builder().r#type(ShardIteratorType::Latest),
        StartAt::After(sequence) => StartingPosition::builder()
            .r#type(ShardIteratorType::AfterSequenceNumber)
            .sequence_number(sequence),
        StartAt::AtTimestamp(millis) => StartingPosition::builder()
            .r#type(ShardIteratorType::AtTimestamp)
            .timestamp(aws_sdk_kinesis::primitives::DateTime::from_millis(*millis)),
    };
    let position = position
        .build()
        .map_err(|error| FetchError::Other(error.to_string()))?;
    match client
        .subscribe_to_shard()
        .consumer_arn(consumer_arn)
        .shard_id(shard_id)
        .starting_position(position)
        .send()
        .await
    {
        Ok(output) => Ok(Subscription {
            events: output.event_stream,
        }),
        Err(error) => {
            // At most one subscription per shard and consumer, one call per 5 s.
            let busy = error.as_service_error().is_some_and(|e| {
                e.is_limit_exceeded_exception() || e.is_resource_in_use_exception()
            });
            let text = describe(error);
            Err(match busy {
                true => FetchError::Throttled(text),
                false => FetchError::Other(text),
            })
        }
    }
}

/// What the next event brings.
pub enum Pushed {
    /// Records, as a GetRecords page would hold them (no next iterator once
    /// the shard has ended).
    Page(Fetched),
    /// Nothing within the wait.
    Quiet,
    /// The subscription ran out (after five minutes): subscribe again.
    Ended,
}

impl Subscription {
    pub async fn next(&mut self, wait: Duration) -> Result<Pushed, FetchError> {
        let event = match tokio::time::timeout(wait, self.events.recv()).await {
            Err(_) => return Ok(Pushed::Quiet),
            Ok(Err(error)) => return Err(FetchError::Other(describe(error))),
            Ok(Ok(None)) => return Ok(Pushed::Ended),
            Ok(Ok(Some(event))) => event,
        };
        let SubscribeToShardEventStream::SubscribeToShardEvent(event) = event else {
            return Ok(Pushed::Quiet); // an event type this SDK does not know
        };
        // A closed shard's last event has no continuation, only its children.
        let ended = event.continuation_sequence_number.is_empty()
            && event.child_shards.as_ref().is_some_and(|c| !c.is_empty());
        Ok(Pushed::Page(Fetched {
            millis_behind_latest: Some(event.millis_behind_latest),
            next_iterator: (!ended).then(String::new),
            records: event.records,
        }))
    }
}
