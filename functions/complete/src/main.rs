//! The complete Lambda (the unload workflow's wait, fast path): builds its clients and reads its
//! settings once, then serves the completion events EventBridge hands it.

mod handler;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = unload_core::aws::load_config().await;
    let clients = handler::Clients {
        s3: unload_core::aws::s3_client(&config),
        sfn: aws_sdk_sfn::Client::new(&config),
    };
    // A bad environment is reported on every invocation as ConfigurationError, not as a crash.
    let settings = handler::Settings::from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (clients, settings) = (&clients, &settings);
        async move {
            let settings = settings.as_ref().map_err(Clone::clone)?;
            handler::handle(event.payload, settings, clients, tokio::time::sleep).await
        }
    }))
    .await
}
