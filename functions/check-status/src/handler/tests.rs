use super::*;
use aws_sdk_glue::operation::get_job_run::{GetJobRunError, GetJobRunOutput};
use aws_sdk_glue::types::error::EntityNotFoundException;
use aws_sdk_glue::types::{JobRun, JobRunState};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use serde_json::json;
use unload_core::aws::glue::GlueEngine;
use unload_core::contract::Outcome;
use unload_core::polling::PollPolicy;

const JOB: &str = "demo_master.orders_ExtractToDataLake";
const NOW: i64 = 1_800_000_000;

fn state(polls: u32) -> State {
    State::from_value(json!({
        "job": {"name": JOB, "action": "created"},
        "run": {"id": "jr_1", "state": "STARTING", "outcome": "running", "polls": polls, "next_poll_seconds": 30,
                "elapsed_seconds": 0, "execution_seconds": 0, "attempt": 0, "started_on": null,
                "error_message": null, "failure": null}
    }))
    .unwrap()
}

fn glue_run(state: JobRunState, message: Option<&str>) -> Rule {
    let message = message.map(str::to_string);
    mock!(aws_sdk_glue::Client::get_job_run)
        .match_requests(|r| r.job_name() == Some(JOB) && r.run_id() == Some("jr_1"))
        .then_output(move || {
            GetJobRunOutput::builder()
                .job_run(
                    JobRun::builder()
                        .id("jr_1")
                        .job_run_state(state.clone())
                        .attempt(1)
                        .execution_time(1200)
                        .started_on(aws_smithy_types::DateTime::from_secs(NOW - 1500))
                        .set_error_message(message.clone())
                        .build(),
                )
                .build()
        })
}

async fn check(rule: &Rule, polls: u32) -> Result<RunStatus> {
    let client = GlueEngine::new(mock_client!(aws_sdk_glue, RuleMode::Sequential, [rule]));
    handle(&state(polls), &client, &PollPolicy::default(), NOW).await
}

#[tokio::test]
async fn every_glue_run_state_maps_to_an_outcome() {
    let cases = [
        (JobRunState::Starting, Outcome::Running, None),
        (JobRunState::Running, Outcome::Running, None),
        (JobRunState::Stopping, Outcome::Running, None),
        (JobRunState::Waiting, Outcome::Running, None),
        (JobRunState::Succeeded, Outcome::Succeeded, None),
        (
            JobRunState::Stopped,
            Outcome::Failed,
            Some("GlueRunStopped"),
        ),
        (JobRunState::Failed, Outcome::Failed, Some("GlueRunFailed")),
        (JobRunState::Error, Outcome::Failed, Some("GlueRunError")),
        (
            JobRunState::Timeout,
            Outcome::Failed,
            Some("GlueRunTimeout"),
        ),
        (
            JobRunState::Expired,
            Outcome::Failed,
            Some("GlueRunExpired"),
        ),
    ];
    for (glue_state, outcome, failure) in cases {
        let rule = glue_run(glue_state.clone(), Some("UnloadError: boom"));
        let status = check(&rule, 2).await.unwrap();
        assert_eq!(status.state, glue_state.as_str());
        assert_eq!(status.outcome, outcome, "{glue_state:?}");
        assert_eq!(
            status.failure.as_ref().map(|f| f.error.as_str()),
            failure,
            "{glue_state:?}"
        );
        if let Some(f) = &status.failure {
            assert!(
                f.cause.contains("UnloadError: boom") && f.cause.contains(JOB),
                "{}",
                f.cause
            );
        }
    }
}

#[tokio::test]
async fn a_running_run_counts_the_poll_and_waits_by_its_age() {
    let rule = glue_run(JobRunState::Running, None);
    let status = check(&rule, 4).await.unwrap();
    assert_eq!(status.polls, 5);
    assert_eq!(status.elapsed_seconds, 1500);
    assert_eq!(status.execution_seconds, 1200);
    assert_eq!(status.attempt, 1);
    assert_eq!(
        status.next_poll_seconds,
        PollPolicy::default().next_wait(1500)
    );
    assert_eq!(status.started_on.as_deref(), Some("2027-01-15T07:35:00Z"));
    assert_eq!(status.error_message, None);
}

#[tokio::test]
async fn a_vanished_run_is_glue_run_not_found() {
    let rule = mock!(aws_sdk_glue::Client::get_job_run).then_error(|| {
        GetJobRunError::EntityNotFoundException(
            EntityNotFoundException::builder().message("gone").build(),
        )
    });
    let err = check(&rule, 0).await.unwrap_err();
    assert_eq!(err.kind(), "GlueRunNotFound");
    assert!(err.to_string().contains("jr_1"));
}

#[tokio::test]
async fn state_without_run_is_invalid_state() {
    let client = GlueEngine::new(mock_client!(
        aws_sdk_glue,
        RuleMode::Sequential,
        Vec::<&Rule>::new()
    ));
    let mut s = state(0);
    s.run = None;
    assert_eq!(
        handle(&s, &client, &PollPolicy::default(), NOW)
            .await
            .unwrap_err()
            .kind(),
        "InvalidState"
    );
}
