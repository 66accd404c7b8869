//! How far behind the tip of its stream each shard's reader is (Kinesis
//! MillisBehindLatest). One series per shard a replica reads: bounded by
//! the stream's shard count, and removed when the replica lets a shard go.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct ShardLag {
    millis: Mutex<BTreeMap<(String, String), i64>>,
}

impl ShardLag {
    pub fn set(&self, source: &str, shard: &str, millis_behind: i64) {
        if let Ok(mut map) = self.millis.lock() {
            map.insert((source.to_owned(), shard.to_owned()), millis_behind);
        }
    }

    pub fn remove(&self, source: &str, shard: &str) {
        if let Ok(mut map) = self.millis.lock() {
            map.remove(&(source.to_owned(), shard.to_owned()));
        }
    }

    pub fn snapshot(&self) -> Vec<((String, String), i64)> {
        self.millis
            .lock()
            .map(|map| {
                map.iter()
                    .map(|(key, value)| (key.clone(), *value))
                    .collect()
            })
            .unwrap_or_default()
    }
}
