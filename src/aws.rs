//! AWS clients from the standard chain: credentials from the environment,
//! profile, web identity (IRSA on EKS) or the ECS task role; endpoints from
//! `AWS_ENDPOINT_URL_<SERVICE>` or, when a topology names one, from there.
//! Also what every caller of these services shares: error text and backoff.

use aws_sdk_kinesis::error::{DisplayErrorContext, SdkError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where a component's AWS calls go. Both fields fall back to the standard chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// Region (default: `AWS_REGION`, the profile, or IMDS).
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint URL for this service (default: `AWS_ENDPOINT_URL_<SERVICE>`, then AWS).
    #[serde(default)]
    pub endpoint: Option<String>,
}

impl AwsSettings {
    /// Problems keyed as they stand in a component's `aws:` section.
    pub fn problems(&self) -> Vec<String> {
        match &self.endpoint {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                vec![format!("aws.endpoint: `{url}` is not an http(s) URL")]
            }
            _ => Vec::new(),
        }
    }

    async fn shared(&self) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        loader.load().await
    }

    pub async fn kinesis(&self) -> aws_sdk_kinesis::Client {
        let shared = self.shared().await;
        let mut config = aws_sdk_kinesis::config::Builder::from(&shared);
        if let Some(endpoint) = &self.endpoint {
            config = config.endpoint_url(endpoint);
        }
        aws_sdk_kinesis::Client::from_conf(config.build())
    }

    /// Path-style addressing whenever the endpoint is not AWS's own: local
    /// servers (moto, MinIO) have no per-bucket host names.
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let shared = self.shared().await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared);
        if let Some(endpoint) = &self.endpoint {
            config = config.endpoint_url(endpoint);
        }
        let custom_endpoint = self.endpoint.is_some()
            || ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
                .iter()
                .any(|name| std::env::var_os(name).is_some());
        aws_sdk_s3::Client::from_conf(config.force_path_style(custom_endpoint).build())
    }

    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let shared = self.shared().await;
        let mut config = aws_sdk_dynamodb::config::Builder::from(&shared);
        if let Some(endpoint) = &self.endpoint {
            config = config.endpoint_url(endpoint);
        }
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }
}

/// A current-thread runtime for a source thread's SDK calls: the source
/// routes records with blocking sends, which must happen outside `block_on`.
pub fn source_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// An SDK error with its whole chain of causes, for logs and error messages.
pub fn describe<E, R>(error: SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DisplayErrorContext(error).to_string()
}

/// Exponential backoff with jitter, 50 ms doubling to 5 s.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: Duration::from_millis(50),
        }
    }
}

impl Backoff {
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(5));
        let jitter = rand::random::<u64>() % (delay.as_millis() as u64 / 2 + 1);
        delay + Duration::from_millis(jitter)
    }

    pub fn reset(&mut self) {
        *self = Backoff::default();
    }
}
