//! CloudWatch: PutMetricData, at most once per call.
//!
//! PutMetricData has no idempotency token, and CloudWatch adds up every datum it receives, so a
//! repeated call counts an unload twice. The publisher client therefore never retries on its own
//! and gives up within `PUBLISH_TIMEOUT`; an error CloudWatch answered (nothing was recorded) is
//! MetricsPublishFailed, which the state machine may retry; no answer at all (the data may have
//! been recorded) is MetricsPublishUncertain, which it does not.

use super::describe;
use crate::error::{Result, UnloadError};
use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::error::SdkError;
use aws_sdk_cloudwatch::types::MetricDatum;
use aws_sdk_cloudwatch::Client;
use std::time::Duration;

/// The longest one PutMetricData may take, connection included.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// A CloudWatch client that sends each call once and gives up after PUBLISH_TIMEOUT.
pub fn publisher_client(config: &aws_config::SdkConfig) -> Client {
    let conf = aws_sdk_cloudwatch::config::Builder::from(config)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_timeout(PUBLISH_TIMEOUT)
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

/// PutMetricData takes at most 1000 datums per call; ours are a handful, sent in one call.
pub async fn put_metrics(client: &Client, namespace: &str, data: Vec<MetricDatum>) -> Result<()> {
    client
        .put_metric_data()
        .namespace(namespace)
        .set_metric_data(Some(data))
        .send()
        .await
        .map(|_| ())
        .map_err(|err| {
            let text = describe(&format!("CloudWatch PutMetricData ({namespace})"), &err);
            match err {
                // CloudWatch answered with an error, or the request was never built: not recorded.
                SdkError::ServiceError(_) | SdkError::ConstructionFailure(_) => {
                    UnloadError::MetricsPublishFailed(text)
                }
                _ => UnloadError::MetricsPublishUncertain(format!(
                    "{text}; the metrics may or may not have been recorded, so they are not sent again"
                )),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_answer_is_uncertain_and_sent_once() {
        // Nothing listens on this loopback port: the call gets no answer from CloudWatch.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let config = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_cloudwatch::config::SharedCredentialsProvider::new(
                aws_sdk_cloudwatch::config::Credentials::new("test", "test", None, None, "test"),
            ))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let client = publisher_client(&config);
        let err = put_metrics(&client, "N", vec![]).await.unwrap_err();
        assert_eq!(err.kind(), "MetricsPublishUncertain", "{err}");
    }
}
