//! report: record the outcome as CloudWatch metrics. On success it reads the run manifest for rows
//! and bytes; on the failure path it reports whatever is known (even with no validated request)
//! and never fails for lack of a part of the state.

use serde_json::Value;
use std::time::{Duration, Instant};
use unload_core::aws::{cloudwatch, s3};
use unload_core::checks;
use unload_core::config::{process_env, Vars};
use unload_core::contract::{Outcome, Report, ReportOutcome, State, TaskError};
use unload_core::engine::Engine;
use unload_core::metrics::{self, Measurement, DEFAULT_NAMESPACE, NAMESPACE_ENV};
use unload_core::{Result, UnloadError};

/// Time report must still have before it publishes: PutMetricData may take PUBLISH_TIMEOUT, and
/// the function must return before its Lambda timeout after it has published. So a timeout
/// (Lambda.Unknown / Sandbox.Timedout) can only strike before the metrics are sent, and the state
/// machine's retry of it never counts an unload twice.
pub const PUBLISH_BUDGET: Duration = Duration::from_secs(10);

/// report's settings: the metrics namespace (METRICS_NAMESPACE).
pub struct Settings {
    pub namespace: String,
}

impl Settings {
    pub fn from_env() -> Self {
        Self {
            namespace: Vars::new(process_env)
                .text(NAMESPACE_ENV)
                .unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
        }
    }
}

pub struct Clients<E> {
    pub s3: aws_sdk_s3::Client,
    /// From `cloudwatch::publisher_client`: one try per call, bounded in time.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Where a run still going on the failure path is asked to stop.
    pub engine: E,
}

/// `deadline` is when the Lambda runtime ends this invocation (its context's deadline).
pub async fn handle(
    event: Value,
    clients: &Clients<impl Engine>,
    namespace: &str,
    now_secs: i64,
    deadline: Instant,
) -> Result<Report> {
    let state = lenient_state(event);
    let succeeded = state.error.is_none()
        && state
            .run
            .as_ref()
            .is_some_and(|r| r.outcome == Outcome::Succeeded);
    let manifest = if succeeded {
        Some(s3::read_run_manifest(&clients.s3, &state).await?)
    } else {
        None
    };
    let stopped_run = if succeeded {
        None
    } else {
        stop_unfinished_run(&state, &clients.engine).await
    };
    let table = table_of(&state);
    let run = state.run.as_ref();
    let report = Report {
        outcome: if succeeded { ReportOutcome::Succeeded } else { ReportOutcome::Failed },
        table: table.clone(),
        partition: state.request.as_ref().and_then(|r| r.partition_label()),
        rows: manifest.as_ref().map(|m| m.rows),
        bytes: manifest.as_ref().map(|m| m.bytes),
        files: manifest.as_ref().map(|m| m.files.len() as u64),
        duration_seconds: run.map(|r| if r.execution_seconds > 0 { r.execution_seconds } else { r.elapsed_seconds } as f64),
        run_id: run.map(|r| r.id.clone()),
        error_type: (!succeeded).then(|| error_type(&state)),
        cause: (!succeeded).then(|| failure_cause(&state, stopped_run.as_deref())),
        stopped_run,
        warnings: manifest.map(|m| m.warnings).unwrap_or_default(),
        metrics_published: 0,
    };
    let data = metrics::datums(&Measurement {
        succeeded,
        table: report.table.as_deref(),
        duration_seconds: report.duration_seconds,
        rows: report.rows,
        bytes: report.bytes,
        warnings: succeeded.then_some(report.warnings.len() as u64),
    });
    let published = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let left = deadline.saturating_duration_since(Instant::now());
    if left < PUBLISH_BUDGET {
        return Err(UnloadError::ReportOutOfTime(format!(
            "only {} ms of this invocation were left, fewer than the {} s publishing needs; \
             nothing was published, so the state machine's retry is safe",
            left.as_millis(),
            PUBLISH_BUDGET.as_secs()
        )));
    }
    cloudwatch::put_metrics(&clients.cloudwatch, namespace, &data, now_secs).await?;
    let report = Report {
        metrics_published: published,
        ..report
    };
    for warning in &report.warnings {
        tracing::warn!(table = ?report.table, partition = ?report.partition, %warning, "the run succeeded with a warning");
    }
    tracing::info!(
        outcome = ?report.outcome, table = ?report.table, partition = ?report.partition, rows = ?report.rows,
        bytes = ?report.bytes, error_type = ?report.error_type, cause = %cause_message(&state), "unload reported"
    );
    Ok(report)
}

/// On the failure path: a run last seen running may still be writing (CheckStatus ran out of
/// retries, or the report of a success failed before it). Ask the engine to stop it, best effort,
/// so nothing runs on unobserved behind a failed execution. Returns the id of a run asked to stop.
async fn stop_unfinished_run(state: &State, engine: &impl Engine) -> Option<String> {
    let run = state
        .run
        .as_ref()
        .filter(|r| r.outcome == Outcome::Running)?;
    let job = state.job.as_ref()?;
    let live = match engine.get_run(&job.name, &run.id).await {
        Ok(live) => live,
        Err(err) => {
            tracing::warn!(run = %run.id, error = %err, "cannot read the Glue run to stop it");
            return None;
        }
    };
    if live.state.outcome() != Outcome::Running {
        return None;
    }
    match engine.stop_run(&job.name, &run.id).await {
        Ok(true) => {
            tracing::warn!(job = %job.name, run = %run.id, state = %live.state, "the execution failed with its Glue run still going: asked Glue to stop it");
            Some(run.id.clone())
        }
        Ok(false) => None,
        Err(err) => {
            tracing::warn!(run = %run.id, error = %err, "could not stop the Glue run");
            None
        }
    }
}

/// The Cause the execution fails with: the error's own, plus a word on a run that was stopped.
fn failure_cause(state: &State, stopped_run: Option<&str>) -> String {
    let original = match (
        &state.error,
        state.run.as_ref().and_then(|r| r.failure.as_ref()),
    ) {
        (Some(e), _) => e.cause.clone(),
        (None, Some(f)) => f.cause.clone(),
        (None, None) => String::new(),
    };
    match stopped_run {
        None => original,
        Some(run) => format!(
            "{}; the Glue run {run} was still going and has been asked to stop (BatchStopJobRun)",
            cause_message(state)
        ),
    }
}

/// The state, or — if even that cannot be read — its input and an InvalidState error to report.
pub fn lenient_state(event: Value) -> State {
    let input = event.get("input").cloned().unwrap_or_default();
    State::from_value(event).unwrap_or_else(|err| State {
        input,
        error: Some(TaskError {
            error: err.kind().into(),
            cause: err.to_string(),
        }),
        ..State::default()
    })
}

/// The table from the validated request, else from the raw input if it is a valid name.
fn table_of(state: &State) -> Option<String> {
    if let Some(request) = &state.request {
        return Some(request.table.clone());
    }
    let raw = state.input.get("PrefixedTablename")?.as_str()?;
    checks::table_reference("PrefixedTablename", raw)
        .ok()
        .map(|(schema, table)| format!("{schema}.{table}"))
}

fn error_type(state: &State) -> String {
    match (
        &state.error,
        state.run.as_ref().and_then(|r| r.failure.as_ref()),
    ) {
        (Some(e), _) => e.error.clone(),
        (None, Some(f)) => f.error.clone(),
        (None, None) => "Unknown".into(),
    }
}

/// The human part of the error: a Lambda error's Cause is a JSON object with errorMessage.
fn cause_message(state: &State) -> String {
    let Some(error) = &state.error else {
        return String::new();
    };
    serde_json::from_str::<Value>(&error.cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| error.cause.clone())
}

#[cfg(test)]
mod tests;
