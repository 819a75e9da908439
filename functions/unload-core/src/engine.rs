//! The seam between the workflow and the service that runs an unload. start-run, check-status
//! and report hold their logic against this trait; `aws::glue::GlueEngine` is today's engine, and
//! a second one (the Redshift Data API's UNLOAD) plugs in here without touching the handlers.

use crate::contract::NormalizedRequest;
use crate::run::RunInfo;
use crate::Result;
use std::future::Future;

pub trait Engine {
    /// The job's recent runs, newest first: where a retried start finds the run its execution
    /// already started, and the durations the first poll wait is sized from.
    fn recent_runs(&self, job: &str) -> impl Future<Output = Result<Vec<RunInfo>>> + Send;

    /// Starts the table's run for this execution; returns the run's id.
    fn start_run(
        &self,
        job: &str,
        request: &NormalizedRequest,
        execution_id: &str,
    ) -> impl Future<Output = Result<String>> + Send;

    /// One look at a run.
    fn get_run(&self, job: &str, run_id: &str) -> impl Future<Output = Result<RunInfo>> + Send;

    /// Asks the service to stop a run; Ok(false) when it refused for this run (e.g. it had ended).
    fn stop_run(&self, job: &str, run_id: &str) -> impl Future<Output = Result<bool>> + Send;
}
