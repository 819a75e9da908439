//! check-status: one look at the Glue run (GetJobRun) → its state, outcome, failure, and when to
//! look again (the polling policy, from the run's age).

use unload_core::aws::glue;
use unload_core::contract::{RunStatus, State};
use unload_core::polling::PollPolicy;
use unload_core::run_state::status_of;
use unload_core::Result;

pub async fn handle(
    state: &State,
    client: &aws_sdk_glue::Client,
    policy: &PollPolicy,
    now_secs: i64,
) -> Result<RunStatus> {
    let job = state.job()?;
    let previous = state.run()?;
    let run = glue::get_job_run(client, &job.name, &previous.id).await?;
    let status = status_of(
        &run,
        &job.name,
        previous.polls.saturating_add(1),
        |elapsed| policy.next_wait(elapsed),
        now_secs,
    );
    tracing::info!(
        job = %job.name, run = %status.id, state = %status.state, polls = status.polls,
        elapsed = status.elapsed_seconds, next_poll = status.next_poll_seconds, "Glue run checked"
    );
    Ok(status)
}

#[cfg(test)]
mod tests;
