//! The case archive: each closed case's folder (case, transcript, report)
//! copied to S3 under `<prefix><case id>/`, so cases outlive the task or pod
//! whose disk holds the case store. Written before the escalated decision is
//! emitted: a decision that names a case names an archived one, unless the
//! upload failed, which is logged with the case id.

use crate::aws::{describe, AwsSettings};
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tokio::sync::OnceCell;

/// `agent.tools.case_archive:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseArchiveConfig {
    pub bucket: String,
    /// Key prefix; a case's files are `<prefix><case id>/<file>`.
    #[serde(default)]
    pub prefix: String,
    /// Region and endpoint for S3 (default: the standard AWS chain).
    #[serde(default)]
    pub aws: AwsSettings,
}

pub struct CaseArchive {
    config: CaseArchiveConfig,
    client: OnceCell<aws_sdk_s3::Client>,
}

impl CaseArchive {
    pub fn new(config: CaseArchiveConfig) -> CaseArchive {
        CaseArchive {
            config,
            client: OnceCell::new(),
        }
    }

    /// Copies every file of the case's folder; returns how many.
    pub async fn upload(&self, folder: &Path, case_id: &str) -> Result<usize, String> {
        let client = self
            .client
            .get_or_init(|| async { self.config.aws.s3().await })
            .await;
        let entries =
            std::fs::read_dir(folder).map_err(|error| format!("{}: {error}", folder.display()))?;
        let mut uploaded = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                continue; // a write in progress: its rename brings the file
            }
            let body = std::fs::read(entry.path()).map_err(|error| format!("{name}: {error}"))?;
            client
                .put_object()
                .bucket(&self.config.bucket)
                .key(format!("{}{case_id}/{name}", self.config.prefix))
                .content_type(content_type(&name))
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|error| format!("{name}: {}", describe(error)))?;
            uploaded += 1;
        }
        Ok(uploaded)
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("json") => "application/json",
        Some("md") => "text/markdown; charset=utf-8",
        _ => "application/octet-stream",
    }
}
