//! Reading back the decisions a shard's previous owner wrote after its last
//! checkpoint. A replica killed between writing decisions and checkpointing
//! them leaves those records to be read again; the replica that takes the
//! lease over reads the decisions stream from shortly before that checkpoint
//! and marks each transaction found there as decided elsewhere, so the
//! workers fold it into state without deciding it a second time.

use super::shards::{self, StartAt};
use crate::aws::AwsSettings;
use crate::codecs::{Codec, CodecKind};
use crate::domain::Decision;
use serde::{Deserialize, Serialize};

/// How far before a checkpoint's time decisions are read back: clocks of
/// replicas and Kinesis's arrival timestamps differ by this much at most.
pub const CLOCK_MARGIN_MS: i64 = 10_000;

/// `decisions_readback:` in a Kinesis source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadbackConfig {
    /// The Kinesis stream the topology writes its decisions to.
    pub stream_name: String,
    /// Its codec (the decisions sink's).
    #[serde(default)]
    pub codec: CodecKind,
    /// Region and endpoint (default: the standard AWS chain).
    #[serde(default)]
    pub aws: AwsSettings,
}

impl ReadbackConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.aws.problems();
        if self.stream_name.trim().is_empty() {
            problems.push("stream_name: must not be empty".into());
        }
        problems
    }
}

/// (transaction_id, customer_id) of every decision that arrived on the
/// stream at or after `since` (epoch ms), up to its newest record.
pub async fn decided_since(
    client: &aws_sdk_kinesis::Client,
    config: &ReadbackConfig,
    since: i64,
) -> Result<Vec<(String, String)>, String> {
    let codec = Codec::new(config.codec);
    let mut decided = Vec::new();
    for shard in shards::list_shards(client, &config.stream_name).await? {
        let start = StartAt::AtTimestamp(since);
        let mut iterator = shards::iterator(client, &config.stream_name, &shard.shard_id, &start)
            .await
            .map_err(|error| format!("{}: {error:?}", shard.shard_id))?;
        loop {
            let page = shards::fetch(client, &iterator, 10_000)
                .await
                .map_err(|error| format!("{}: {error:?}", shard.shard_id))?;
            for record in &page.records {
                // A record that is not a decision is not ours to skip.
                if let Ok(decision) = codec.decode::<Decision>(record.data().as_ref()) {
                    decided.push((decision.transaction_id.into(), decision.customer_id.into()));
                }
            }
            let at_tip = page.records.is_empty() && page.millis_behind_latest.unwrap_or(0) == 0;
            match page.next_iterator {
                Some(next) if !at_tip => iterator = next,
                _ => break,
            }
        }
    }
    Ok(decided)
}
