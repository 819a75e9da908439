//! Glue: jobs (GetJob, CreateJob, UpdateJob) and job runs (StartJobRun, GetJobRun, GetJobRuns).

use super::{describe, error_code, is_throttling};
use crate::contract::{EngineKind, NormalizedRequest};
use crate::engine::Engine;
use crate::error::{Result, UnloadError};
use crate::job_spec::JobDefinition;
use crate::run::{RunInfo, RunState};
use crate::run_args::{run_arguments, SourceKind};
use aws_sdk_glue::error::ProvideErrorMetadata;
use aws_sdk_glue::types::{
    ConnectionsList, ExecutionClass, ExecutionProperty, Job, JobCommand, JobRun, JobUpdate,
    WorkerType,
};
use aws_sdk_glue::Client;
use std::collections::{BTreeMap, HashMap};

/// How many recent runs start-run looks through for this execution's run and the durations.
pub const RECENT_RUNS: i32 = 50;

/// Maps a Glue error onto our kinds. An EntityNotFound that reaches here means the job is missing
/// (GlueJobNotFound); the calls where it means something else (no job yet for GetJob and GetTags,
/// a missing run for GetJobRun) handle it before they call this.
fn glue_error<E: ProvideErrorMetadata + std::error::Error>(
    operation: &str,
    err: &E,
) -> UnloadError {
    let text = describe(&format!("Glue {operation}"), err);
    match error_code(err) {
        code if is_throttling(code) => UnloadError::GlueThrottled(text),
        "ConcurrentRunsExceededException" => UnloadError::ConcurrentRunsExceeded(text),
        "EntityNotFoundException" => UnloadError::GlueJobNotFound(text),
        _ => UnloadError::GlueApiError(text),
    }
}

impl From<&JobRun> for RunInfo {
    fn from(run: &JobRun) -> Self {
        Self {
            engine: EngineKind::Glue,
            id: run.id().unwrap_or_default().to_string(),
            state: RunState::from(run.job_run_state().map(|s| s.as_str()).unwrap_or_default()),
            attempt: run.attempt(),
            execution_seconds: u64::try_from(run.execution_time()).unwrap_or(0),
            started_on: run.started_on().map(|t| t.secs()),
            error_message: run.error_message().map(str::to_string),
            arguments: run.arguments().cloned().unwrap_or_default(),
        }
    }
}

/// The stored job as a JobDefinition, or None when it does not exist.
pub async fn get_job(client: &Client, name: &str) -> Result<Option<JobDefinition>> {
    match client.get_job().job_name(name).send().await {
        Ok(out) => Ok(out.job().map(definition_of)),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_entity_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(glue_error("GetJob", &err)),
    }
}

/// The script of the template job the stack deployed (`sam deploy` uploaded it).
pub async fn template_script_location(client: &Client, template_job: &str) -> Result<String> {
    match get_job(client, template_job).await? {
        Some(def) if !def.script_location.is_empty() => Ok(def.script_location),
        Some(_) => Err(UnloadError::ConfigurationError(format!(
            "the template Glue job {template_job} has no script location"
        ))),
        None => Err(UnloadError::ConfigurationError(format!(
            "GLUE_TEMPLATE_JOB_NAME: the template Glue job {template_job} does not exist"
        ))),
    }
}

fn definition_of(job: &Job) -> JobDefinition {
    JobDefinition {
        description: job.description().unwrap_or_default().to_string(),
        role: job.role().unwrap_or_default().to_string(),
        script_location: job
            .command()
            .and_then(|c| c.script_location())
            .unwrap_or_default()
            .to_string(),
        glue_version: job.glue_version().unwrap_or_default().to_string(),
        worker_type: job
            .worker_type()
            .map(|w| w.as_str().to_string())
            .unwrap_or_default(),
        number_of_workers: job.number_of_workers().unwrap_or_default(),
        timeout_minutes: job.timeout().unwrap_or_default(),
        max_retries: job.max_retries(),
        max_concurrent_runs: job
            .execution_property()
            .map(|p| p.max_concurrent_runs())
            .unwrap_or(1),
        execution_class: job
            .execution_class()
            .map(|c| c.as_str().to_string())
            .unwrap_or_else(|| "STANDARD".into()),
        connections: job
            .connections()
            .map(|c| c.connections().to_vec())
            .unwrap_or_default(),
        default_arguments: job
            .default_arguments()
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default(),
    }
}

fn command(def: &JobDefinition) -> JobCommand {
    JobCommand::builder()
        .name("glueetl")
        .python_version("3")
        .script_location(&def.script_location)
        .build()
}

fn arguments(def: &JobDefinition) -> HashMap<String, String> {
    def.default_arguments.clone().into_iter().collect()
}

/// What CreateJob did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    /// Another execution created it first.
    AlreadyExists,
}

pub async fn create_job(
    client: &Client,
    name: &str,
    def: &JobDefinition,
    tags: &BTreeMap<String, String>,
) -> Result<Created> {
    let result = client
        .create_job()
        .name(name)
        .description(&def.description)
        .role(&def.role)
        .command(command(def))
        .glue_version(&def.glue_version)
        .worker_type(WorkerType::from(def.worker_type.as_str()))
        .number_of_workers(def.number_of_workers)
        .timeout(def.timeout_minutes)
        .max_retries(def.max_retries)
        .execution_property(
            ExecutionProperty::builder()
                .max_concurrent_runs(def.max_concurrent_runs)
                .build(),
        )
        .execution_class(ExecutionClass::from(def.execution_class.as_str()))
        .connections(
            ConnectionsList::builder()
                .set_connections(Some(def.connections.clone()))
                .build(),
        )
        .set_default_arguments(Some(arguments(def)))
        .set_tags(Some(tags.clone().into_iter().collect()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(Created::Created),
        Err(err)
            if err.as_service_error().is_some_and(|e| {
                e.is_already_exists_exception() || e.is_idempotent_parameter_mismatch_exception()
            }) =>
        {
            Ok(Created::AlreadyExists)
        }
        Err(err) => Err(glue_error("CreateJob", &err)),
    }
}

/// UpdateJob with the full definition: Glue resets whatever an update leaves out.
pub async fn update_job(client: &Client, name: &str, def: &JobDefinition) -> Result<()> {
    let update = JobUpdate::builder()
        .description(&def.description)
        .role(&def.role)
        .command(command(def))
        .glue_version(&def.glue_version)
        .worker_type(WorkerType::from(def.worker_type.as_str()))
        .number_of_workers(def.number_of_workers)
        .timeout(def.timeout_minutes)
        .max_retries(def.max_retries)
        .execution_property(
            ExecutionProperty::builder()
                .max_concurrent_runs(def.max_concurrent_runs)
                .build(),
        )
        .execution_class(ExecutionClass::from(def.execution_class.as_str()))
        .connections(
            ConnectionsList::builder()
                .set_connections(Some(def.connections.clone()))
                .build(),
        )
        .set_default_arguments(Some(arguments(def)))
        .build();
    client
        .update_job()
        .job_name(name)
        .job_update(update)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| glue_error("UpdateJob", &err))
}

/// The job's most recent runs, newest first (one page of RECENT_RUNS).
pub async fn recent_runs(client: &Client, job_name: &str) -> Result<Vec<RunInfo>> {
    let out = client
        .get_job_runs()
        .job_name(job_name)
        .max_results(RECENT_RUNS)
        .send()
        .await
        .map_err(|err| glue_error("GetJobRuns", &err))?;
    Ok(out.job_runs().iter().map(RunInfo::from).collect())
}

pub async fn start_job_run(
    client: &Client,
    job_name: &str,
    arguments: &BTreeMap<String, String>,
) -> Result<String> {
    let out = client
        .start_job_run()
        .job_name(job_name)
        .set_arguments(Some(arguments.clone().into_iter().collect()))
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(e) if e.is_concurrent_runs_exceeded_exception() => UnloadError::ConcurrentRunsExceeded(format!(
                "job {job_name} is already running as many runs as it may (MaxConcurrentRuns); the state machine retries later"
            )),
            Some(e) if e.is_entity_not_found_exception() => {
                UnloadError::GlueJobNotFound(format!("Glue job {job_name} does not exist (deleted after EnsureJob?)"))
            }
            _ => glue_error("StartJobRun", &err),
        })?;
    out.job_run_id().map(str::to_string).ok_or_else(|| {
        UnloadError::GlueApiError(format!(
            "Glue StartJobRun for {job_name} returned no JobRunId"
        ))
    })
}

pub async fn get_job_run(client: &Client, job_name: &str, run_id: &str) -> Result<RunInfo> {
    match client
        .get_job_run()
        .job_name(job_name)
        .run_id(run_id)
        .send()
        .await
    {
        Ok(out) => out.job_run().map(RunInfo::from).ok_or_else(|| {
            UnloadError::GlueRunNotFound(format!(
                "Glue GetJobRun returned no run {run_id} of job {job_name}"
            ))
        }),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_entity_not_found_exception()) =>
        {
            Err(UnloadError::GlueRunNotFound(format!(
                "Glue run {run_id} of job {job_name} does not exist (was the job deleted?)"
            )))
        }
        Err(err) => Err(glue_error("GetJobRun", &err)),
    }
}

/// The job's tags (GetTags on its ARN), or None when the job does not exist.
pub async fn job_tags(client: &Client, job_arn: &str) -> Result<Option<HashMap<String, String>>> {
    match client.get_tags().resource_arn(job_arn).send().await {
        Ok(out) => Ok(Some(out.tags().cloned().unwrap_or_default())),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_entity_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(glue_error("GetTags", &err)),
    }
}

/// Asks Glue to stop a run (BatchStopJobRun). Ok(false) when Glue refused for this run (e.g. it
/// had already finished): the per-run errors of a batch call are not an API failure.
pub async fn stop_run(client: &Client, job_name: &str, run_id: &str) -> Result<bool> {
    let out = client
        .batch_stop_job_run()
        .job_name(job_name)
        .job_run_ids(run_id)
        .send()
        .await
        .map_err(|err| glue_error("BatchStopJobRun", &err))?;
    Ok(out
        .successful_submissions()
        .iter()
        .any(|s| s.job_run_id() == Some(run_id)))
}

/// The Glue engine: each table's Glue job, one run per execution.
#[derive(Debug, Clone)]
pub struct GlueEngine {
    client: Client,
    /// What the job reads (the --source_kind argument); only starting a run uses it.
    source: SourceKind,
}

impl GlueEngine {
    /// An engine whose runs read Redshift, as SOURCE_KIND's default says.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            source: SourceKind::Redshift,
        }
    }

    /// Runs this engine starts read `source` (SOURCE_KIND).
    pub fn reading(self, source: SourceKind) -> Self {
        Self { source, ..self }
    }
}

impl Engine for GlueEngine {
    async fn recent_runs(&self, job: &str) -> Result<Vec<RunInfo>> {
        recent_runs(&self.client, job).await
    }

    async fn start_run(
        &self,
        job: &str,
        request: &NormalizedRequest,
        execution_id: &str,
    ) -> Result<String> {
        let arguments = run_arguments(request, execution_id, self.source);
        start_job_run(&self.client, job, &arguments).await
    }

    async fn get_run(&self, job: &str, run_id: &str) -> Result<RunInfo> {
        get_job_run(&self.client, job, run_id).await
    }

    async fn stop_run(&self, job: &str, run_id: &str) -> Result<bool> {
        stop_run(&self.client, job, run_id).await
    }
}
