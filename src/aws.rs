//! AWS clients from the standard chain: credentials from the environment,
//! profile, web identity (IRSA on EKS) or the ECS task role; endpoints from
//! `AWS_ENDPOINT_URL_<SERVICE>` or, when a topology names one, from there.

use serde::{Deserialize, Serialize};

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
    pub fn problems(&self) -> Vec<String> {
        match &self.endpoint {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                vec![format!("endpoint: `{url}` is not an http(s) URL")]
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
