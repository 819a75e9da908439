//! start-run: start the table's Glue run for this execution, once. A retried task finds the run
//! this execution already started (by its --execution_id argument) instead of starting another.

use unload_core::aws::glue;
use unload_core::contract::{RunStatus, State};
use unload_core::polling::PollPolicy;
use unload_core::run_args::{run_arguments, run_of_execution, successful_durations, SourceKind};
use unload_core::run_state::status_of;
use unload_core::Result;

pub struct Settings {
    pub source: SourceKind,
    pub policy: PollPolicy,
}

pub async fn handle(
    state: &State,
    client: &aws_sdk_glue::Client,
    settings: &Settings,
    now_secs: i64,
) -> Result<RunStatus> {
    let request = state.request()?;
    let job = state.job()?;
    let execution = state.execution()?;
    let recent = glue::recent_runs(client, &job.name).await?;
    let first_wait = settings.policy.first_wait(&successful_durations(&recent));

    if let Some(existing) = run_of_execution(&recent, &execution.id) {
        tracing::info!(job = %job.name, run = %existing.id, state = %existing.state, "this execution already started a run; following it");
        return Ok(status_of(existing, &job.name, 0, |_| first_wait, now_secs));
    }
    let arguments = run_arguments(request, &execution.id, settings.source);
    let run_id = glue::start_job_run(client, &job.name, &arguments).await?;
    tracing::info!(job = %job.name, run = %run_id, first_wait, "Glue run started");
    let started = glue::RunInfo {
        id: run_id,
        state: "STARTING".into(),
        attempt: 0,
        execution_seconds: 0,
        started_on: Some(now_secs),
        error_message: None,
        arguments: Default::default(),
    };
    Ok(status_of(&started, &job.name, 0, |_| first_wait, now_secs))
}

#[cfg(test)]
mod tests;
