//! The start-run Lambda: builds both engines' clients once, then serves invocations.

mod handler;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use unload_core::aws::engines::Engines;
use unload_core::contract::State;
use unload_core::run_args::SourceKind;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = unload_core::aws::load_config().await;
    // A bad environment is reported on every invocation as ConfigurationError, not as a crash.
    let settings = handler::Settings::from_env();
    let source = settings.as_ref().map_or(SourceKind::Redshift, |s| s.source);
    let engines = Engines::new(&config, source);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (engines, settings) = (&engines, &settings);
        async move {
            let settings = settings.as_ref().map_err(Clone::clone)?;
            let state = State::from_value(event.payload)?;
            // Clients are shared (a clone shares the connection pool): building costs nothing.
            let engine = engines.for_state(&state)?;
            handler::handle(&state, &engine, settings, chrono::Utc::now().timestamp()).await
        }
    }))
    .await
}
