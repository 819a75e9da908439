//! CloudWatch: PutMetricData.

use super::describe;
use crate::error::{Result, UnloadError};
use aws_sdk_cloudwatch::types::MetricDatum;
use aws_sdk_cloudwatch::Client;

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
            UnloadError::MetricsPublishFailed(describe(
                &format!("CloudWatch PutMetricData ({namespace})"),
                &err,
            ))
        })
}
