//! Glue's ten job run states, and what each means for the workflow.

use crate::contract::{Outcome, RunStatus, TaskError};

/// The outcome of a Glue `JobRunState` as Glue spells it. A state this code does not know is
/// treated as a failure, so a new terminal state cannot leave the workflow polling until timeout.
pub fn outcome_of(state: &str) -> Outcome {
    match state {
        "STARTING" | "RUNNING" | "STOPPING" | "WAITING" => Outcome::Running,
        "SUCCEEDED" => Outcome::Succeeded,
        _ => Outcome::Failed,
    }
}

/// The error name a failed run surfaces as (the Fail state's Error).
pub fn failure_name(state: &str) -> &'static str {
    match state {
        "FAILED" => "GlueRunFailed",
        "ERROR" => "GlueRunError",
        "TIMEOUT" => "GlueRunTimeout",
        "STOPPED" => "GlueRunStopped",
        "EXPIRED" => "GlueRunExpired",
        _ => "GlueRunUnknownState",
    }
}

/// The failure record of a finished, unsuccessful run, or None for a running or successful one.
pub fn failure_of(
    state: &str,
    job_name: &str,
    run_id: &str,
    execution_seconds: u64,
    error_message: Option<&str>,
) -> Option<TaskError> {
    if outcome_of(state) != Outcome::Failed {
        return None;
    }
    let detail = match error_message.map(str::trim).filter(|m| !m.is_empty()) {
        Some(message) => format!(": {message}"),
        None if failure_name(state) == "GlueRunUnknownState" => {
            " (a run state this version does not know)".to_string()
        }
        None => " (Glue gave no error message)".to_string(),
    };
    Some(TaskError {
        error: failure_name(state).to_string(),
        cause: format!(
            "Glue run {run_id} of job {job_name} ended {state} after {execution_seconds} s{detail}"
        ),
    })
}

/// The workflow's view of a Glue run after a look at it; `next_wait` gives the next poll's wait
/// from the run's age in seconds.
pub fn status_of(
    run: &crate::aws::glue::RunInfo,
    job_name: &str,
    polls: u32,
    next_wait: impl FnOnce(u64) -> u64,
    now_secs: i64,
) -> RunStatus {
    let elapsed_seconds = match run.started_on {
        Some(start) => u64::try_from(now_secs.saturating_sub(start)).unwrap_or(0),
        None => run.execution_seconds,
    };
    let error_message = run.error_message.clone().filter(|m| !m.trim().is_empty());
    RunStatus {
        id: run.id.clone(),
        state: run.state.clone(),
        outcome: outcome_of(&run.state),
        polls,
        next_poll_seconds: next_wait(elapsed_seconds),
        elapsed_seconds,
        execution_seconds: run.execution_seconds,
        attempt: run.attempt,
        started_on: run.started_on.and_then(iso_time),
        failure: failure_of(
            &run.state,
            job_name,
            &run.id,
            run.execution_seconds,
            error_message.as_deref(),
        ),
        error_message,
    }
}

/// Seconds since the epoch → `2026-11-25T22:00:00Z`.
pub fn iso_time(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_ten_states_map() {
        let cases = [
            ("STARTING", Outcome::Running, None),
            ("RUNNING", Outcome::Running, None),
            ("STOPPING", Outcome::Running, None),
            ("WAITING", Outcome::Running, None),
            ("SUCCEEDED", Outcome::Succeeded, None),
            ("STOPPED", Outcome::Failed, Some("GlueRunStopped")),
            ("FAILED", Outcome::Failed, Some("GlueRunFailed")),
            ("ERROR", Outcome::Failed, Some("GlueRunError")),
            ("TIMEOUT", Outcome::Failed, Some("GlueRunTimeout")),
            ("EXPIRED", Outcome::Failed, Some("GlueRunExpired")),
        ];
        for (state, outcome, failure) in cases {
            assert_eq!(outcome_of(state), outcome, "{state}");
            let f = failure_of(state, "j", "jr_1", 5, Some("boom"));
            assert_eq!(f.as_ref().map(|f| f.error.as_str()), failure, "{state}");
        }
    }

    #[test]
    fn unknown_state_fails_loudly() {
        assert_eq!(outcome_of("HIBERNATING"), Outcome::Failed);
        let f = failure_of("HIBERNATING", "j", "jr_1", 0, None).unwrap();
        assert_eq!(f.error, "GlueRunUnknownState");
        assert!(f.cause.contains("HIBERNATING"));
    }

    #[test]
    fn cause_names_the_run_the_job_and_the_message() {
        let f = failure_of(
            "FAILED",
            "demo.orders_ExtractToDataLake",
            "jr_9",
            73,
            Some("UnloadError: relation does not exist"),
        )
        .unwrap();
        assert_eq!(
            f.cause,
            "Glue run jr_9 of job demo.orders_ExtractToDataLake ended FAILED after 73 s: UnloadError: relation does not exist"
        );
        let quiet = failure_of("TIMEOUT", "j", "jr_1", 7200, Some("  ")).unwrap();
        assert!(quiet.cause.ends_with("(Glue gave no error message)"));
    }
}
