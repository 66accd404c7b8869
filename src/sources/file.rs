//! A local file: JSON lines, or an Avro object container file.

use super::lines::{max_record_bytes_problems, read_json_lines};
use super::{Source, SourceError, SourceReport, Stream};
use crate::codecs::{Codec, CodecKind, ContainerReader};
use crate::domain::{Label, Transaction};
use crate::runtime::{Router, Shutdown};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    pub path: PathBuf,
    /// `json` (one record per line) or `avro` (an object container file).
    #[serde(default)]
    pub codec: CodecKind,
    /// Transactions or labels.
    #[serde(default)]
    pub stream: Stream,
    /// Longer lines are dead-lettered.
    #[serde(default = "super::lines::default_max_record_bytes")]
    pub max_record_bytes: usize,
}

impl FileSourceConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self.codec.file_problem().into_iter().collect();
        problems.extend(max_record_bytes_problems(self.max_record_bytes));
        if let Err(error) = File::open(&self.path) {
            problems.push(format!(
                "path: cannot open {}: {error}",
                self.path.display()
            ));
        }
        problems
    }

    pub(super) fn build(&self) -> Result<FileSource, SourceError> {
        let file = File::open(&self.path).map_err(|error| SourceError::Io {
            source_name: self.path.display().to_string(),
            what: "the file".into(),
            detail: error.to_string(),
        })?;
        Ok(FileSource {
            config: self.clone(),
            file,
        })
    }
}

pub struct FileSource {
    config: FileSourceConfig,
    file: File,
}

impl Source for FileSource {
    fn run(
        self: Box<Self>,
        router: &mut Router,
        shutdown: &Shutdown,
    ) -> Result<SourceReport, SourceError> {
        let mut reader = BufReader::with_capacity(1 << 16, self.file);
        let config = self.config;
        match config.codec {
            CodecKind::Avro => match config.stream {
                Stream::Transactions => read_container::<Transaction>(reader, router, shutdown),
                Stream::Labels => read_container::<Label>(reader, router, shutdown),
            },
            _ => {
                let codec = Codec::new(CodecKind::Json);
                read_json_lines(
                    &mut reader,
                    router,
                    shutdown,
                    (&codec, config.stream, config.max_record_bytes),
                )
            }
        }
    }
}

/// Container records are already typed; a bad one is dead-lettered with its
/// record number, the payload being what could be shown of it.
fn read_container<T: ContainerRecord>(
    reader: BufReader<File>,
    router: &mut Router,
    shutdown: &Shutdown,
) -> Result<SourceReport, SourceError> {
    let mut report = SourceReport::default();
    let records = ContainerReader::<T, _>::new(reader).map_err(|error| SourceError::Io {
        source_name: router.source().to_owned(),
        what: "the Avro container header".into(),
        detail: error.to_string(),
    })?;
    for (index, record) in records.enumerate() {
        if shutdown.is_triggered() {
            break;
        }
        let position = format!("record {}", index + 1);
        match record {
            Ok(value) => value.route(router, position)?,
            Err(error) => {
                router.reject(T::IS_LABEL, position, error.kind(), error.to_string(), &[])?
            }
        }
        report.records += 1;
    }
    router.flush()?;
    Ok(report)
}

trait ContainerRecord: crate::codecs::Record {
    const IS_LABEL: bool;
    fn route(self, router: &mut Router, position: String) -> Result<(), crate::runtime::Closed>;
}

impl ContainerRecord for Transaction {
    const IS_LABEL: bool = false;
    fn route(self, router: &mut Router, position: String) -> Result<(), crate::runtime::Closed> {
        match self.validate() {
            Ok(()) => {
                router.transaction(self, crate::domain::now_millis(), std::time::Instant::now())
            }
            Err(error) => {
                let payload = serde_json::to_vec(&self).unwrap_or_default();
                router.reject(
                    false,
                    position,
                    crate::domain::RejectKind::Validation,
                    error.to_string(),
                    &payload,
                )
            }
        }
    }
}

impl ContainerRecord for Label {
    const IS_LABEL: bool = true;
    fn route(self, router: &mut Router, _position: String) -> Result<(), crate::runtime::Closed> {
        router.label(self)
    }
}
