//! A small adapter over aws-sdk-sfn: the calls the commands make, returning plain types, with
//! every SDK error turned into one line (`code: message`, or what failed to reach the endpoint).

use crate::failure::Failure;
use crate::output::Format;
use crate::stack::{Machine, Machines};
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
use aws_sdk_sfn::Client;
use chrono::{DateTime, Utc};

/// Where the AWS calls go: the default chain, with --region and --profile when given.
/// The standard AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_SFN, AWS_ENDPOINT_URL_CLOUDFORMATION)
/// variables point it at a local stack.
pub async fn sdk_config(region: Option<String>, profile: Option<String>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// What the Step Functions commands run against: the client, the state machines (given, or
/// from the stack's outputs when first needed), and the output format.
pub struct Aws {
    pub client: Client,
    pub machines: Machines,
    pub format: Format,
}

impl Aws {
    /// A given unload state machine and no stack (tests).
    #[cfg(test)]
    pub fn with_machine(client: Client, state_machine: Option<&str>, format: Format) -> Self {
        Self {
            client,
            machines: Machines::fixed(state_machine, None),
            format,
        }
    }

    /// The unload workflow, which start, backfill and status cannot do without.
    pub async fn state_machine(&self) -> Result<String, Failure> {
        self.machines.arn(Machine::Unload).await
    }

    /// The batch workflow (backfill --server).
    pub async fn batch_state_machine(&self) -> Result<String, Failure> {
        self.machines.arn(Machine::Batch).await
    }
}

pub use unload_core::execution_names::Status;

/// The SDK's status as the commands reason about it.
fn status_from_sdk(status: &ExecutionStatus) -> Status {
    Status::from_name(status.as_str())
}

/// DescribeExecution's answer.
#[derive(Debug, Clone)]
pub struct Execution {
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub status: Status,
    pub started: DateTime<Utc>,
    pub stopped: Option<DateTime<Utc>>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// The parts of a history event `watch` shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    pub id: i64,
    /// The event before it in the same thread (a Map iteration's events chain to their
    /// MapIterationStarted); 0 for none.
    pub previous: i64,
    pub at: Option<DateTime<Utc>>,
    pub kind: String,
    pub state: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// A task event's service (`states` for a child execution, `lambda`, ...).
    pub resource_type: Option<String>,
    /// A task event's action (`startExecution.sync:2`, `invoke`, ...).
    pub resource: Option<String>,
}

/// StartExecution's outcomes.
pub enum Started {
    /// A new execution, or (same name, same input, still running) the existing one.
    Arn { arn: String, started: DateTime<Utc> },
    /// The name is taken: by a finished execution, or a running one with another input.
    NameTaken,
}

fn time(t: &aws_sdk_sfn::primitives::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default()
}

/// One line for an SDK error: the service's code and message, else the transport's story.
pub(crate) fn one_line<E, R>(what: &str, err: SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    Failure::failed(format!(
        "{what}: {}",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    ))
}

pub async fn start(
    client: &Client,
    state_machine: &str,
    name: &str,
    input: &str,
) -> Result<Started, Failure> {
    match client
        .start_execution()
        .state_machine_arn(state_machine)
        .name(name)
        .input(input)
        .send()
        .await
    {
        Ok(out) => Ok(Started::Arn {
            arn: out.execution_arn,
            started: time(&out.start_date),
        }),
        Err(err)
            if matches!(
                err.as_service_error(),
                Some(StartExecutionError::ExecutionAlreadyExists(_))
            ) =>
        {
            Ok(Started::NameTaken)
        }
        Err(err) => Err(one_line("StartExecution", err)),
    }
}

/// The execution, or None when it does not exist.
pub async fn describe(client: &Client, arn: &str) -> Result<Option<Execution>, Failure> {
    match client.describe_execution().execution_arn(arn).send().await {
        Ok(out) => Ok(Some(Execution {
            name: out
                .name
                .clone()
                .unwrap_or_else(|| arn.rsplit(':').next().unwrap_or(arn).to_string()),
            arn: out.execution_arn,
            state_machine_arn: out.state_machine_arn,
            status: status_from_sdk(&out.status),
            started: time(&out.start_date),
            stopped: out.stop_date.as_ref().map(time),
            input: out.input,
            output: out.output,
            error: out.error,
            cause: out.cause,
        })),
        Err(err)
            if matches!(
                err.as_service_error(),
                Some(DescribeExecutionError::ExecutionDoesNotExist(_))
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(one_line("DescribeExecution", err)),
    }
}

/// The ARNs of the state machine's executions, newest first, until `limit` or one started
/// before `since`.
pub async fn list(
    client: &Client,
    state_machine: &str,
    since: Option<DateTime<Utc>>,
    limit: usize,
) -> Result<Vec<String>, Failure> {
    let mut rows = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_executions()
            .state_machine_arn(state_machine)
            .max_results(100)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| one_line("ListExecutions", e))?;
        for item in page.executions {
            let started = time(&item.start_date);
            if since.is_some_and(|s| started < s) || rows.len() >= limit {
                return Ok(rows);
            }
            rows.push(item.execution_arn);
        }
        match page.next_token {
            Some(next) => token = Some(next),
            None => return Ok(rows),
        }
    }
}

/// Every history event after `after` (an event id), oldest first. Read newest first
/// (reverseOrder), stopping at the first page that reaches `after`: a batch's history runs to
/// thousands of events, and a poll needs only the new ones. A server that ignores reverseOrder
/// (moto answers oldest first, in one page) is read to its end.
pub async fn history(client: &Client, arn: &str, after: i64) -> Result<Vec<Event>, Failure> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .reverse_order(true)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| one_line("GetExecutionHistory", e))?;
        let newest_first = match (page.events.first(), page.events.last()) {
            (Some(first), Some(last)) => first.id >= last.id,
            _ => false,
        };
        let reached = page.events.iter().any(|e| e.id <= after);
        events.extend(
            page.events
                .iter()
                .filter(|e| e.id > after)
                .map(event_from_sdk),
        );
        match page.next_token {
            Some(next) if !(reached && newest_first) => token = Some(next),
            _ => break,
        }
    }
    events.sort_by_key(|e| e.id);
    events.dedup_by_key(|e| e.id);
    Ok(events)
}

fn event_from_sdk(e: &HistoryEvent) -> Event {
    let mut event = Event {
        id: e.id,
        previous: e.previous_event_id,
        at: Some(time(&e.timestamp)),
        kind: e.r#type.as_str().to_string(),
        ..Event::default()
    };
    if let Some(d) = &e.state_entered_event_details {
        event.state = Some(d.name.clone());
    }
    if let Some(d) = &e.state_exited_event_details {
        event.state = Some(d.name.clone());
        event.output = d.output.clone();
    }
    let (error, cause) = if let Some(d) = &e.execution_failed_event_details {
        (d.error.clone(), d.cause.clone())
    } else if let Some(d) = &e.task_failed_event_details {
        (d.error.clone(), d.cause.clone())
    } else if let Some(d) = &e.lambda_function_failed_event_details {
        (d.error.clone(), d.cause.clone())
    } else if let Some(d) = &e.execution_timed_out_event_details {
        (d.error.clone(), d.cause.clone())
    } else if let Some(d) = &e.execution_aborted_event_details {
        (d.error.clone(), d.cause.clone())
    } else if let Some(d) = &e.task_timed_out_event_details {
        (d.error.clone(), d.cause.clone())
    } else if let Some(d) = &e.task_start_failed_event_details {
        (d.error.clone(), d.cause.clone())
    } else if let Some(d) = &e.task_submit_failed_event_details {
        (d.error.clone(), d.cause.clone())
    } else {
        (None, None)
    };
    event.error = error;
    event.cause = cause;
    if let Some(d) = &e.execution_succeeded_event_details {
        event.output = d.output.clone();
    }
    if let Some(d) = &e.lambda_function_succeeded_event_details {
        event.output = d.output.clone();
    }
    // The task events' service and action.
    let task = if let Some(d) = &e.task_scheduled_event_details {
        Some((d.resource_type.clone(), d.resource.clone()))
    } else if let Some(d) = &e.task_started_event_details {
        Some((d.resource_type.clone(), d.resource.clone()))
    } else if let Some(d) = &e.task_submitted_event_details {
        event.output = d.output.clone();
        Some((d.resource_type.clone(), d.resource.clone()))
    } else if let Some(d) = &e.task_succeeded_event_details {
        event.output = d.output.clone();
        Some((d.resource_type.clone(), d.resource.clone()))
    } else if let Some(d) = &e.task_failed_event_details {
        Some((d.resource_type.clone(), d.resource.clone()))
    } else if let Some(d) = &e.task_timed_out_event_details {
        Some((d.resource_type.clone(), d.resource.clone()))
    } else if let Some(d) = &e.task_start_failed_event_details {
        Some((d.resource_type.clone(), d.resource.clone()))
    } else {
        e.task_submit_failed_event_details
            .as_ref()
            .map(|d| (d.resource_type.clone(), d.resource.clone()))
    };
    if let Some((resource_type, resource)) = task {
        event.resource_type = Some(resource_type);
        event.resource = Some(resource);
    }
    event
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use aws_sdk_sfn::error::ErrorMetadata;
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
    use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
    use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
    use aws_sdk_sfn::primitives::DateTime as SdkTime;
    use aws_sdk_sfn::types::error::{ExecutionAlreadyExists, ExecutionDoesNotExist};
    use aws_sdk_sfn::types::{
        ExecutionFailedEventDetails, HistoryEventType, StateExitedEventDetails,
        TaskFailedEventDetails, TaskSubmittedEventDetails,
    };
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    pub fn described(arn: &str, status: ExecutionStatus) -> DescribeExecutionOutput {
        DescribeExecutionOutput::builder()
            .execution_arn(arn)
            .state_machine_arn("arn:aws:states:us-east-1:1:stateMachine:m")
            .name(arn.rsplit(':').next().unwrap_or_default())
            .status(status)
            .start_date(SdkTime::from_secs(1_000))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_taken_name_is_name_taken_and_a_new_one_its_arn() {
        let taken = mock!(Client::start_execution).then_error(|| {
            StartExecutionError::ExecutionAlreadyExists(
                ExecutionAlreadyExists::builder().message("exists").build(),
            )
        });
        let fresh = mock!(Client::start_execution).then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn("arn:e")
                .start_date(SdkTime::from_secs(5))
                .build()
                .unwrap()
        });
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&taken, &fresh]);
        assert!(matches!(
            start(&client, "arn:m", "n", "{}").await.unwrap(),
            Started::NameTaken
        ));
        assert!(matches!(
            start(&client, "arn:m", "n", "{}").await.unwrap(),
            Started::Arn { arn, .. } if arn == "arn:e"
        ));
    }

    #[tokio::test]
    async fn a_missing_execution_is_none_and_other_errors_one_line() {
        let missing = mock!(Client::describe_execution).then_error(|| {
            DescribeExecutionError::ExecutionDoesNotExist(
                ExecutionDoesNotExist::builder().message("no").build(),
            )
        });
        let denied = mock!(Client::describe_execution).then_error(|| {
            DescribeExecutionError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User is not authorized\nto perform states:DescribeExecution")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&missing, &denied]);
        assert!(describe(&client, "arn:e").await.unwrap().is_none());
        let err = describe(&client, "arn:e").await.unwrap_err();
        assert_eq!(
            err.message,
            "DescribeExecution: AccessDeniedException: User is not authorized to perform states:DescribeExecution"
        );
        assert_eq!(err.exit_code, crate::failure::FAILED);
    }

    fn page(ids: &[i64], next: Option<&str>) -> GetExecutionHistoryOutput {
        let mut out = GetExecutionHistoryOutput::builder().set_next_token(next.map(str::to_string));
        for id in ids {
            out = out.events(
                HistoryEvent::builder()
                    .id(*id)
                    .previous_event_id(id - 1)
                    .timestamp(SdkTime::from_secs(1_000 + id))
                    .r#type(HistoryEventType::PassStateEntered)
                    .build()
                    .unwrap(),
            );
        }
        out.build().unwrap()
    }

    #[tokio::test]
    async fn history_is_read_newest_first_only_back_to_what_was_seen() {
        let newest = mock!(Client::get_execution_history)
            .match_requests(|r| r.reverse_order() == Some(true) && r.next_token().is_none())
            .then_output(|| page(&[9, 8, 7], Some("t1")));
        let older = mock!(Client::get_execution_history)
            .match_requests(|r| r.next_token() == Some("t1"))
            .then_output(|| page(&[6, 5, 4], Some("t2")));
        let oldest = mock!(Client::get_execution_history)
            .match_requests(|r| r.next_token() == Some("t2"))
            .then_output(|| page(&[3, 2, 1], None));
        let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&newest, &older, &oldest]);
        let ids = |events: Vec<Event>| events.iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(
            ids(history(&client, "arn:e", 5).await.unwrap()),
            [6, 7, 8, 9]
        );
        assert_eq!(
            oldest.num_calls(),
            0,
            "the page holding 5 was the last read"
        );
        assert_eq!(
            ids(history(&client, "arn:e", 0).await.unwrap()),
            (1..=9).collect::<Vec<_>>()
        );
        assert_eq!(history(&client, "arn:e", 0).await.unwrap()[3].previous, 3);
    }

    #[test]
    fn task_events_keep_their_service_action_and_thread() {
        let submitted = HistoryEvent::builder()
            .id(18)
            .previous_event_id(12)
            .timestamp(SdkTime::from_secs(1_000))
            .r#type(HistoryEventType::TaskSubmitted)
            .task_submitted_event_details(
                TaskSubmittedEventDetails::builder()
                    .resource_type("states")
                    .resource("startExecution.sync:2")
                    .output(r#"{"ExecutionArn":"arn:c"}"#)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let e = event_from_sdk(&submitted);
        assert_eq!((e.id, e.previous), (18, 12));
        assert_eq!(e.resource_type.as_deref(), Some("states"));
        assert_eq!(e.resource.as_deref(), Some("startExecution.sync:2"));
        let failed = HistoryEvent::builder()
            .id(21)
            .previous_event_id(18)
            .timestamp(SdkTime::from_secs(1_000))
            .r#type(HistoryEventType::TaskFailed)
            .task_failed_event_details(
                TaskFailedEventDetails::builder()
                    .resource_type("states")
                    .resource("startExecution.sync:2")
                    .error("States.TaskFailed")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let e = event_from_sdk(&failed);
        assert_eq!(
            (e.kind.as_str(), e.error.as_deref()),
            ("TaskFailed", Some("States.TaskFailed"))
        );
        assert_eq!(e.resource_type.as_deref(), Some("states"));
    }

    #[tokio::test]
    async fn history_events_keep_state_output_error_and_cause_after_the_given_id() {
        let rule = mock!(Client::get_execution_history).then_output(|| {
            GetExecutionHistoryOutput::builder()
                .events(
                    HistoryEvent::builder()
                        .id(1)
                        .timestamp(SdkTime::from_secs(1_000))
                        .r#type(HistoryEventType::ExecutionStarted)
                        .build()
                        .unwrap(),
                )
                .events(
                    HistoryEvent::builder()
                        .id(2)
                        .timestamp(SdkTime::from_secs(1_001))
                        .r#type(HistoryEventType::TaskStateExited)
                        .state_exited_event_details(
                            StateExitedEventDetails::builder()
                                .name("CheckStatus")
                                .output(r#"{"run":{}}"#)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .events(
                    HistoryEvent::builder()
                        .id(3)
                        .timestamp(SdkTime::from_secs(1_002))
                        .r#type(HistoryEventType::ExecutionFailed)
                        .execution_failed_event_details(
                            ExecutionFailedEventDetails::builder()
                                .error("GlueRunFailed")
                                .cause("boom")
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&rule]);
        let events = history(&client, "arn:e", 1).await.unwrap();
        assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].kind, "TaskStateExited");
        assert_eq!(events[0].state.as_deref(), Some("CheckStatus"));
        assert_eq!(events[0].output.as_deref(), Some(r#"{"run":{}}"#));
        assert_eq!(
            (events[1].error.as_deref(), events[1].cause.as_deref()),
            (Some("GlueRunFailed"), Some("boom"))
        );
    }
}
