//! summarize: the plan and the Map's results → each child's outcome (from the child itself,
//! DescribeExecution), the batch summary, its metrics, and whether the failures are tolerated.

use serde::Deserialize;
use serde_json::{json, Value};
use unload_core::aws::sfn::{Execution, Executions};
use unload_core::batch::{summarize, ChildOutcome, ItemAction, ItemError, Plan};
use unload_core::execution_names::Status;
use unload_core::metrics::{DEFAULT_NAMESPACE, NAMESPACE_ENV};
use unload_core::{Result, UnloadError};

pub const STATE_MACHINE_ENV: &str = "UNLOAD_STATE_MACHINE_ARN";

pub struct Settings {
    pub state_machine_arn: String,
    pub namespace: String,
}

impl Settings {
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let text = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Ok(Self {
            state_machine_arn: text(STATE_MACHINE_ENV).ok_or_else(|| {
                UnloadError::ConfigurationError(format!(
                    "{STATE_MACHINE_ENV} is not set (the unload workflow's ARN)"
                ))
            })?,
            namespace: text(NAMESPACE_ENV).unwrap_or_else(|| DEFAULT_NAMESPACE.to_string()),
        })
    }

    pub fn executions(&self, client: aws_sdk_sfn::Client) -> Executions {
        Executions::new(client, self.state_machine_arn.clone())
    }
}

pub struct Clients {
    pub executions: Executions,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

/// The batch state summarize is given: `{"input": ..., "plan": ..., "results": [...]}`.
#[derive(Deserialize)]
struct Event {
    plan: Plan,
    results: Vec<IterationResult>,
}

/// One Map iteration's output (docs/CONTRACT.md, "Map iteration results").
#[derive(Deserialize)]
struct IterationResult {
    index: usize,
    status: String,
    error: Option<String>,
    cause: Option<String>,
}

pub async fn handle(
    event: Value,
    settings: &Settings,
    clients: &Clients,
    timestamp_secs: i64,
) -> Result<Value> {
    let event: Event = serde_json::from_value(event).map_err(|e| {
        UnloadError::InvalidState(format!("summarize needs the plan and the results: {e}"))
    })?;
    let mut outcomes = Vec::with_capacity(event.plan.items.len());
    for item in &event.plan.items {
        let result = event.results.iter().find(|r| r.index == item.index);
        let outcome = match (item.action, result) {
            (ItemAction::Invalid, _) => {
                ChildOutcome::Invalid(item.error.clone().unwrap_or(ItemError {
                    error: "InvalidRequest".into(),
                    cause: "the entry was refused".into(),
                }))
            }
            (ItemAction::Skip, _) => ChildOutcome::Skipped,
            (_, Some(r)) if r.status == "NOT_STARTED" => ChildOutcome::NotStarted(ItemError {
                error: r.error.clone().unwrap_or_default(),
                cause: r.cause.clone().unwrap_or_default(),
            }),
            (_, None) => {
                return Err(UnloadError::InvalidState(format!(
                    "the Map returned no result for item {}",
                    item.index
                )))
            }
            (_, Some(_)) => {
                let name = item.name.as_deref().unwrap_or_default();
                child_outcome(name, clients.executions.describe(name).await?)
            }
        };
        outcomes.push(outcome);
    }
    let summary = summarize(&event.plan, &outcomes);
    unload_core::aws::cloudwatch::put_metrics(
        &clients.cloudwatch,
        &settings.namespace,
        &summary.datums(),
        timestamp_secs,
    )
    .await?;
    tracing::info!(batch = %summary.name, succeeded = summary.succeeded, failed = summary.failed,
        skipped = summary.skipped, rows = summary.rows, tolerated = summary.tolerated, "{}", summary.message);
    Ok(json!({"cause": summary.cause(), "summary": summary}))
}

/// What the child says of itself: rows from its output's report, or its own Error and Cause.
fn child_outcome(name: &str, execution: Option<Execution>) -> ChildOutcome {
    let Some(execution) = execution else {
        return ChildOutcome::NotStarted(ItemError {
            error: "ExecutionDoesNotExist".into(),
            cause: format!("the child execution {name} does not exist"),
        });
    };
    match execution.status {
        Status::Succeeded => ChildOutcome::Succeeded {
            rows: execution
                .output
                .as_deref()
                .and_then(|o| serde_json::from_str::<Value>(o).ok())
                .and_then(|o| o.pointer("/report/rows").and_then(Value::as_u64)),
            execution_arn: execution.arn,
        },
        status => ChildOutcome::Failed {
            error: execution.error.unwrap_or_else(|| status.name().to_string()),
            cause: execution.cause.unwrap_or_else(|| {
                format!("the execution ended {} without a cause", status.name())
            }),
            execution_arn: execution.arn,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
    use aws_sdk_sfn::primitives::DateTime as SfnTime;
    use aws_sdk_sfn::types::ExecutionStatus;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:s-unload";

    fn item(index: usize, table: &str, action: &str) -> Value {
        json!({"index": index, "table": table, "scope": "2026-12-01", "action": action,
               "name": format!("{}-2026-12-01-b", table.replace('.', "-")), "input": {}, "error": null})
    }

    fn event(tolerance: Value) -> Value {
        json!({
            "input": {"Name": "b", "Tables": [{}, {}, {}]},
            "plan": {"name": "b", "day": "2026-12-01", "tolerance": tolerance, "counts": {"items": 3, "start": 3, "follow": 0, "skip": 0, "invalid": 0},
                     "items": [item(0, "demo.orders", "start"), item(1, "demo.customer", "start"), item(2, "demo.missing", "start")]},
            "results": [{"index": 0, "status": "RAN"}, {"index": 1, "status": "RAN"}, {"index": 2, "status": "RAN"}]
        })
    }

    fn clients() -> (Clients, aws_smithy_mocks::Rule) {
        let child = |status: ExecutionStatus, output: Option<&str>, error: Option<&str>| {
            DescribeExecutionOutput::builder()
                .execution_arn("x")
                .state_machine_arn(MACHINE)
                .status(status)
                .start_date(SfnTime::from_secs(0))
                .set_output(output.map(str::to_string))
                .set_error(error.map(str::to_string))
                .set_cause(error.map(|_| "relation \"demo.missing\" does not exist".to_string()))
                .build()
                .unwrap()
        };
        let ok = mock!(aws_sdk_sfn::Client::describe_execution)
            .match_requests(|r| !r.execution_arn().unwrap().contains("missing"))
            .then_output(move || {
                child(
                    ExecutionStatus::Succeeded,
                    Some(r#"{"report": {"rows": 100}}"#),
                    None,
                )
            });
        let failed = mock!(aws_sdk_sfn::Client::describe_execution).then_output(move || {
            child(ExecutionStatus::Failed, None, Some("UnloadStatementFailed"))
        });
        let put = mock!(aws_sdk_cloudwatch::Client::put_metric_data)
            .match_requests(|r| r.namespace() == Some("RedshiftUnload"))
            .then_output(|| PutMetricDataOutput::builder().build());
        let clients = Clients {
            executions: Executions::new(
                mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&ok, &failed]),
                MACHINE.into(),
            ),
            cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&put]),
        };
        (clients, put)
    }

    fn settings() -> Settings {
        Settings::from_lookup(|n| (n == STATE_MACHINE_ENV).then(|| MACHINE.to_string())).unwrap()
    }

    #[tokio::test]
    async fn two_of_three_succeeded_is_one_failure_with_the_childs_own_error() {
        let (clients, put) = clients();
        let out = handle(
            event(json!({"count": null, "percentage": null})),
            &settings(),
            &clients,
            0,
        )
        .await
        .unwrap();
        let summary = &out["summary"];
        assert_eq!(
            (
                summary["succeeded"].as_u64(),
                summary["failed"].as_u64(),
                summary["rows"].as_u64()
            ),
            (Some(2), Some(1), Some(200))
        );
        assert_eq!(summary["failures"][0]["error"], "UnloadStatementFailed");
        assert!(summary["failures"][0]["cause"]
            .as_str()
            .unwrap()
            .contains("does not exist"));
        assert_eq!(summary["tolerated"], false);
        let cause: Value = serde_json::from_str(out["cause"].as_str().unwrap()).unwrap();
        assert_eq!(&cause, summary);
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_tolerated_failure_lets_the_batch_succeed() {
        let (clients, _) = clients();
        let out = handle(
            event(json!({"count": 1, "percentage": null})),
            &settings(),
            &clients,
            0,
        )
        .await
        .unwrap();
        assert_eq!(out["summary"]["tolerated"], true);
    }

    #[tokio::test]
    async fn a_start_that_failed_is_reported_with_the_start_error() {
        let (clients, _) = clients();
        let mut event = event(json!({"count": null, "percentage": null}));
        event["results"][2] = json!({"index": 2, "status": "NOT_STARTED", "error": "StepFunctions.ExecutionLimitExceededException", "cause": "limit"});
        let out = handle(event, &settings(), &clients, 0).await.unwrap();
        assert_eq!(
            out["summary"]["failures"][0]["error"],
            "StepFunctions.ExecutionLimitExceededException"
        );
        assert_eq!(out["summary"]["failures"][0]["execution_arn"], Value::Null);
    }
}
