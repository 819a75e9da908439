//! start-run: start the table's run for this execution, once. A retried task finds the run this
//! execution already started (by its --execution_id argument) instead of starting another.

use unload_core::config;
use unload_core::contract::{RunStatus, State};
use unload_core::engine::Engine;
use unload_core::polling::PollPolicy;
use unload_core::run::{run_of_execution, status_of, successful_durations, RunInfo};
use unload_core::run_args::SourceKind;
use unload_core::Result;

/// start-run's settings: what the job reads (SOURCE_KIND) and the polling policy (POLL_*).
pub struct Settings {
    pub source: SourceKind,
    pub policy: PollPolicy,
}

impl Settings {
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            source: SourceKind::from_lookup(config::process_env)?,
            policy: PollPolicy::from_env()?,
        })
    }
}

pub async fn handle(
    state: &State,
    engine: &impl Engine,
    settings: &Settings,
    now_secs: i64,
) -> Result<RunStatus> {
    let request = state.request()?;
    let job = state.job()?;
    let execution = state.execution()?;
    let recent = engine.recent_runs(&job.name).await?;
    let first_wait = settings.policy.first_wait(&successful_durations(&recent));

    if let Some(existing) = run_of_execution(&recent, &execution.id) {
        tracing::info!(job = %job.name, run = %existing.id, state = %existing.state, "this execution already started a run; following it");
        return Ok(status_of(existing, &job.name, 0, |_| first_wait, now_secs));
    }
    let run_id = engine.start_run(&job.name, request, &execution.id).await?;
    tracing::info!(job = %job.name, run = %run_id, first_wait, "run started");
    let started = RunInfo::started(request.engine, run_id, now_secs);
    Ok(status_of(&started, &job.name, 0, |_| first_wait, now_secs))
}

#[cfg(test)]
mod tests;
