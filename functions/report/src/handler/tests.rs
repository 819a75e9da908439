use super::*;
use aws_sdk_cloudwatch::operation::put_metric_data::{PutMetricDataError, PutMetricDataOutput};
use aws_sdk_cloudwatch::types::MetricDatum;
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::error::NoSuchKey;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use serde_json::json;
use std::sync::{Arc, Mutex};
use unload_core::aws::glue::GlueEngine;

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:unload:run-1";
const TARGET: &str = "s3://lake-bucket/demo_master/parquet/orders/o_orderdate_key=1998-07-21/";

fn success_state() -> Value {
    json!({
        "input": {"PrefixedTablename": "demo_master.orders"},
        "execution": {"id": EXEC, "name": "run-1", "started_at": "2026-11-25T00:00:00Z"},
        "request": {
            "table": "demo_master.orders", "schema": "demo_master", "table_name": "orders", "scope": "day",
            "partition_key": "o_orderdate", "partition_value": "1998-07-21", "file_format": "parquet",
            "write_mode": "overwrite", "s3_path": "s3://lake-bucket", "target_uri": TARGET,
            "glue_connection": "tpc-rs", "redshift_role_arn": null, "allow_empty_source": false,
            "job_name": "demo_master.orders_ExtractToDataLake"
        },
        "job": {"name": "demo_master.orders_ExtractToDataLake", "action": "created"},
        "run": {"id": "jr_1", "state": "SUCCEEDED", "outcome": "succeeded", "polls": 3, "next_poll_seconds": 30,
                "elapsed_seconds": 95, "execution_seconds": 80, "attempt": 0, "started_on": null,
                "error_message": null, "failure": null}
    })
}

fn manifest_json(execution: &str) -> String {
    format!(
        r#"{{"version":1,"execution_id":"{execution}","rows":415,"source_rows":415,"bytes":3000,
            "files":[{{"path":"part-00000.snappy.parquet","bytes":3000}}],"columns":[]}}"#
    )
}

fn manifest_rule(body: Option<String>) -> Rule {
    mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| {
            r.bucket() == Some("lake-bucket")
                && r.key()
                    == Some("demo_master/parquet/orders/o_orderdate_key=1998-07-21/_manifest.json")
        })
        .then_compute_response(move |_| match &body {
            Some(text) => aws_smithy_mocks::MockResponse::Output(
                GetObjectOutput::builder()
                    .body(ByteStream::from(text.clone().into_bytes()))
                    .build(),
            ),
            None => aws_smithy_mocks::MockResponse::Error(GetObjectError::NoSuchKey(
                NoSuchKey::builder().build(),
            )),
        })
}

/// A PutMetricData rule that records what it was sent.
/// Every PutMetricData call's namespace and datums.
type Sent = Arc<Mutex<Vec<(String, Vec<MetricDatum>)>>>;

fn recording_metrics(sent: Sent) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .match_requests(move |r| {
            sent.lock().unwrap().push((
                r.namespace().unwrap_or_default().to_string(),
                r.metric_data().to_vec(),
            ));
            true
        })
        .then_output(|| PutMetricDataOutput::builder().build())
}

fn clients(s3_rules: &[&Rule], cw_rules: &[&Rule]) -> Clients<GlueEngine> {
    glue_clients(s3_rules, cw_rules, &[])
}

fn glue_clients(
    s3_rules: &[&Rule],
    cw_rules: &[&Rule],
    glue_rules: &[&Rule],
) -> Clients<GlueEngine> {
    Clients {
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3_rules.iter().copied()),
        cloudwatch: mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            cw_rules.iter().copied()
        ),
        engine: GlueEngine::new(mock_client!(
            aws_sdk_glue,
            RuleMode::MatchAny,
            glue_rules.iter().copied()
        )),
    }
}

/// A deadline far enough away to publish.
fn far() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

fn value_of(data: &[MetricDatum], name: &str, table: Option<&str>) -> Option<f64> {
    data.iter()
        .find(|d| {
            d.metric_name() == Some(name) && d.dimensions().first().and_then(|x| x.value()) == table
        })
        .and_then(|d| d.value())
}

#[tokio::test]
async fn success_reads_the_manifest_and_publishes_the_figures() {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let (s3, cw) = (
        manifest_rule(Some(manifest_json(EXEC))),
        recording_metrics(sent.clone()),
    );
    let report = handle(
        success_state(),
        &clients(&[&s3], &[&cw]),
        "UnloadTest",
        1_800_000_000,
        far(),
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, ReportOutcome::Succeeded);
    assert_eq!(
        (report.rows, report.bytes, report.files),
        (Some(415), Some(3000), Some(1))
    );
    assert_eq!(report.duration_seconds, Some(80.0));
    assert_eq!(report.partition.as_deref(), Some("o_orderdate=1998-07-21"));
    assert_eq!(report.error_type, None);
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    let (namespace, data) = &sent[0];
    assert_eq!(namespace, "UnloadTest");
    assert_eq!(report.metrics_published as usize, data.len());
    assert_eq!(
        value_of(data, "UnloadSucceeded", Some("demo_master.orders")),
        Some(1.0)
    );
    assert_eq!(value_of(data, "UnloadSucceeded", None), Some(1.0));
    assert_eq!(value_of(data, "UnloadFailed", None), Some(0.0));
    assert_eq!(
        value_of(data, "RowsUnloaded", Some("demo_master.orders")),
        Some(415.0)
    );
    assert_eq!(value_of(data, "BytesUnloaded", None), Some(3000.0));
    assert_eq!(
        value_of(data, "UnloadDurationSeconds", Some("demo_master.orders")),
        Some(80.0)
    );
    assert!(report.warnings.is_empty());
    assert_eq!(value_of(data, "UnloadWarnings", None), Some(0.0));
}

/// Issue 11: a source count(*) that moved during the run is a warning metric, not a failure.
#[tokio::test]
async fn a_manifest_warning_succeeds_and_publishes_a_warning_metric() {
    let drift = "source changed during the run: count(*) at start 416, rows read 415";
    let manifest = format!(
        r#"{{"version":2,"state":"complete","execution_id":"{EXEC}","rows":415,"source_rows":415,
            "source_rows_at_start":416,"bytes":3000,"files":[{{"path":"p.parquet","bytes":3000}}],
            "warnings":["{drift}"]}}"#
    );
    let sent = Arc::new(Mutex::new(Vec::new()));
    let (s3, cw) = (
        manifest_rule(Some(manifest)),
        recording_metrics(sent.clone()),
    );
    let report = handle(success_state(), &clients(&[&s3], &[&cw]), "N", 0, far())
        .await
        .unwrap();
    assert_eq!(report.outcome, ReportOutcome::Succeeded);
    assert_eq!(report.warnings, vec![drift.to_string()]);
    let sent = sent.lock().unwrap();
    let data = &sent[0].1;
    assert_eq!(
        value_of(data, "UnloadWarnings", Some("demo_master.orders")),
        Some(1.0)
    );
    assert_eq!(value_of(data, "UnloadWarnings", None), Some(1.0));
    assert_eq!(value_of(data, "UnloadFailed", None), Some(0.0));
}

#[tokio::test]
async fn success_without_a_manifest_is_manifest_missing() {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let (s3, cw) = (manifest_rule(None), recording_metrics(sent.clone()));
    let err = handle(success_state(), &clients(&[&s3], &[&cw]), "N", 0, far())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "ManifestMissing");
    assert!(err.to_string().contains("_manifest.json"));
    assert!(
        sent.lock().unwrap().is_empty(),
        "no success is recorded without the manifest"
    );
}

#[tokio::test]
async fn a_stale_manifest_is_manifest_invalid() {
    let (s3, cw) = (
        manifest_rule(Some(manifest_json("arn:previous"))),
        recording_metrics(Default::default()),
    );
    let err = handle(success_state(), &clients(&[&s3], &[&cw]), "N", 0, far())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "ManifestInvalid");
}

#[tokio::test]
async fn glue_failure_is_reported_with_its_error_type() {
    let mut state = success_state();
    state["run"]["outcome"] = json!("failed");
    state["run"]["state"] = json!("FAILED");
    state["error"] = json!({"Error": "GlueRunFailed", "Cause": "Glue run jr_1 ended FAILED: boom"});
    let sent = Arc::new(Mutex::new(Vec::new()));
    let cw = recording_metrics(sent.clone());
    let report = handle(state, &clients(&[], &[&cw]), "N", 0, far())
        .await
        .unwrap();
    assert_eq!(report.outcome, ReportOutcome::Failed);
    assert_eq!(report.error_type.as_deref(), Some("GlueRunFailed"));
    assert_eq!(report.rows, None);
    let sent = sent.lock().unwrap();
    assert_eq!(value_of(&sent[0].1, "UnloadWarnings", None), None);
    assert_eq!(
        value_of(&sent[0].1, "UnloadFailed", Some("demo_master.orders")),
        Some(1.0)
    );
    assert_eq!(value_of(&sent[0].1, "UnloadFailed", None), Some(1.0));
}

#[tokio::test]
async fn validate_failure_reports_what_is_known_from_the_input() {
    let state = json!({
        "input": {"PrefixedTablename": "Demo_Master.Orders", "DayPartitonKey": "x"},
        "execution": {"id": EXEC, "name": "run-1", "started_at": "2026-11-25T00:00:00Z"},
        "error": {"Error": "InvalidRequest", "Cause": "{\"errorType\":\"InvalidRequest\",\"errorMessage\":\"\\\"DayPartitonKey\\\": unknown key\"}"}
    });
    let sent = Arc::new(Mutex::new(Vec::new()));
    let cw = recording_metrics(sent.clone());
    let report = handle(state, &clients(&[], &[&cw]), "N", 0, far())
        .await
        .unwrap();
    assert_eq!(report.outcome, ReportOutcome::Failed);
    assert_eq!(report.table.as_deref(), Some("demo_master.orders"));
    assert_eq!(report.error_type.as_deref(), Some("InvalidRequest"));
    assert_eq!(report.run_id, None);
    assert_eq!(
        value_of(
            &sent.lock().unwrap()[0].1,
            "UnloadFailed",
            Some("demo_master.orders")
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_hostile_or_absent_table_still_reports_the_overall_series() {
    for input in [
        json!({"PrefixedTablename": "x; drop"}),
        json!(null),
        json!("not even an object"),
    ] {
        let state = json!({"input": input, "error": {"Error": "InvalidRequest", "Cause": "bad"}});
        let sent = Arc::new(Mutex::new(Vec::new()));
        let cw = recording_metrics(sent.clone());
        let report = handle(state, &clients(&[], &[&cw]), "N", 0, far())
            .await
            .unwrap();
        assert_eq!(report.table, None);
        let sent = sent.lock().unwrap();
        assert!(sent[0].1.iter().all(|d| d.dimensions().is_empty()));
        assert_eq!(value_of(&sent[0].1, "UnloadFailed", None), Some(1.0));
    }
}

#[tokio::test]
async fn an_unreadable_state_is_reported_not_crashed_on() {
    let state = json!({"input": {"PrefixedTablename": "a.b"}, "run": "garbage"});
    let cw = recording_metrics(Default::default());
    let report = handle(state, &clients(&[], &[&cw]), "N", 0, far())
        .await
        .unwrap();
    assert_eq!(report.error_type.as_deref(), Some("InvalidState"));
    assert_eq!(report.table.as_deref(), Some("a.b"));
}

#[tokio::test]
async fn metrics_failure_is_metrics_publish_failed() {
    let cw = mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .sequence()
        .error(|| {
            PutMetricDataError::generic(
                aws_sdk_cloudwatch::error::ErrorMetadata::builder()
                    .code("InvalidParameterValue")
                    .message("nope")
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let state = json!({"input": {}, "error": {"Error": "X", "Cause": ""}});
    let err = handle(state, &clients(&[], &[&cw]), "N", 0, far())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "MetricsPublishFailed");
}

#[tokio::test]
async fn too_little_time_left_publishes_nothing_and_asks_for_a_retry() {
    let sent: Sent = Arc::new(Mutex::new(Vec::new()));
    let (s3, cw) = (
        manifest_rule(Some(manifest_json(EXEC))),
        recording_metrics(sent.clone()),
    );
    let soon = Instant::now() + PUBLISH_BUDGET - Duration::from_secs(1);
    let err = handle(success_state(), &clients(&[&s3], &[&cw]), "N", 0, soon)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "ReportOutOfTime");
    assert!(sent.lock().unwrap().is_empty(), "nothing was published");
    // The retry, with a fresh invocation's time, publishes once.
    handle(success_state(), &clients(&[&s3], &[&cw]), "N", 0, far())
        .await
        .unwrap();
    assert_eq!(sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_publish_cloudwatch_refused_is_publish_failed() {
    let cw = mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let state = json!({"input": {}, "error": {"Error": "X", "Cause": ""}});
    // A 503 is an answer: nothing recorded, retryable.
    let err = handle(state.clone(), &clients(&[], &[&cw]), "N", 0, far())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "MetricsPublishFailed");
}

fn running_failure_state() -> Value {
    let mut state = success_state();
    state["run"]["outcome"] = json!("running");
    state["run"]["state"] = json!("RUNNING");
    state["error"] = json!({"Error": "GlueThrottled", "Cause": "{\"errorType\":\"GlueThrottled\",\"errorMessage\":\"Rate exceeded\"}"});
    state
}

fn live_run(state: &'static str) -> Rule {
    mock!(aws_sdk_glue::Client::get_job_run)
        .match_requests(|r| r.run_id() == Some("jr_1"))
        .then_output(move || {
            aws_sdk_glue::operation::get_job_run::GetJobRunOutput::builder()
                .job_run(
                    aws_sdk_glue::types::JobRun::builder()
                        .id("jr_1")
                        .job_run_state(aws_sdk_glue::types::JobRunState::from(state))
                        .build(),
                )
                .build()
        })
}

#[tokio::test]
async fn a_failed_execution_stops_its_glue_run_and_says_so() {
    let get = live_run("RUNNING");
    let stop = mock!(aws_sdk_glue::Client::batch_stop_job_run)
        .match_requests(|r| {
            r.job_name() == Some("demo_master.orders_ExtractToDataLake")
                && r.job_run_ids() == ["jr_1".to_string()]
        })
        .then_output(|| {
            aws_sdk_glue::operation::batch_stop_job_run::BatchStopJobRunOutput::builder()
                .successful_submissions(
                    aws_sdk_glue::types::BatchStopJobRunSuccessfulSubmission::builder()
                        .job_run_id("jr_1")
                        .build(),
                )
                .build()
        });
    let cw = recording_metrics(Default::default());
    let c = glue_clients(&[], &[&cw], &[&get, &stop]);
    let report = handle(running_failure_state(), &c, "N", 0, far())
        .await
        .unwrap();
    assert_eq!(stop.num_calls(), 1);
    assert_eq!(report.stopped_run.as_deref(), Some("jr_1"));
    let cause = report.cause.unwrap();
    assert!(
        cause.starts_with("Rate exceeded; the Glue run jr_1 was still going"),
        "{cause}"
    );
}

#[tokio::test]
async fn a_run_that_already_ended_is_not_stopped_and_the_cause_is_kept() {
    let get = live_run("SUCCEEDED");
    let stop = mock!(aws_sdk_glue::Client::batch_stop_job_run).then_output(|| {
        aws_sdk_glue::operation::batch_stop_job_run::BatchStopJobRunOutput::builder().build()
    });
    let cw = recording_metrics(Default::default());
    let c = glue_clients(&[], &[&cw], &[&get, &stop]);
    let state = running_failure_state();
    let report = handle(state.clone(), &c, "N", 0, far()).await.unwrap();
    assert_eq!(stop.num_calls(), 0);
    assert_eq!(report.stopped_run, None);
    assert_eq!(report.cause.as_deref(), state["error"]["Cause"].as_str());
}

#[tokio::test]
async fn success_has_no_cause_and_touches_no_run() {
    let (s3, cw) = (
        manifest_rule(Some(manifest_json(EXEC))),
        recording_metrics(Default::default()),
    );
    let report = handle(success_state(), &clients(&[&s3], &[&cw]), "N", 0, far())
        .await
        .unwrap();
    assert_eq!((report.cause, report.stopped_run), (None, None));
}
