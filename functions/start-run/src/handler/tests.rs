use super::*;
use aws_sdk_glue::error::ErrorMetadata;
use aws_sdk_glue::operation::get_job_runs::GetJobRunsOutput;
use aws_sdk_glue::operation::start_job_run::{StartJobRunError, StartJobRunOutput};
use aws_sdk_glue::types::error::ConcurrentRunsExceededException;
use aws_sdk_glue::types::{JobRun, JobRunState};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use serde_json::json;
use unload_core::aws::glue::GlueEngine;
use unload_core::contract::Outcome;

const JOB: &str = "demo_master.orders_ExtractToDataLake";
const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:unload:run-1";
const NOW: i64 = 1_800_000_000;

fn state() -> State {
    State::from_value(json!({
        "input": {},
        "execution": {"id": EXEC, "name": "run-1", "started_at": "2026-11-25T00:00:00Z"},
        "request": {
            "table": "demo_master.orders", "schema": "demo_master", "table_name": "orders", "scope": "day",
            "partition_key": "o_orderdate", "partition_value": "1998-07-21", "file_format": "parquet",
            "write_mode": "overwrite", "s3_path": "s3://lake-bucket",
            "target_uri": "s3://lake-bucket/demo_master/parquet/orders/o_orderdate_key=1998-07-21/",
            "glue_connection": "tpc-rs", "redshift_role_arn": null, "allow_empty_source": false, "job_name": JOB
        },
        "job": {"name": JOB, "action": "unchanged"}
    }))
    .unwrap()
}

fn settings() -> Settings {
    Settings {
        source: SourceKind::Redshift,
        policy: PollPolicy::default(),
    }
}

fn run(id: &str, state: JobRunState, secs: i32, execution: &str) -> JobRun {
    JobRun::builder()
        .id(id)
        .job_name(JOB)
        .job_run_state(state)
        .execution_time(secs)
        .arguments("--execution_id", execution)
        .started_on(aws_smithy_types::DateTime::from_secs(NOW - 100))
        .build()
}

fn history(runs: Vec<JobRun>) -> Rule {
    mock!(aws_sdk_glue::Client::get_job_runs).then_output(move || {
        GetJobRunsOutput::builder()
            .set_job_runs(Some(runs.clone()))
            .build()
    })
}

/// The Glue engine over a mocked Glue client.
fn client(rules: &[&Rule]) -> GlueEngine {
    GlueEngine::new(mock_client!(
        aws_sdk_glue,
        RuleMode::Sequential,
        rules.iter().copied()
    ))
}

#[tokio::test]
async fn starts_a_run_with_the_contract_arguments() {
    let runs = history(vec![run(
        "jr_old",
        JobRunState::Succeeded,
        600,
        "arn:other",
    )]);
    let start = mock!(aws_sdk_glue::Client::start_job_run)
        .match_requests(|req| {
            let a = req.arguments().unwrap();
            req.job_name() == Some(JOB)
                && a.get("--execution_id").map(String::as_str) == Some(EXEC)
                && a.get("--day_partition_value").map(String::as_str) == Some("1998-07-21")
                && a.get("--prefixed_table_name").map(String::as_str) == Some("demo_master.orders")
                && a.get("--source_kind").map(String::as_str) == Some("redshift")
        })
        .then_output(|| StartJobRunOutput::builder().job_run_id("jr_new").build());
    let status = handle(&state(), &client(&[&runs, &start]), &settings(), NOW)
        .await
        .unwrap();
    assert_eq!(status.id, "jr_new");
    assert_eq!(status.state, "STARTING");
    assert_eq!(status.outcome, Outcome::Running);
    assert_eq!(status.polls, 0);
    assert_eq!(
        status.next_poll_seconds, 540,
        "first wait from the 600 s history"
    );
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn a_retried_task_follows_the_run_it_already_started() {
    let runs = history(vec![
        run("jr_other", JobRunState::Running, 10, "arn:other"),
        run("jr_mine", JobRunState::Running, 50, EXEC),
    ]);
    let start = mock!(aws_sdk_glue::Client::start_job_run)
        .then_output(|| StartJobRunOutput::builder().job_run_id("jr_dup").build());
    let status = handle(&state(), &client(&[&runs, &start]), &settings(), NOW)
        .await
        .unwrap();
    assert_eq!(status.id, "jr_mine");
    assert_eq!(status.state, "RUNNING");
    assert_eq!(status.elapsed_seconds, 100);
    assert_eq!(start.num_calls(), 0, "no second run is started");
}

#[tokio::test]
async fn concurrent_runs_exceeded_is_its_own_kind() {
    let runs = history(vec![]);
    let start = mock!(aws_sdk_glue::Client::start_job_run).then_error(|| {
        StartJobRunError::ConcurrentRunsExceededException(
            ConcurrentRunsExceededException::builder()
                .message("busy")
                .build(),
        )
    });
    let err = handle(&state(), &client(&[&runs, &start]), &settings(), NOW)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "ConcurrentRunsExceeded");
    assert!(err.to_string().contains(JOB));
}

#[tokio::test]
async fn throttling_is_glue_throttled() {
    let runs = history(vec![]);
    let start = mock!(aws_sdk_glue::Client::start_job_run)
        .sequence()
        .error(|| {
            StartJobRunError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let err = handle(&state(), &client(&[&runs, &start]), &settings(), NOW)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "GlueThrottled");
    assert!(err.to_string().contains("Rate exceeded"), "{err}");
}

#[tokio::test]
async fn throttled_history_read_is_glue_throttled_too() {
    let runs = mock!(aws_sdk_glue::Client::get_job_runs)
        .sequence()
        .error(|| {
            aws_sdk_glue::operation::get_job_runs::GetJobRunsError::generic(
                ErrorMetadata::builder().code("ThrottlingException").build(),
            )
        })
        .repeatedly()
        .build();
    let err = handle(&state(), &client(&[&runs]), &settings(), NOW)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "GlueThrottled");
}

#[tokio::test]
async fn other_service_errors_are_glue_api_errors() {
    let runs = history(vec![]);
    let start = mock!(aws_sdk_glue::Client::start_job_run).then_error(|| {
        StartJobRunError::generic(
            ErrorMetadata::builder()
                .code("InternalServiceException")
                .message("oops")
                .build(),
        )
    });
    let err = handle(&state(), &client(&[&runs, &start]), &settings(), NOW)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "GlueApiError");
}

#[tokio::test]
async fn state_without_execution_is_invalid_state() {
    let mut s = state();
    s.execution = None;
    let err = handle(&s, &client(&[]), &settings(), NOW)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "InvalidState");
}
