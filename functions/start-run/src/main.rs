//! The start-run Lambda: builds the Glue client once, then serves invocations.

mod handler;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use unload_core::contract::State;
use unload_core::polling::PollPolicy;
use unload_core::run_args::SourceKind;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = unload_core::aws::load_config().await;
    let glue = aws_sdk_glue::Client::new(&config);
    // A bad environment is reported on every invocation as ConfigurationError, not as a crash.
    let settings = SourceKind::from_lookup(|k| std::env::var(k).ok()).and_then(|source| {
        Ok(handler::Settings {
            source,
            policy: PollPolicy::from_env()?,
        })
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (glue, settings) = (&glue, &settings);
        async move {
            let settings = settings.as_ref().map_err(Clone::clone)?;
            handler::handle(
                &State::from_value(event.payload)?,
                glue,
                settings,
                chrono::Utc::now().timestamp(),
            )
            .await
        }
    }))
    .await
}
