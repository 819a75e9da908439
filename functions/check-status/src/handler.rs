//! check-status: one look at the run → its state, outcome, failure, and when to look again (the
//! polling policy, from the run's age).

use unload_core::contract::{RunStatus, State};
use unload_core::engine::Engine;
use unload_core::run::status_of;
use unload_core::Result;

/// check-status's settings: the polling policy (POLL_*, GLUE_JOB_TIMEOUT_MINUTES).
pub use unload_core::polling::PollPolicy as Settings;

pub async fn handle(
    state: &State,
    engine: &impl Engine,
    policy: &Settings,
    now_secs: i64,
) -> Result<RunStatus> {
    let job = state.job()?;
    let previous = state.run()?;
    let run = engine.get_run(&job.name, &previous.id).await?;
    let status = status_of(
        &run,
        &job.name,
        previous.polls.saturating_add(1),
        |elapsed| policy.next_wait(elapsed),
        now_secs,
    );
    tracing::info!(
        job = %job.name, run = %status.id, state = %status.state, polls = status.polls,
        elapsed = status.elapsed_seconds, next_poll = status.next_poll_seconds, "run checked"
    );
    Ok(status)
}

#[cfg(test)]
mod tests;
