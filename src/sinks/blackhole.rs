//! Counts records and drops them: measures the pipeline without I/O.

use super::{BoxFuture, RecordBatch, Sink, SinkError, SinkReport};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlackholeSinkConfig {}

pub struct BlackholeSink;

impl Sink for BlackholeSink {
    fn run(
        self: Box<Self>,
        mut input: mpsc::Receiver<RecordBatch>,
    ) -> BoxFuture<Result<SinkReport, SinkError>> {
        Box::pin(async move {
            let mut report = SinkReport::default();
            while let Some(batch) = input.recv().await {
                report.records += batch.len() as u64;
                report.bytes += batch
                    .iter()
                    .map(|record| record.payload.len() as u64)
                    .sum::<u64>();
            }
            Ok(report)
        })
    }
}
