//! The register Lambda: builds its clients once, then serves invocations.

mod handler;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use unload_core::contract::State;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = unload_core::aws::load_config().await;
    let clients = handler::Clients::new(&config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let clients = &clients;
        async move { handler::handle(&State::from_value(event.payload)?, clients).await }
    }))
    .await
}
