//! A Kinesis Data Streams sink: PutRecords in batches within the service's
//! limits (500 records, 5 MiB), partitioned by customer id, failed entries
//! retried with backoff. A record over 1 MiB cannot be put at all: it
//! becomes a dead letter saying so.

use super::{BoxFuture, Delivery, Record, RecordBatch, Sink, SinkError, SinkReport};
use crate::aws::{describe, AwsSettings, Backoff};
use crate::codecs::CodecKind;
use crate::domain::{DeadLetter, RejectKind};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::mpsc;

/// PutRecords takes at most this many entries...
pub const MAX_BATCH_RECORDS: usize = 500;
/// ...and this many bytes of data and partition keys.
pub const MAX_BATCH_BYTES: usize = 5 * 1024 * 1024;
/// One record's data and partition key together.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Partition keys are 1 to 256 Unicode characters.
const MAX_KEY_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KinesisSinkConfig {
    /// The stream to put records on.
    pub stream_name: String,
    /// `json`, `avro` (a bare datum) or `confluent_avro`.
    #[serde(default)]
    pub codec: CodecKind,
    /// Region and endpoint (default: the standard AWS chain).
    #[serde(default)]
    pub aws: AwsSettings,
    /// Where records too large for Kinesis go as dead letters (default: this stream).
    #[serde(default)]
    pub dead_letter_stream: Option<String>,
    /// Attempts per batch (throttling, partial failures) before the sink fails.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_max_attempts() -> u32 {
    20
}

impl KinesisSinkConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.aws.problems();
        if self.stream_name.trim().is_empty() {
            problems.push("stream_name: must not be empty".into());
        }
        if self.max_attempts == 0 {
            problems.push("max_attempts: must be at least 1".into());
        }
        problems
    }

    pub(super) fn build(&self) -> Box<dyn Sink> {
        Box::new(KinesisSink {
            config: self.clone(),
        })
    }
}

struct KinesisSink {
    config: KinesisSinkConfig,
}

impl Sink for KinesisSink {
    fn run(
        self: Box<Self>,
        input: mpsc::Receiver<RecordBatch>,
    ) -> BoxFuture<Result<SinkReport, SinkError>> {
        self.run_counted(input, Arc::default())
    }

    /// A batch counts as written once PutRecords has accepted all of it.
    fn run_counted(
        self: Box<Self>,
        mut input: mpsc::Receiver<RecordBatch>,
        delivery: Arc<Delivery>,
    ) -> BoxFuture<Result<SinkReport, SinkError>> {
        Box::pin(async move {
            let config = self.config;
            let client = config.aws.kinesis().await;
            let main = Putter::new(client.clone(), &config.stream_name, config.max_attempts);
            let oversize_stream = config
                .dead_letter_stream
                .as_deref()
                .unwrap_or(&config.stream_name);
            let oversize = Putter::new(client, oversize_stream, config.max_attempts);
            let mut report = SinkReport::default();
            while let Some(batch) = input.recv().await {
                let records = batch.len();
                let (fits, too_big) = split_oversize(batch, &config.stream_name);
                report.records += fits.len() as u64;
                report.bytes += fits.iter().map(|r| r.payload.len() as u64).sum::<u64>();
                main.put_all(fits).await?;
                if !too_big.is_empty() {
                    oversize.put_all(too_big).await?;
                }
                delivery.wrote(records);
            }
            Ok(report)
        })
    }
}

/// Records Kinesis accepts, and dead letters (as JSON) for those it would refuse.
pub fn split_oversize(batch: RecordBatch, stream: &str) -> (RecordBatch, RecordBatch) {
    let (fits, too_big): (Vec<Record>, Vec<Record>) = batch
        .into_iter()
        .partition(|record| entry_size(record) <= MAX_RECORD_BYTES);
    let letters = too_big
        .into_iter()
        .map(|record| {
            let size = entry_size(&record);
            let letter = DeadLetter::new(
                &format!("kinesis:{stream}"),
                format!("output record for key {}", partition_key(&record.key)),
                RejectKind::Oversize,
                format!("record of {size} bytes exceeds Kinesis's {MAX_RECORD_BYTES}-byte limit"),
                &record.payload,
            );
            Record {
                key: record.key,
                payload: serde_json::to_vec(&letter).unwrap_or_default(),
            }
        })
        .collect();
    (fits, letters)
}

fn entry_size(record: &Record) -> usize {
    record.payload.len() + partition_key(&record.key).len()
}

/// The customer id, made a valid partition key.
fn partition_key(key: &str) -> &str {
    if key.is_empty() {
        return "-";
    }
    match key.char_indices().nth(MAX_KEY_CHARS) {
        Some((end, _)) => &key[..end],
        None => key,
    }
}

/// Cuts records into PutRecords calls, in order, each within the limits.
pub fn batches(records: RecordBatch) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for record in records {
        let size = entry_size(&record);
        if current.len() == MAX_BATCH_RECORDS || bytes + size > MAX_BATCH_BYTES {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(record);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Puts records on one stream, retrying what Kinesis refused.
pub struct Putter {
    client: aws_sdk_kinesis::Client,
    stream: String,
    max_attempts: u32,
}

impl Putter {
    pub fn new(client: aws_sdk_kinesis::Client, stream: &str, max_attempts: u32) -> Putter {
        Putter {
            client,
            stream: stream.to_owned(),
            max_attempts: max_attempts.max(1),
        }
    }

    /// Puts every record (each ≤ 1 MiB) or fails after `max_attempts` per batch.
    pub async fn put_all(&self, records: RecordBatch) -> Result<(), SinkError> {
        for batch in batches(records) {
            self.put_batch(batch).await?;
        }
        Ok(())
    }

    async fn put_batch(&self, batch: RecordBatch) -> Result<(), SinkError> {
        let mut pending: Vec<PutRecordsRequestEntry> = batch
            .into_iter()
            .map(|record| entry(&record))
            .collect::<Result<_, _>>()
            .map_err(|detail| self.error(detail))?;
        let mut backoff = Backoff::default();
        for attempt in 1..=self.max_attempts {
            match self.try_put(&pending).await {
                Ok(failed) if failed.is_empty() => return Ok(()),
                Ok(failed) => {
                    tracing::debug!(stream = %self.stream, failed = failed.len(), "partial PutRecords failure; retrying those");
                    pending = failed
                        .into_iter()
                        .map(|index| pending[index].clone())
                        .collect();
                }
                Err(detail) if attempt == self.max_attempts => return Err(self.error(detail)),
                Err(detail) => {
                    tracing::warn!(stream = %self.stream, %detail, "PutRecords failed; retrying")
                }
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
        Err(self.error(format!(
            "{} records still refused after {} attempts",
            pending.len(),
            self.max_attempts
        )))
    }

    /// Indexes of the entries Kinesis refused (throttled or failed inside).
    async fn try_put(&self, entries: &[PutRecordsRequestEntry]) -> Result<Vec<usize>, String> {
        let output = self
            .client
            .put_records()
            .stream_name(&self.stream)
            .set_records(Some(entries.to_vec()))
            .send()
            .await
            .map_err(describe)?;
        Ok(output
            .records()
            .iter()
            .enumerate()
            .filter(|(_, result)| result.error_code().is_some())
            .map(|(index, _)| index)
            .collect())
    }

    fn error(&self, detail: String) -> SinkError {
        SinkError::Io {
            sink: format!("kinesis:{}", self.stream),
            detail,
        }
    }
}

fn entry(record: &Record) -> Result<PutRecordsRequestEntry, String> {
    PutRecordsRequestEntry::builder()
        .partition_key(partition_key(&record.key))
        .data(Blob::new(record.payload.clone()))
        .build()
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, size: usize) -> Record {
        Record {
            key: key.into(),
            payload: vec![b'x'; size],
        }
    }

    #[test]
    fn batches_stay_within_500_records_and_5_mib_in_order() {
        let many: Vec<Record> = (0..1_201).map(|i| record(&format!("c{i}"), 10)).collect();
        let cut = batches(many);
        assert_eq!(
            cut.iter().map(Vec::len).collect::<Vec<_>>(),
            [500, 500, 201]
        );
        assert_eq!(cut[1][0].key, "c500");

        let big: Vec<Record> = (0..12).map(|_| record("k", 1_000_000)).collect();
        let cut = batches(big);
        assert!(cut
            .iter()
            .all(|batch| batch.iter().map(entry_size).sum::<usize>() <= MAX_BATCH_BYTES));
        assert_eq!(cut.iter().map(Vec::len).sum::<usize>(), 12);
        assert_eq!(cut[0].len(), 5);
    }

    #[test]
    fn records_over_one_mib_become_dead_letters_with_the_reason() {
        let batch = vec![
            record("a", 10),
            record("b", MAX_RECORD_BYTES),
            record("c", 5),
        ];
        let (fits, letters) = split_oversize(batch, "decisions");
        assert_eq!(
            fits.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        let letter: DeadLetter = serde_json::from_slice(&letters[0].payload).unwrap();
        assert_eq!(letter.kind, RejectKind::Oversize);
        assert!(letter.reason.contains("1048577 bytes"), "{}", letter.reason);
        assert_eq!(letter.payload_len, MAX_RECORD_BYTES as i64);
    }

    #[test]
    fn partition_keys_are_never_empty_nor_too_long() {
        assert_eq!(partition_key(""), "-");
        let long = "é".repeat(300);
        assert_eq!(partition_key(&long).chars().count(), 256);
    }
}
