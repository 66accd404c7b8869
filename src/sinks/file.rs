//! A local file sink: JSON lines, or an Avro object container file.

use super::avro_container::ContainerWriter;
use super::{BoxFuture, Output, RecordBatch, Sink, SinkError, SinkReport};
use crate::codecs::CodecKind;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// The file to write; parent directories are created.
    pub path: PathBuf,
    /// `json` writes JSON lines; `avro` writes an Avro object container file.
    #[serde(default)]
    pub codec: CodecKind,
    /// Append to an existing JSON-lines file instead of replacing it.
    #[serde(default)]
    pub append: bool,
}

impl FileSinkConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self.codec.file_problem().into_iter().collect();
        if self.append && self.codec == CodecKind::Avro {
            problems.push(
                "append: an Avro container file cannot be appended to; use json or a new path"
                    .into(),
            );
        }
        problems
    }

    pub(super) fn build(&self, output: Output) -> Result<Box<dyn Sink>, SinkError> {
        let io_error = |error: io::Error| SinkError::Io {
            sink: self.path.display().to_string(),
            detail: error.to_string(),
        };
        if let Some(parent) = self
            .path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            fs::create_dir_all(parent).map_err(io_error)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.path)
            .map_err(io_error)?;
        let out = BufWriter::with_capacity(1 << 16, file);
        let framing = match self.codec {
            CodecKind::Avro => Framing::Container(
                ContainerWriter::new(out, &output.schema_json()).map_err(io_error)?,
            ),
            _ => Framing::Lines(out),
        };
        Ok(Box::new(FileSink {
            name: self.path.display().to_string(),
            framing,
        }))
    }
}

enum Framing {
    Lines(BufWriter<File>),
    Container(ContainerWriter<BufWriter<File>>),
}

impl Framing {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<u64> {
        match self {
            Framing::Lines(out) => {
                let mut bytes = 0;
                for record in batch {
                    out.write_all(&record.payload)?;
                    out.write_all(b"\n")?;
                    bytes += record.payload.len() as u64 + 1;
                }
                Ok(bytes)
            }
            Framing::Container(container) => {
                container.write_block(batch.iter().map(|record| record.payload.as_slice()))
            }
        }
    }

    fn finish(self) -> io::Result<()> {
        let mut out = match self {
            Framing::Lines(out) => out,
            Framing::Container(container) => container.into_inner(),
        };
        out.flush()?;
        out.get_ref().sync_data()
    }
}

struct FileSink {
    name: String,
    framing: Framing,
}

impl Sink for FileSink {
    fn run(
        self: Box<Self>,
        mut input: mpsc::Receiver<RecordBatch>,
    ) -> BoxFuture<Result<SinkReport, SinkError>> {
        Box::pin(async move {
            let FileSink { name, mut framing } = *self;
            let io_error = |detail: String| SinkError::Io {
                sink: name.clone(),
                detail,
            };
            let mut report = SinkReport::default();
            // Writes are small and buffered: blocking in place beats a thread hop per batch.
            while let Some(batch) = input.recv().await {
                let bytes = tokio::task::block_in_place(|| framing.write(&batch))
                    .map_err(|error| io_error(error.to_string()))?;
                report.records += batch.len() as u64;
                report.bytes += bytes;
            }
            tokio::task::block_in_place(|| framing.finish())
                .map_err(|error| io_error(error.to_string()))?;
            Ok(report)
        })
    }
}
