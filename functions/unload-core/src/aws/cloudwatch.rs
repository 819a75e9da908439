//! CloudWatch: PutMetricData, at most once per call.
//!
//! PutMetricData has no idempotency token, and CloudWatch adds up every datum it receives, so a
//! repeated call counts an unload twice. The publisher client therefore never retries on its own
//! and gives up within `PUBLISH_TIMEOUT`; an error CloudWatch answered (nothing was recorded) is
//! MetricsPublishFailed, which the state machine may retry; no answer at all (the data may have
//! been recorded) is MetricsPublishUncertain, which it does not.

use super::describe;
use crate::error::{Result, UnloadError};
use crate::metrics::{Datum, Unit};
use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::error::SdkError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
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

/// The SDK's datum for one of ours, at `timestamp_secs` (seconds since the epoch).
fn metric_datum(datum: &Datum, timestamp_secs: i64) -> MetricDatum {
    let unit = match datum.unit {
        Unit::Count => StandardUnit::Count,
        Unit::Seconds => StandardUnit::Seconds,
        Unit::Bytes => StandardUnit::Bytes,
    };
    MetricDatum::builder()
        .metric_name(datum.name)
        .value(datum.value)
        .unit(unit)
        .timestamp(DateTime::from_secs(timestamp_secs))
        .set_dimensions(
            datum
                .dimension
                .as_ref()
                .map(|(name, value)| vec![Dimension::builder().name(*name).value(value).build()]),
        )
        .build()
}

/// PutMetricData takes at most 1000 datums per call; ours are a handful, sent in one call.
pub async fn put_metrics(
    client: &Client,
    namespace: &str,
    data: &[Datum],
    timestamp_secs: i64,
) -> Result<()> {
    client
        .put_metric_data()
        .namespace(namespace)
        .set_metric_data(Some(
            data.iter()
                .map(|d| metric_datum(d, timestamp_secs))
                .collect(),
        ))
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

    #[test]
    fn a_datum_keeps_its_unit_and_its_table_dimension() {
        let datum = Datum {
            name: "BytesUnloaded",
            value: 9000.0,
            unit: Unit::Bytes,
            dimension: Some(("TableName", "demo.orders".into())),
        };
        let sdk = metric_datum(&datum, 1_700_000_000);
        assert_eq!(sdk.metric_name(), Some("BytesUnloaded"));
        assert_eq!(sdk.value(), Some(9000.0));
        assert_eq!(sdk.unit(), Some(&StandardUnit::Bytes));
        assert_eq!(sdk.timestamp().map(|t| t.secs()), Some(1_700_000_000));
        let dimension = &sdk.dimensions()[0];
        assert_eq!(
            (dimension.name(), dimension.value()),
            (Some("TableName"), Some("demo.orders"))
        );
    }

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
        let err = put_metrics(&client, "N", &[], 0).await.unwrap_err();
        assert_eq!(err.kind(), "MetricsPublishUncertain", "{err}");
    }
}
