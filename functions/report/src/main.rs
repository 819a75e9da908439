//! The report Lambda: builds its clients and reads its settings once, then serves invocations.

mod handler;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::time::{Duration, Instant};
use unload_core::aws::engines::Engines;

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
    let s3 = unload_core::aws::s3_client(&config);
    let cloudwatch = unload_core::aws::cloudwatch::publisher_client(&config);
    let engines = Engines::new(&config, unload_core::run_args::SourceKind::Redshift);
    let settings = handler::Settings::from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (s3, cloudwatch, engines) = (&s3, &cloudwatch, &engines);
        let namespace = settings.namespace.as_str();
        async move {
            let left = time_left(event.context.deadline);
            // The engine of the request, to stop a run still going; report must report even when
            // the unload engine's settings are broken, so it falls back to Glue's (which then
            // finds no such run).
            let state = handler::lenient_state(event.payload.clone());
            let engine = engines
                .for_state(&state)
                .unwrap_or_else(|_| engines.glue())
                .observing();
            let clients = handler::Clients {
                s3: s3.clone(),
                cloudwatch: cloudwatch.clone(),
                engine,
            };
            handler::handle(
                event.payload,
                &clients,
                namespace,
                chrono::Utc::now().timestamp(),
                Instant::now() + left,
            )
            .await
        }
    }))
    .await
}
