//! The report Lambda: builds its clients and reads its settings once, then serves invocations.

mod handler;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::time::{Duration, Instant};
use unload_core::aws::glue::GlueEngine;

/// The time left in this invocation. Lambda's deadline is epoch milliseconds; `cargo lambda
/// watch` sends a fixed 600,000 instead (its emulator's timeout, relative), which is read as such.
fn time_left(deadline_ms: u64) -> Duration {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    if deadline_ms < YEAR_2001_MS {
        return Duration::from_millis(deadline_ms);
    }
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = unload_core::aws::load_config().await;
    let clients = handler::Clients {
        s3: unload_core::aws::s3_client(&config),
        cloudwatch: unload_core::aws::cloudwatch::publisher_client(&config),
        engine: GlueEngine::new(aws_sdk_glue::Client::new(&config)),
    };
    let settings = handler::Settings::from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (clients, namespace) = (&clients, settings.namespace.as_str());
        async move {
            let left = time_left(event.context.deadline);
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
