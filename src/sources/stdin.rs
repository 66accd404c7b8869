//! JSON lines on standard input.

use super::lines::{max_record_bytes_problems, read_json_lines};
use super::{Source, SourceError, SourceReport, Stream};
use crate::codecs::{Codec, CodecKind};
use crate::runtime::{Router, Shutdown};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinSourceConfig {
    /// Transactions or labels.
    #[serde(default)]
    pub stream: Stream,
    /// Longer lines are dead-lettered.
    #[serde(default = "super::lines::default_max_record_bytes")]
    pub max_record_bytes: usize,
}

impl StdinSourceConfig {
    pub fn problems(&self) -> Vec<String> {
        max_record_bytes_problems(self.max_record_bytes)
    }

    pub(super) fn build(&self) -> StdinSource {
        StdinSource {
            config: self.clone(),
        }
    }
}

pub struct StdinSource {
    config: StdinSourceConfig,
}

impl Source for StdinSource {
    fn run(
        self: Box<Self>,
        router: &mut Router,
        shutdown: &Shutdown,
    ) -> Result<SourceReport, SourceError> {
        let codec = Codec::new(CodecKind::Json);
        let mut reader = std::io::BufReader::with_capacity(1 << 16, std::io::stdin());
        read_json_lines(
            &mut reader,
            router,
            shutdown,
            (&codec, self.config.stream, self.config.max_record_bytes),
        )
    }
}
