//! JSON lines on standard output, for pipes and `score`.

use super::{BoxFuture, RecordBatch, Sink, SinkError, SinkReport};
use serde::{Deserialize, Serialize};
use std::io::Write;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {}

pub struct StdoutSink;

impl Sink for StdoutSink {
    fn run(
        self: Box<Self>,
        mut input: mpsc::Receiver<RecordBatch>,
    ) -> BoxFuture<Result<SinkReport, SinkError>> {
        Box::pin(async move {
            let mut report = SinkReport::default();
            while let Some(batch) = input.recv().await {
                let written = tokio::task::spawn_blocking(move || write_lines(&batch))
                    .await
                    .map_err(|error| error.to_string())
                    .and_then(|result| result.map_err(|error| error.to_string()))
                    .map_err(|detail| SinkError::Io {
                        sink: "stdout".into(),
                        detail,
                    })?;
                report.records += written.0;
                report.bytes += written.1;
            }
            Ok(report)
        })
    }
}

fn write_lines(batch: &RecordBatch) -> std::io::Result<(u64, u64)> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut bytes = 0;
    for record in batch {
        out.write_all(&record.payload)?;
        out.write_all(b"\n")?;
        bytes += record.payload.len() as u64 + 1;
    }
    out.flush()?;
    Ok((batch.len() as u64, bytes))
}
