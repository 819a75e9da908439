//! The run model: where an engine's run stands and what that means for the workflow. Engines
//! (aws/glue.rs today) translate their own run records into `RunInfo`; nothing here knows an SDK.

use crate::contract::{EngineKind, Outcome, RunStatus, TaskError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The argument that ties a run to the Step Functions execution that started it.
pub const EXECUTION_ID_ARG: &str = "--execution_id";

/// Glue's ten job run states (`JobRunState`), plus any state this code does not know. The JSON
/// form is Glue's spelling, so the contract's `run.state` reads as it always has.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum RunState {
    Starting,
    Running,
    Stopping,
    Waiting,
    Succeeded,
    Stopped,
    Failed,
    Error,
    Timeout,
    Expired,
    /// A state added after this version: treated as a failure (see `outcome`).
    Other(String),
}

impl RunState {
    const KNOWN: [RunState; 10] = [
        Self::Starting,
        Self::Running,
        Self::Stopping,
        Self::Waiting,
        Self::Succeeded,
        Self::Stopped,
        Self::Failed,
        Self::Error,
        Self::Timeout,
        Self::Expired,
    ];

    /// As Glue spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Starting => "STARTING",
            Self::Running => "RUNNING",
            Self::Stopping => "STOPPING",
            Self::Waiting => "WAITING",
            Self::Succeeded => "SUCCEEDED",
            Self::Stopped => "STOPPED",
            Self::Failed => "FAILED",
            Self::Error => "ERROR",
            Self::Timeout => "TIMEOUT",
            Self::Expired => "EXPIRED",
            Self::Other(state) => state,
        }
    }

    /// What the state means for the workflow. A state this code does not know is a failure, so
    /// a new terminal state cannot leave the workflow polling until timeout.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Starting | Self::Running | Self::Stopping | Self::Waiting => Outcome::Running,
            Self::Succeeded => Outcome::Succeeded,
            _ => Outcome::Failed,
        }
    }

    /// The error name a failed run of `engine` surfaces as (the Fail state's Error). The unload
    /// engine's statement maps FAILED to Failed, ABORTED to Stopped, and a commit that could not
    /// reconcile the files to Error (aws/redshift_data.rs).
    pub fn failure_name(&self, engine: EngineKind) -> &'static str {
        match (engine, self) {
            (EngineKind::Glue, Self::Failed) => "GlueRunFailed",
            (EngineKind::Glue, Self::Error) => "GlueRunError",
            (EngineKind::Glue, Self::Timeout) => "GlueRunTimeout",
            (EngineKind::Glue, Self::Stopped) => "GlueRunStopped",
            (EngineKind::Glue, Self::Expired) => "GlueRunExpired",
            (EngineKind::Glue, _) => "GlueRunUnknownState",
            (EngineKind::Unload, Self::Failed) => "UnloadStatementFailed",
            (EngineKind::Unload, Self::Stopped) => "UnloadStatementAborted",
            (EngineKind::Unload, Self::Error) => "UnloadCommitFailed",
            (EngineKind::Unload, _) => "UnloadStatementUnknownState",
        }
    }
}

impl From<&str> for RunState {
    fn from(state: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|known| known.as_str() == state)
            .unwrap_or_else(|| Self::Other(state.to_string()))
    }
}

impl From<String> for RunState {
    fn from(state: String) -> Self {
        Self::from(state.as_str())
    }
}

impl From<RunState> for String {
    fn from(state: RunState) -> Self {
        state.as_str().to_string()
    }
}

/// So a state reads against Glue's spelling: `status.state == "RUNNING"`.
impl PartialEq<&str> for RunState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An engine's run, reduced to what the workflow uses.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub engine: EngineKind,
    pub id: String,
    pub state: RunState,
    pub attempt: i32,
    pub execution_seconds: u64,
    /// Seconds since the Unix epoch.
    pub started_on: Option<i64>,
    pub error_message: Option<String>,
    pub arguments: HashMap<String, String>,
}

impl RunInfo {
    /// A run just started at `now_secs`, before the engine has said more of it.
    pub fn started(engine: EngineKind, id: String, now_secs: i64) -> Self {
        Self {
            engine,
            id,
            state: RunState::Starting,
            attempt: 0,
            execution_seconds: 0,
            started_on: Some(now_secs),
            error_message: None,
            arguments: HashMap::new(),
        }
    }
}

/// The run this execution already started, if a retried StartRun task finds one.
pub fn run_of_execution<'a>(runs: &'a [RunInfo], execution_id: &str) -> Option<&'a RunInfo> {
    runs.iter()
        .find(|r| r.arguments.get(EXECUTION_ID_ARG).map(String::as_str) == Some(execution_id))
}

/// Durations of the job's recent successful runs (input to the first poll wait).
pub fn successful_durations(runs: &[RunInfo]) -> Vec<u64> {
    runs.iter()
        .filter(|r| r.state == RunState::Succeeded)
        .map(|r| r.execution_seconds)
        .take(10)
        .collect()
}

/// The failure record of a finished, unsuccessful run, or None for a running or successful one.
pub fn failure_of(
    engine: EngineKind,
    state: &RunState,
    job_name: &str,
    run_id: &str,
    execution_seconds: u64,
    error_message: Option<&str>,
) -> Option<TaskError> {
    if state.outcome() != Outcome::Failed {
        return None;
    }
    let detail = match error_message.map(str::trim).filter(|m| !m.is_empty()) {
        Some(message) => format!(": {message}"),
        None if matches!(state, RunState::Other(_)) => {
            " (a run state this version does not know)".to_string()
        }
        None if engine == EngineKind::Unload => " (Redshift gave no error message)".to_string(),
        None => " (Glue gave no error message)".to_string(),
    };
    let what = match engine {
        EngineKind::Glue => format!("Glue run {run_id} of job {job_name}"),
        EngineKind::Unload => format!("Redshift UNLOAD statement {run_id} ({job_name})"),
    };
    Some(TaskError {
        error: state.failure_name(engine).to_string(),
        cause: format!("{what} ended {state} after {execution_seconds} s{detail}"),
    })
}

/// The workflow's view of a run after a look at it; `next_wait` gives the next poll's wait
/// from the run's age in seconds.
pub fn status_of(
    run: &RunInfo,
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
        outcome: run.state.outcome(),
        polls,
        next_poll_seconds: next_wait(elapsed_seconds),
        elapsed_seconds,
        execution_seconds: run.execution_seconds,
        attempt: run.attempt,
        started_on: run.started_on.and_then(iso_time),
        failure: failure_of(
            run.engine,
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
            assert_eq!(RunState::from(state).outcome(), outcome, "{state}");
            assert_eq!(RunState::from(state).as_str(), state);
            let f = failure_of(
                EngineKind::Glue,
                &state.into(),
                "j",
                "jr_1",
                5,
                Some("boom"),
            );
            assert_eq!(f.as_ref().map(|f| f.error.as_str()), failure, "{state}");
        }
    }

    #[test]
    fn unknown_state_fails_loudly() {
        assert_eq!(RunState::from("HIBERNATING").outcome(), Outcome::Failed);
        let f = failure_of(
            EngineKind::Glue,
            &"HIBERNATING".into(),
            "j",
            "jr_1",
            0,
            None,
        )
        .unwrap();
        assert_eq!(f.error, "GlueRunUnknownState");
        assert!(f.cause.contains("HIBERNATING"));
    }

    #[test]
    fn cause_names_the_run_the_job_and_the_message() {
        let f = failure_of(
            EngineKind::Glue,
            &RunState::Failed,
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
        let quiet = failure_of(
            EngineKind::Glue,
            &RunState::Timeout,
            "j",
            "jr_1",
            7200,
            Some("  "),
        )
        .unwrap();
        assert!(quiet.cause.ends_with("(Glue gave no error message)"));
    }

    #[test]
    fn a_statement_fails_with_the_unload_names_and_redshifts_message() {
        let cases = [
            (RunState::Failed, "UnloadStatementFailed"),
            (RunState::Stopped, "UnloadStatementAborted"),
            (RunState::Error, "UnloadCommitFailed"),
            (
                RunState::Other("WHATEVER".into()),
                "UnloadStatementUnknownState",
            ),
        ];
        for (state, name) in cases {
            let f =
                failure_of(EngineKind::Unload, &state, "j", "st-1", 4, Some("ERROR: x")).unwrap();
            assert_eq!(f.error, name);
            assert_eq!(
                f.cause,
                format!("Redshift UNLOAD statement st-1 (j) ended {state} after 4 s: ERROR: x")
            );
        }
        let quiet =
            failure_of(EngineKind::Unload, &RunState::Failed, "j", "st-1", 4, None).unwrap();
        assert!(quiet.cause.ends_with("(Redshift gave no error message)"));
    }

    fn run(id: &str, state: &str, secs: u64, execution: Option<&str>) -> RunInfo {
        RunInfo {
            engine: EngineKind::Glue,
            id: id.into(),
            state: state.into(),
            attempt: 0,
            execution_seconds: secs,
            started_on: None,
            error_message: None,
            arguments: execution
                .map(|e| HashMap::from([(EXECUTION_ID_ARG.to_string(), e.to_string())]))
                .unwrap_or_default(),
        }
    }

    #[test]
    fn finds_only_this_executions_run() {
        let runs = [
            run("jr_a", "RUNNING", 0, Some("other")),
            run("jr_b", "RUNNING", 0, Some("mine")),
            run("jr_c", "SUCCEEDED", 5, None),
        ];
        assert_eq!(
            run_of_execution(&runs, "mine").map(|r| r.id.as_str()),
            Some("jr_b")
        );
        assert!(run_of_execution(&runs, "nobody").is_none());
    }

    #[test]
    fn durations_come_from_successes_only() {
        let runs = [
            run("1", "FAILED", 3, None),
            run("2", "SUCCEEDED", 300, None),
            run("3", "SUCCEEDED", 420, None),
        ];
        assert_eq!(successful_durations(&runs), vec![300, 420]);
    }
}
