//! Thin adapters over the AWS SDK: each call maps SDK errors onto the stable kinds and converts
//! SDK types into the domain's plain structs. No decisions are taken here.

pub mod catalog;
pub mod cloudwatch;
pub mod engines;
pub mod glue;
pub mod redshift_data;
pub mod s3;
pub mod sfn;

use aws_sdk_glue::error::{DisplayErrorContext, ProvideErrorMetadata};

/// The shared SDK configuration: default credential chain and region, and the standard
/// AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> variables (how the local stack is reached).
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// Error codes that mean "slow down" (Glue answers ThrottlingException; the SDKs' standard retry
/// treats the others the same way): the state machine backs off and retries them.
const THROTTLING_CODES: [&str; 3] = [
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
];

fn is_throttling(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

/// The service's error code, if the error came from the service.
fn error_code<E: ProvideErrorMetadata>(err: &E) -> &str {
    err.code().unwrap_or("")
}

/// A one-line description of an SDK error with its causes (no request data, so no secrets).
fn describe<E: std::error::Error>(operation: &str, err: &E) -> String {
    format!("{operation} failed: {}", DisplayErrorContext(err))
}

/// The Glue and S3 clients ensure-job and register use.
pub struct GlueAndS3 {
    pub glue: aws_sdk_glue::Client,
    pub s3: aws_sdk_s3::Client,
}

impl GlueAndS3 {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            glue: aws_sdk_glue::Client::new(config),
            s3: s3_client(config),
        }
    }
}

/// An S3 client. With an endpoint override (a local S3, MinIO) requests are path-style, since
/// `bucket.127.0.0.1` does not resolve; against AWS the SDK's default addressing is kept.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let overridden = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(overridden)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
