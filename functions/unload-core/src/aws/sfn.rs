//! Step Functions: the batch workflow looks its children up (DescribeExecution) by their
//! deterministic names under the unload workflow; the complete function wakes a waiting
//! execution (SendTaskSuccess).

use super::describe;
use crate::error::{Result, UnloadError};
use crate::execution_names::{attempt_name, execution_arn, Status, MAX_ATTEMPTS};
use aws_sdk_sfn::Client;

/// One child execution as DescribeExecution tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub arn: String,
    pub status: Status,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The output JSON text (SUCCEEDED only).
    pub output: Option<String>,
}

/// The unload workflow's executions.
pub struct Executions {
    client: Client,
    state_machine_arn: String,
}

impl Executions {
    pub fn new(client: Client, state_machine_arn: String) -> Self {
        Self {
            client,
            state_machine_arn,
        }
    }

    /// The execution called `name`, or None when there is none.
    pub async fn describe(&self, name: &str) -> Result<Option<Execution>> {
        let arn = execution_arn(&self.state_machine_arn, name).ok_or_else(|| {
            UnloadError::ConfigurationError(format!(
                "{:?} is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)",
                self.state_machine_arn
            ))
        })?;
        match self
            .client
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
        {
            Ok(out) => Ok(Some(Execution {
                arn,
                status: Status::from_name(out.status().as_str()),
                error: out.error().map(str::to_string),
                cause: out.cause().map(str::to_string),
                output: out.output().map(str::to_string),
            })),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()) =>
            {
                Ok(None)
            }
            Err(err) => Err(UnloadError::StepFunctionsError(describe(
                &format!("Step Functions DescribeExecution {name}"),
                &err,
            ))),
        }
    }

    /// The statuses of `base`'s attempts (`base`, `base-a2`, ...), up to the first that does not exist.
    pub async fn attempts(&self, base: &str) -> Result<Vec<Status>> {
        let mut statuses = Vec::new();
        for attempt in 1..=MAX_ATTEMPTS {
            match self.describe(&attempt_name(base, attempt)).await? {
                Some(execution) => statuses.push(execution.status),
                None => return Ok(statuses),
            }
        }
        Err(UnloadError::InvalidRequest(format!(
            "{base} has been tried {MAX_ATTEMPTS} times; find out why it fails before starting it again"
        )))
    }
}

/// What SendTaskSuccess did with a task token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskAnswer {
    /// The waiting task completed with the output.
    Delivered,
    /// The token can complete nothing any more: its error code (TaskDoesNotExist, TaskTimedOut,
    /// InvalidToken). The task already ended: completed by an earlier event, timed out into the
    /// poll, or its execution is gone.
    Closed(&'static str),
}

/// The SendTaskSuccess error codes that mean the token is spent (Step Functions API reference,
/// SendTaskSuccess, Errors).
pub const CLOSED_TASK_CODES: [&str; 3] = ["TaskDoesNotExist", "TaskTimedOut", "InvalidToken"];

/// Completes the task waiting on `token` with `output` (JSON text). A spent token is an answer,
/// not an error; anything else (throttling, 5xx, network, output refused) is StepFunctionsError.
/// The token never appears in the error's message.
pub async fn send_task_success(client: &Client, token: &str, output: &str) -> Result<TaskAnswer> {
    match client
        .send_task_success()
        .task_token(token)
        .output(output)
        .send()
        .await
    {
        Ok(_) => Ok(TaskAnswer::Delivered),
        Err(err) => {
            let code = err.as_service_error().and_then(|e| {
                if e.is_task_does_not_exist() {
                    Some(CLOSED_TASK_CODES[0])
                } else if e.is_task_timed_out() {
                    Some(CLOSED_TASK_CODES[1])
                } else if e.is_invalid_token() {
                    Some(CLOSED_TASK_CODES[2])
                } else {
                    None
                }
            });
            match code {
                Some(code) => Ok(TaskAnswer::Closed(code)),
                None => Err(UnloadError::StepFunctionsError(
                    describe("Step Functions SendTaskSuccess", &err).replace(token, "<task token>"),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::operation::describe_execution::{
        DescribeExecutionError, DescribeExecutionOutput,
    };
    use aws_sdk_sfn::primitives::DateTime;
    use aws_sdk_sfn::types::error::ExecutionDoesNotExist;
    use aws_sdk_sfn::types::ExecutionStatus;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:s-unload";

    fn described(status: ExecutionStatus) -> DescribeExecutionOutput {
        DescribeExecutionOutput::builder()
            .execution_arn("x")
            .state_machine_arn(MACHINE)
            .status(status)
            .start_date(DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn attempts_are_looked_up_until_the_first_missing_name() {
        let first = mock!(Client::describe_execution)
            .match_requests(|r| {
                r.execution_arn()
                    == Some(
                        "arn:aws:states:us-east-1:123456789012:execution:s-unload:t-2026-12-01-b",
                    )
            })
            .then_output(|| described(ExecutionStatus::Failed));
        let second = mock!(Client::describe_execution)
            .match_requests(|r| {
                r.execution_arn()
                    .is_some_and(|a| a.ends_with(":t-2026-12-01-b-a2"))
            })
            .then_output(|| described(ExecutionStatus::Succeeded));
        let missing = mock!(Client::describe_execution).then_error(|| {
            DescribeExecutionError::ExecutionDoesNotExist(
                ExecutionDoesNotExist::builder().message("no").build(),
            )
        });
        let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&first, &second, &missing]);
        let executions = Executions::new(client, MACHINE.into());
        assert_eq!(
            executions.attempts("t-2026-12-01-b").await.unwrap(),
            vec![Status::Failed, Status::Succeeded]
        );
        assert_eq!(missing.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_throttled_lookup_is_a_step_functions_error() {
        let throttled = mock!(Client::describe_execution).then_error(|| {
            DescribeExecutionError::generic(
                aws_sdk_sfn::error::ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&throttled]);
        let err = Executions::new(client, MACHINE.into())
            .describe("n")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "StepFunctionsError");
        assert!(err.to_string().contains("Rate exceeded"), "{err}");
    }
}
