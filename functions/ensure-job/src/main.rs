//! The ensure-job Lambda: builds the Glue and S3 clients once, then serves invocations.

mod handler;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use unload_core::contract::State;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = unload_core::aws::load_config().await;
    let clients = handler::Clients::new(&config);
    // A bad environment is reported on every invocation as ConfigurationError, not as a crash.
    let settings = handler::Settings::from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (clients, settings) = (&clients, &settings);
        async move {
            let settings = settings.as_ref().map_err(Clone::clone)?;
            handler::handle(&State::from_value(event.payload)?, clients, settings).await
        }
    }))
    .await
}
