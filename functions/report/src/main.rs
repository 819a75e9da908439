//! The report Lambda: builds the S3 and CloudWatch clients once, then serves invocations.

mod handler;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::time::{Duration, Instant};
use unload_core::metrics::{DEFAULT_NAMESPACE, NAMESPACE_ENV};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = unload_core::aws::load_config().await;
    let clients = handler::Clients {
        s3: unload_core::aws::s3_client(&config),
        cloudwatch: unload_core::aws::cloudwatch::publisher_client(&config),
        glue: aws_sdk_glue::Client::new(&config),
    };
    let namespace = std::env::var(NAMESPACE_ENV)
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.into());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (clients, namespace) = (&clients, namespace.as_str());
        async move {
            // The context's deadline is wall-clock milliseconds; turn it into a monotonic Instant.
            let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
            let left = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
            handler::handle(
                event.payload,
                clients,
                namespace,
                chrono::Utc::now().timestamp(),
                Instant::now() + left,
            )
            .await
        }
    }))
    .await
}
