//! The summarize Lambda (batch workflow): builds its clients and reads its settings once, then
//! serves invocations.

mod handler;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = unload_core::aws::load_config().await;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let cloudwatch = unload_core::aws::cloudwatch::publisher_client(&config);
    // A bad environment is reported on every invocation as ConfigurationError, not as a crash.
    let settings = handler::Settings::from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (sfn, cloudwatch, settings) = (&sfn, &cloudwatch, &settings);
        async move {
            let settings = settings.as_ref().map_err(Clone::clone)?;
            let clients = handler::Clients {
                executions: settings.executions(sfn.clone()),
                cloudwatch: cloudwatch.clone(),
            };
            handler::handle(
                event.payload,
                settings,
                &clients,
                chrono::Utc::now().timestamp(),
            )
            .await
        }
    }))
    .await
}
