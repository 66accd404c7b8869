//! The Kinesis calls a reader makes: list the shards, position an iterator,
//! fetch records. Errors come back classified so the caller knows whether to
//! back off, re-position or give up.

use crate::aws::describe;
use aws_sdk_kinesis::error::SdkError;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_kinesis::Client;

/// A shard as the stream describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub shard_id: String,
    /// One parent after a split, two after a merge.
    pub parents: Vec<String>,
    /// The partition-key hashes (MD5 as a 128-bit number) the shard holds.
    pub hash_range: Option<(u128, u128)>,
    /// Split or merged: it takes no new records.
    pub closed: bool,
}

/// Where Kinesis puts a record with this partition key: its MD5 as a number.
pub fn partition_hash(partition_key: &str) -> u128 {
    use md5::{Digest, Md5};
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// Where reading a shard starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAt {
    TrimHorizon,
    Latest,
    After(String),
    /// The first record that arrived at or after this time (epoch ms).
    AtTimestamp(i64),
}

#[derive(Debug)]
pub enum FetchError {
    /// ProvisionedThroughputExceeded, KMS throttling, or a limit: wait and retry.
    Throttled(String),
    /// The iterator is older than five minutes: get a new one.
    Expired,
    /// Anything else: retried with backoff, reported.
    Other(String),
}

pub struct Fetched {
    pub records: Vec<aws_sdk_kinesis::types::Record>,
    /// `None` once a closed shard has been read to its end.
    pub next_iterator: Option<String>,
    pub millis_behind_latest: Option<i64>,
}

pub async fn list_shards(client: &Client, stream: &str) -> Result<Vec<ShardInfo>, String> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    loop {
        // ListShards takes either the stream name or a continuation token.
        let request = match &token {
            Some(token) => client.list_shards().next_token(token),
            None => client.list_shards().stream_name(stream),
        };
        let output = request.send().await.map_err(describe)?;
        shards.extend(output.shards().iter().map(|shard| {
            ShardInfo {
                shard_id: shard.shard_id().to_owned(),
                parents: shard
                    .parent_shard_id()
                    .into_iter()
                    .chain(shard.adjacent_parent_shard_id())
                    .map(str::to_owned)
                    .collect(),
                closed: shard
                    .sequence_number_range()
                    .is_some_and(|range| range.ending_sequence_number().is_some()),
                hash_range: shard.hash_key_range().and_then(|range| {
                    Some((
                        range.starting_hash_key().parse().ok()?,
                        range.ending_hash_key().parse().ok()?,
                    ))
                }),
            }
        }));
        match output.next_token() {
            Some(next) => token = Some(next.to_owned()),
            None => return Ok(shards),
        }
    }
}

pub async fn iterator(
    client: &Client,
    stream: &str,
    shard_id: &str,
    start: &StartAt,
) -> Result<String, FetchError> {
    let request = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard_id);
    let request = match start {
        StartAt::TrimHorizon => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        StartAt::Latest => request.shard_iterator_type(ShardIteratorType::Latest),
        StartAt::After(sequence) => request
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .starting_sequence_number(sequence),
        StartAt::AtTimestamp(millis) => request
            .shard_iterator_type(ShardIteratorType::AtTimestamp)
            .timestamp(aws_sdk_kinesis::primitives::DateTime::from_millis(*millis)),
    };
    match request.send().await {
        Ok(output) => output
            .shard_iterator()
            .map(str::to_owned)
            .ok_or_else(|| FetchError::Other(format!("no iterator returned for {shard_id}"))),
        Err(error) => {
            let throttled = error
                .as_service_error()
                .is_some_and(|e| e.is_provisioned_throughput_exceeded_exception());
            Err(classify(throttled, false, error))
        }
    }
}

pub async fn fetch(client: &Client, iterator: &str, limit: i32) -> Result<Fetched, FetchError> {
    match client
        .get_records()
        .shard_iterator(iterator)
        .limit(limit)
        .send()
        .await
    {
        Ok(output) => Ok(Fetched {
            millis_behind_latest: output.millis_behind_latest(),
            next_iterator: output.next_shard_iterator().map(str::to_owned),
            records: output.records,
        }),
        Err(error) => {
            let service = error.as_service_error();
            let throttled = service.is_some_and(|e| {
                e.is_provisioned_throughput_exceeded_exception() || e.is_kms_throttling_exception()
            });
            let expired = service.is_some_and(|e| e.is_expired_iterator_exception());
            Err(classify(throttled, expired, error))
        }
    }
}

fn classify<E, R>(throttled: bool, expired: bool, error: SdkError<E, R>) -> FetchError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if expired {
        FetchError::Expired
    } else if throttled {
        FetchError::Throttled(describe(error))
    } else {
        FetchError::Other(describe(error))
    }
}
