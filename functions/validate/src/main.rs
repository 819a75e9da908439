//! The validate Lambda: reads its defaults once, then serves invocations.

mod handler;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let defaults = handler::Settings::from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let result = handler::handle(&event.payload, &defaults, chrono::Utc::now());
        async move { result }
    }))
    .await
}
