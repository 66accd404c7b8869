//! Per-shard state snapshots in S3, written with each checkpoint, so that the
//! replica that takes a lease over restores the windows of the shard's
//! customers before it reads on.
//!
//! A snapshot is taken while the source waits at its checkpoint: every
//! record read before it is decided and written, and nothing after it is
//! read yet, so it holds the shard's customers exactly as of the checkpoint.
//! Each is a new object named by its position; the lease's checkpoint write
//! names it, so a checkpoint and its snapshot change together (a crash
//! between the two leaves the previous pair). Customer state only, as the
//! Kafka changelog: device, terminal and label state stay with the replica
//! that built them.

use crate::aws::{describe, AwsSettings};
use crate::state::{CustomerState, StateStore};
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

const VERSION: u8 = 1;

/// `snapshots:` in a Kinesis source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    pub bucket: String,
    /// Key prefix; objects are `<prefix><stream>/<shard>/<sequence>.state`.
    #[serde(default)]
    pub prefix: String,
    /// Region and endpoint for S3 (default: the standard AWS chain).
    #[serde(default)]
    pub aws: AwsSettings,
}

impl SnapshotConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.aws.problems();
        if self.bucket.trim().is_empty() {
            problems.push("bucket: must not be empty".into());
        }
        problems
    }
}

/// One shard's customers as of `sequence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSnapshot {
    pub sequence: String,
    pub customers: Vec<(u64, CustomerState)>,
}

impl ShardSnapshot {
    /// The customers in `keys` that state still holds; the others (expired)
    /// leave `keys`.
    pub fn take(sequence: &str, keys: &mut HashSet<u64>, state: &StateStore) -> ShardSnapshot {
        let mut customers = Vec::with_capacity(keys.len());
        keys.retain(|key| match state.customer(*key) {
            Some(customer) => {
                customers.push((*key, (**customer).clone()));
                true
            }
            None => false,
        });
        ShardSnapshot {
            sequence: sequence.to_owned(),
            customers,
        }
    }

    /// Puts the customers into state; returns their keys.
    pub fn restore(self, state: &StateStore) -> Vec<u64> {
        self.customers
            .into_iter()
            .map(|(key, customer)| {
                **state.customer_mut(key) = customer;
                key
            })
            .collect()
    }

    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let mut out = vec![VERSION];
        bincode::serialize_into(&mut out, self).map_err(|error| error.to_string())?;
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<ShardSnapshot, String> {
        match bytes.split_first() {
            Some((&VERSION, body)) => bincode::deserialize(body).map_err(|error| error.to_string()),
            Some((version, _)) => Err(format!("snapshot version {version} is not {VERSION}")),
            None => Err("empty snapshot".into()),
        }
    }
}

pub struct SnapshotStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl SnapshotStore {
    pub async fn connect(config: &SnapshotConfig, stream: &str) -> SnapshotStore {
        SnapshotStore {
            client: config.aws.s3().await,
            bucket: config.bucket.clone(),
            prefix: format!("{}{stream}/", config.prefix),
        }
    }

    /// A new object for each position: the lease names the one that counts.
    fn key(&self, shard: &str, sequence: &str) -> String {
        format!("{}{shard}/{sequence}.state", self.prefix)
    }

    /// Writes the snapshot; returns its key, for the checkpoint.
    pub async fn save(&self, shard: &str, snapshot: &ShardSnapshot) -> Result<String, String> {
        let key = self.key(shard, &snapshot.sequence);
        let body = snapshot.encode()?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(describe)?;
        Ok(key)
    }

    pub async fn load(&self, key: &str) -> Result<ShardSnapshot, String> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|error| format!("{key}: {}", describe(error)))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|error| format!("{key}: {error}"))?
            .into_bytes();
        ShardSnapshot::decode(&bytes).map_err(|error| format!("{key}: {error}"))
    }

    /// Drops a snapshot no checkpoint names any more (best effort: a left-over
    /// object costs storage, not correctness).
    pub async fn delete(&self, key: &str) {
        let deleted = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        if let Err(error) = deleted {
            tracing::debug!(key, error = %describe(error), "old snapshot not deleted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_round_trips_and_refuses_another_version() {
        let snapshot = ShardSnapshot {
            sequence: "42".into(),
            customers: vec![(7, CustomerState::default())],
        };
        let bytes = snapshot.encode().unwrap();
        assert_eq!(ShardSnapshot::decode(&bytes).unwrap(), snapshot);
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(ShardSnapshot::decode(&other)
            .unwrap_err()
            .contains("version 9"));
        assert!(ShardSnapshot::decode(&[]).is_err());
    }
}
