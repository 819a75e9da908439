//! Jobs and job runs, in memory. Every method takes the lock briefly and never awaits, so the
//! HTTP handlers and the process runner share one `Store` through an `Arc`.
//!
//! A job is kept as the JSON object it was created (or last updated) with — minus Name and Tags —
//! so GetJob returns exactly the fields a caller stored, with Glue's defaults filled in. Its tags
//! are kept beside it (GetJob does not show them; GetTags does).
//!
//! Retries: Glue's `MaxRetries` is "the maximum number of times to retry this job after a JobRun
//! fails" (Job structure, https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-jobs-job.html).
//! A retry is a new JobRun with its own Id, `Attempt` one more, and `PreviousRunId` the failed
//! run's Id (JobRun structure, https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-jobs-runs.html).
//! Only FAILED is retried: TIMEOUT ("exceeded its specified timeout value") and STOPPED (asked
//! for) are not failures of the run (https://docs.aws.amazon.com/glue/latest/dg/job-run-statuses.html).
//! The docs do not say when MaxRetries is read: glue-local takes it when the first attempt starts,
//! so an UpdateJob during the chain does not change it.

use crate::tags::{self, Tags};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Glue's defaults for a job that does not say (glueetl jobs: 48 hours, one run at a time).
pub const DEFAULT_TIMEOUT_MINUTES: u64 = 2880;
pub const DEFAULT_MAX_CONCURRENT_RUNS: u64 = 1;
/// GetJobRuns: Glue accepts MaxResults 1..=200.
const MAX_RESULTS_LIMIT: u64 = 200;
const DEFAULT_MAX_RESULTS: u64 = 100;

/// A Glue service error: the modeled exception name and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            code: "EntityNotFoundException",
            message: message.into(),
        }
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self {
            code: "AlreadyExistsException",
            message: message.into(),
        }
    }
    pub fn concurrent_runs(message: impl Into<String>) -> Self {
        Self {
            code: "ConcurrentRunsExceededException",
            message: message.into(),
        }
    }
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self {
            code: "InvalidInputException",
            message: message.into(),
        }
    }

    /// Glue answers its own faults with 500, everything else it refuses with 400.
    pub fn status(&self) -> hyper::StatusCode {
        if self.code == "InternalServiceException" {
            hyper::StatusCode::INTERNAL_SERVER_ERROR
        } else {
            hyper::StatusCode::BAD_REQUEST
        }
    }
}

pub type Result<T> = std::result::Result<T, ApiError>;

/// Glue's JobRunState values that this server produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Starting,
    Running,
    Stopping,
    Stopped,
    Succeeded,
    Failed,
    Timeout,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "STARTING",
            Self::Running => "RUNNING",
            Self::Stopping => "STOPPING",
            Self::Stopped => "STOPPED",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Timeout => "TIMEOUT",
        }
    }

    /// Counted against MaxConcurrentRuns.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Starting | Self::Running | Self::Stopping)
    }
}

/// How a run ended, as the runner saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub state: RunState,
    pub error_message: Option<String>,
    pub execution_seconds: u64,
}

/// What the runner needs to start a run that StartJobRun accepted.
#[derive(Debug, Clone)]
pub struct Launch {
    pub run_id: String,
    pub job_name: String,
    pub script_location: String,
    /// The job's DefaultArguments overlaid with the run's Arguments.
    pub arguments: BTreeMap<String, String>,
    pub timeout_minutes: u64,
    /// Notified once when BatchStopJobRun (or DeleteJob) asks the run to stop.
    pub stop: Arc<Notify>,
}

struct Job {
    definition: Map<String, Value>,
    tags: Tags,
    created_on: f64,
    last_modified_on: f64,
}

struct Run {
    id: String,
    /// 0 for the run StartJobRun made, +1 for each retry after a failure.
    attempt: u64,
    previous_run_id: Option<String>,
    /// The job's MaxRetries when the chain's first attempt started.
    max_retries: u64,
    job_name: String,
    arguments: BTreeMap<String, String>,
    state: RunState,
    started_on: f64,
    last_modified_on: f64,
    completed_on: Option<f64>,
    execution_seconds: u64,
    error_message: Option<String>,
    timeout_minutes: u64,
    /// The job's capacity fields at start time, echoed in the run as Glue does.
    job_fields: Map<String, Value>,
    stop: Arc<Notify>,
}

impl Run {
    fn to_json(&self) -> Value {
        let mut run = Map::new();
        run.insert("Id".into(), json!(self.id));
        run.insert("Attempt".into(), json!(self.attempt));
        if let Some(previous) = &self.previous_run_id {
            run.insert("PreviousRunId".into(), json!(previous));
        }
        run.insert("JobName".into(), json!(self.job_name));
        run.insert("StartedOn".into(), json!(self.started_on));
        run.insert("LastModifiedOn".into(), json!(self.last_modified_on));
        if let Some(t) = self.completed_on {
            run.insert("CompletedOn".into(), json!(t));
        }
        run.insert("JobRunState".into(), json!(self.state.as_str()));
        run.insert("Arguments".into(), json!(self.arguments));
        if let Some(message) = &self.error_message {
            run.insert("ErrorMessage".into(), json!(message));
        }
        run.insert("PredecessorRuns".into(), json!([]));
        run.insert("ExecutionTime".into(), json!(self.execution_seconds));
        run.insert("Timeout".into(), json!(self.timeout_minutes));
        run.extend(self.job_fields.clone());
        Value::Object(run)
    }
}

#[derive(Default)]
struct State {
    jobs: BTreeMap<String, Job>,
    /// Every run in start order (oldest first).
    runs: Vec<Run>,
}

#[derive(Default)]
pub struct Store {
    state: Mutex<State>,
}

/// Seconds since the Unix epoch, millisecond precision (Glue's JSON timestamps).
pub fn now() -> f64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}

/// A run id like Glue's: `jr_` and 64 hex digits.
fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut id = String::from("jr_");
    for part in 0..4u64 {
        // RandomState is seeded randomly per instance: four independent 64-bit draws.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u64(part);
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        id.push_str(&format!("{:016x}", h.finish()));
    }
    id
}

/// A non-negative integer field, if present.
fn opt_u64(map: &Map<String, Value>, key: &str) -> Result<Option<u64>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            ApiError::invalid_input(format!("{key} must be a non-negative integer, not {v}"))
        }),
    }
}

/// Checks a CreateJob body / JobUpdate and fills in Glue's defaults.
fn normalize_definition(mut def: Map<String, Value>) -> Result<Map<String, Value>> {
    def.remove("Name");
    def.remove("Tags");
    if def
        .get("Role")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty()
    {
        return Err(ApiError::invalid_input("Role is required"));
    }
    let Some(command) = def.get("Command").and_then(Value::as_object) else {
        return Err(ApiError::invalid_input("Command is required"));
    };
    if let Some(loc) = command.get("ScriptLocation") {
        if !loc.is_string() {
            return Err(ApiError::invalid_input(
                "Command.ScriptLocation must be a string",
            ));
        }
    }
    if let Some(args) = def.get("DefaultArguments") {
        string_map(args, "DefaultArguments")?;
    }
    match opt_u64(&def, "Timeout")? {
        Some(0) => return Err(ApiError::invalid_input("Timeout must be at least 1 minute")),
        Some(_) => {}
        None => {
            def.insert("Timeout".into(), json!(DEFAULT_TIMEOUT_MINUTES));
        }
    }
    if opt_u64(&def, "MaxRetries")?.is_none() {
        def.insert("MaxRetries".into(), json!(0));
    }
    let mut execution = match def.get("ExecutionProperty") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(v) => {
            return Err(ApiError::invalid_input(format!(
                "ExecutionProperty must be an object, not {v}"
            )))
        }
    };
    match opt_u64(&execution, "MaxConcurrentRuns")? {
        Some(0) => {
            return Err(ApiError::invalid_input(
                "ExecutionProperty.MaxConcurrentRuns must be at least 1",
            ))
        }
        Some(_) => {}
        None => {
            execution.insert(
                "MaxConcurrentRuns".into(),
                json!(DEFAULT_MAX_CONCURRENT_RUNS),
            );
        }
    }
    def.insert("ExecutionProperty".into(), Value::Object(execution));
    Ok(def)
}

/// A JSON object of strings (Arguments, DefaultArguments) as a sorted map.
pub fn string_map(value: &Value, what: &str) -> Result<BTreeMap<String, String>> {
    let Some(map) = value.as_object() else {
        return Err(ApiError::invalid_input(format!(
            "{what} must be an object of strings"
        )));
    };
    map.iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => Ok((k.clone(), s.to_string())),
            None => Err(ApiError::invalid_input(format!(
                "{what}[{k}] must be a string, not {v}"
            ))),
        })
        .collect()
}

fn job_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Job {name} not found"))
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere never leaves the maps half-updated: keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn create_job(&self, name: &str, definition: Map<String, Value>) -> Result<()> {
        if name.is_empty() {
            return Err(ApiError::invalid_input("Name is required"));
        }
        let tags = match definition.get("Tags") {
            None | Some(Value::Null) => Tags::new(),
            Some(v) => tags::validate(string_map(v, "Tags")?)?,
        };
        let definition = normalize_definition(definition)?;
        let mut state = self.lock();
        if state.jobs.contains_key(name) {
            return Err(ApiError::already_exists(format!(
                "Job {name} already exists"
            )));
        }
        let t = now();
        state.jobs.insert(
            name.to_string(),
            Job {
                definition,
                tags,
                created_on: t,
                last_modified_on: t,
            },
        );
        Ok(())
    }

    pub fn get_job(&self, name: &str) -> Result<Value> {
        let state = self.lock();
        let job = state.jobs.get(name).ok_or_else(|| job_not_found(name))?;
        let mut out = Map::new();
        out.insert("Name".into(), json!(name));
        out.extend(job.definition.clone());
        out.insert("CreatedOn".into(), json!(job.created_on));
        out.insert("LastModifiedOn".into(), json!(job.last_modified_on));
        Ok(Value::Object(out))
    }

    /// GetTags: the job's tags.
    pub fn get_tags(&self, name: &str) -> Result<Tags> {
        let state = self.lock();
        let job = state.jobs.get(name).ok_or_else(|| job_not_found(name))?;
        Ok(job.tags.clone())
    }

    /// TagResource: adds (or overwrites) tags, refusing to pass the per-resource limit.
    pub fn tag_job(&self, name: &str, add: Tags) -> Result<()> {
        let add = tags::validate(add)?;
        let mut state = self.lock();
        let job = state
            .jobs
            .get_mut(name)
            .ok_or_else(|| job_not_found(name))?;
        let mut merged = job.tags.clone();
        merged.extend(add);
        job.tags = tags::validate(merged)?;
        Ok(())
    }

    /// UntagResource: removes the keys given (missing keys are fine).
    pub fn untag_job(&self, name: &str, keys: &[String]) -> Result<()> {
        let mut state = self.lock();
        let job = state
            .jobs
            .get_mut(name)
            .ok_or_else(|| job_not_found(name))?;
        for key in keys {
            job.tags.remove(key);
        }
        Ok(())
    }

    /// Replaces the whole definition, as Glue does: fields the update leaves out are gone.
    pub fn update_job(&self, name: &str, update: Map<String, Value>) -> Result<()> {
        let definition = normalize_definition(update)?;
        let mut state = self.lock();
        let job = state
            .jobs
            .get_mut(name)
            .ok_or_else(|| job_not_found(name))?;
        job.definition = definition;
        job.last_modified_on = now();
        Ok(())
    }

    /// Deletes the job and its runs (a missing job is fine, as in Glue). Active runs are told
    /// to stop, so no process outlives its job. Returns whether the job existed.
    pub fn delete_job(&self, name: &str) -> bool {
        let mut state = self.lock();
        let existed = state.jobs.remove(name).is_some();
        state.runs.retain(|run| {
            if run.job_name != name {
                return true;
            }
            if run.state.is_active() {
                log!("run {} of deleted job {name}: stopping", run.id);
                run.stop.notify_one();
            }
            false
        });
        existed
    }

    /// Registers a new run in STARTING, or refuses it (unknown job, too many active runs).
    pub fn start_run(
        &self,
        name: &str,
        arguments: BTreeMap<String, String>,
        timeout_minutes: Option<u64>,
    ) -> Result<Launch> {
        let mut state = self.lock();
        let job = state.jobs.get(name).ok_or_else(|| job_not_found(name))?;
        let def = &job.definition;
        let max_concurrent = def
            .get("ExecutionProperty")
            .and_then(|p| p.get("MaxConcurrentRuns"))
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_MAX_CONCURRENT_RUNS);
        let active = state
            .runs
            .iter()
            .filter(|r| r.job_name == name && r.state.is_active())
            .count();
        if active as u64 >= max_concurrent {
            return Err(ApiError::concurrent_runs(format!(
                "Concurrent runs exceeded for {name}: {active} active, MaxConcurrentRuns {max_concurrent}"
            )));
        }
        let timeout_minutes = match timeout_minutes {
            Some(0) => return Err(ApiError::invalid_input("Timeout must be at least 1 minute")),
            Some(t) => t,
            None => def
                .get("Timeout")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_TIMEOUT_MINUTES),
        };
        let script_location = def
            .get("Command")
            .and_then(|c| c.get("ScriptLocation"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut merged = match def.get("DefaultArguments") {
            Some(v) => string_map(v, "DefaultArguments")?,
            None => BTreeMap::new(),
        };
        merged.extend(arguments.clone());
        let job_fields: Map<String, Value> = [
            "GlueVersion",
            "WorkerType",
            "NumberOfWorkers",
            "MaxCapacity",
            "ExecutionClass",
        ]
        .iter()
        .filter_map(|k| def.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();

        let max_retries = def.get("MaxRetries").and_then(Value::as_u64).unwrap_or(0);

        let t = now();
        let stop = Arc::new(Notify::new());
        let run = Run {
            id: new_run_id(),
            attempt: 0,
            previous_run_id: None,
            max_retries,
            job_name: name.to_string(),
            arguments,
            state: RunState::Starting,
            started_on: t,
            last_modified_on: t,
            completed_on: None,
            execution_seconds: 0,
            error_message: None,
            timeout_minutes,
            job_fields,
            stop: stop.clone(),
        };
        let launch = Launch {
            run_id: run.id.clone(),
            job_name: name.to_string(),
            script_location,
            arguments: merged,
            timeout_minutes,
            stop,
        };
        state.runs.push(run);
        log!("run {} of job {name}: STARTING", launch.run_id);
        Ok(launch)
    }

    fn with_run(&self, run_id: &str, f: impl FnOnce(&mut Run)) {
        let mut state = self.lock();
        if let Some(run) = state.runs.iter_mut().find(|r| r.id == run_id) {
            f(run);
            run.last_modified_on = now();
        }
    }

    /// The process is up: STARTING → RUNNING (a stop asked for meanwhile keeps STOPPING).
    pub fn run_started(&self, run_id: &str, pid: u32) {
        self.with_run(run_id, |run| {
            if run.state == RunState::Starting {
                run.state = RunState::Running;
            }
            log!(
                "run {run_id} of job {}: {} (pid {pid})",
                run.job_name,
                run.state.as_str()
            );
        });
    }

    /// Records how the run ended. A FAILED run with retries left is followed, under the same
    /// lock, by its next attempt in STARTING: the Launch the runner must start.
    pub fn run_finished(&self, launch: &Launch, outcome: Outcome) -> Option<Launch> {
        let run_id = launch.run_id.as_str();
        let mut state = self.lock();
        let run = state.runs.iter_mut().find(|r| r.id == run_id)?;
        // A run someone asked to stop is not retried, however its process ended.
        let stop_requested = run.state == RunState::Stopping;
        run.state = outcome.state;
        run.error_message = outcome.error_message;
        run.execution_seconds = outcome.execution_seconds;
        run.completed_on = Some(now());
        run.last_modified_on = now();
        log!(
            "run {run_id} of job {}: {} after {} s{}",
            run.job_name,
            run.state.as_str(),
            run.execution_seconds,
            run.error_message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
        if run.state != RunState::Failed || stop_requested || run.attempt >= run.max_retries {
            return None;
        }
        let t = now();
        let stop = Arc::new(Notify::new());
        let retry = Run {
            id: new_run_id(),
            attempt: run.attempt + 1,
            previous_run_id: Some(run.id.clone()),
            max_retries: run.max_retries,
            job_name: run.job_name.clone(),
            arguments: run.arguments.clone(),
            state: RunState::Starting,
            started_on: t,
            last_modified_on: t,
            completed_on: None,
            execution_seconds: 0,
            error_message: None,
            timeout_minutes: run.timeout_minutes,
            job_fields: run.job_fields.clone(),
            stop: stop.clone(),
        };
        log!(
            "run {} of job {}: STARTING (attempt {} of MaxRetries {}, after {run_id})",
            retry.id,
            retry.job_name,
            retry.attempt,
            retry.max_retries
        );
        let next = Launch {
            run_id: retry.id.clone(),
            stop,
            ..launch.clone()
        };
        state.runs.push(retry);
        Some(next)
    }

    pub fn get_run(&self, name: &str, run_id: &str) -> Result<Value> {
        let state = self.lock();
        if !state.jobs.contains_key(name) {
            return Err(job_not_found(name));
        }
        state
            .runs
            .iter()
            .find(|r| r.id == run_id && r.job_name == name)
            .map(Run::to_json)
            .ok_or_else(|| ApiError::not_found(format!("Job run {run_id} of job {name} not found")))
    }

    /// One page of the job's runs, newest first. NextToken is the id of the last run returned.
    pub fn get_runs(
        &self,
        name: &str,
        max_results: Option<u64>,
        next_token: Option<&str>,
    ) -> Result<Value> {
        let max = match max_results {
            None => DEFAULT_MAX_RESULTS,
            Some(n @ 1..=MAX_RESULTS_LIMIT) => n,
            Some(n) => {
                return Err(ApiError::invalid_input(format!(
                    "MaxResults must be 1-{MAX_RESULTS_LIMIT}, not {n}"
                )))
            }
        } as usize;
        let state = self.lock();
        if !state.jobs.contains_key(name) {
            return Err(job_not_found(name));
        }
        let newest_first: Vec<&Run> = state
            .runs
            .iter()
            .rev()
            .filter(|r| r.job_name == name)
            .collect();
        let start = match next_token {
            None | Some("") => 0,
            Some(token) => match newest_first.iter().position(|r| r.id == token) {
                Some(i) => i + 1,
                None => {
                    return Err(ApiError::invalid_input(format!(
                        "NextToken {token} is not valid"
                    )))
                }
            },
        };
        let page: Vec<&Run> = newest_first.iter().skip(start).take(max).copied().collect();
        let mut out = Map::new();
        out.insert(
            "JobRuns".into(),
            Value::Array(page.iter().map(|r| r.to_json()).collect()),
        );
        if start + page.len() < newest_first.len() {
            if let Some(last) = page.last() {
                out.insert("NextToken".into(), json!(last.id));
            }
        }
        Ok(Value::Object(out))
    }

    /// BatchStopJobRun: each active run goes STOPPING and its runner is told; the others are
    /// reported in Errors, as Glue does.
    pub fn stop_runs(&self, name: &str, run_ids: &[String]) -> Value {
        let mut state = self.lock();
        let job_exists = state.jobs.contains_key(name);
        let mut submitted = Vec::new();
        let mut errors = Vec::new();
        for id in run_ids {
            let run = state
                .runs
                .iter_mut()
                .find(|r| &r.id == id && r.job_name == name);
            let problem = match run {
                _ if !job_exists => {
                    Some(("EntityNotFoundException", format!("Job {name} not found")))
                }
                None => Some((
                    "EntityNotFoundException",
                    format!("Job run {id} of job {name} not found"),
                )),
                Some(run) if !run.state.is_active() => Some((
                    "InvalidInputException",
                    format!(
                        "Job run {id} is {} and cannot be stopped",
                        run.state.as_str()
                    ),
                )),
                Some(run) => {
                    if run.state != RunState::Stopping {
                        run.state = RunState::Stopping;
                        run.last_modified_on = now();
                        run.stop.notify_one();
                        log!("run {id} of job {name}: STOPPING");
                    }
                    None
                }
            };
            match problem {
                None => submitted.push(json!({"JobName": name, "JobRunId": id})),
                Some((code, message)) => errors.push(json!({
                    "JobName": name, "JobRunId": id,
                    "ErrorDetail": {"ErrorCode": code, "ErrorMessage": message},
                })),
            }
        }
        json!({"SuccessfulSubmissions": submitted, "Errors": errors})
    }

    /// The ids of runs that still have (or may soon have) a process.
    pub fn active_run_ids(&self) -> Vec<String> {
        self.lock()
            .runs
            .iter()
            .filter(|r| r.state.is_active())
            .map(|r| r.id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(extra: Value) -> Map<String, Value> {
        let mut def =
            json!({"Role": "r", "Command": {"Name": "glueetl", "ScriptLocation": "s3://b/s.py"}});
        def.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        def.as_object().unwrap().clone()
    }

    #[test]
    fn defaults_are_filled_and_tags_kept_apart() {
        let store = Store::default();
        store
            .create_job("j", definition(json!({"Tags": {"a": "b"}})))
            .unwrap();
        let job = store.get_job("j").unwrap();
        assert_eq!(job["Timeout"], 2880);
        assert_eq!(job["MaxRetries"], 0);
        assert_eq!(job["ExecutionProperty"]["MaxConcurrentRuns"], 1);
        assert!(job.get("Tags").is_none());
        assert_eq!(job["Name"], "j");
        assert_eq!(store.get_tags("j").unwrap()["a"], "b");
    }

    #[test]
    fn tags_are_added_removed_and_limited() {
        let store = Store::default();
        store
            .create_job("j", definition(json!({"Tags": {"a": "1", "b": "2"}})))
            .unwrap();
        store
            .tag_job(
                "j",
                Tags::from([("b".into(), "3".into()), ("c".into(), "4".into())]),
            )
            .unwrap();
        store.untag_job("j", &["a".into(), "zz".into()]).unwrap();
        let tags = store.get_tags("j").unwrap();
        assert_eq!(
            tags,
            Tags::from([("b".into(), "3".into()), ("c".into(), "4".into())])
        );
        let fifty: Tags = (0..49).map(|i| (format!("k{i}"), String::new())).collect();
        let err = store.tag_job("j", fifty).unwrap_err();
        assert_eq!(err.code, "InvalidInputException");
        assert_eq!(
            store.get_tags("j").unwrap().len(),
            2,
            "a refused TagResource changes nothing"
        );
        assert_eq!(
            store.get_tags("nope").unwrap_err().code,
            "EntityNotFoundException"
        );
        let bad = store
            .create_job("k", definition(json!({"Tags": {"aws:x": "1"}})))
            .unwrap_err();
        assert_eq!(bad.code, "InvalidInputException");
    }

    fn ended(state: RunState) -> Outcome {
        Outcome {
            state,
            error_message: None,
            execution_seconds: 1,
        }
    }

    #[test]
    fn a_failed_run_is_retried_until_max_retries() {
        let store = Store::default();
        store
            .create_job(
                "j",
                definition(json!({"MaxRetries": 2, "DefaultArguments": {"--d": "job"}})),
            )
            .unwrap();
        let first = store
            .start_run("j", BTreeMap::from([("--a".into(), "run".into())]), Some(9))
            .unwrap();
        let mut launches = vec![first.clone()];
        let mut launch = first;
        while let Some(next) = store.run_finished(&launch, ended(RunState::Failed)) {
            assert_eq!(next.arguments, launch.arguments);
            assert_eq!(next.timeout_minutes, 9);
            launches.push(next.clone());
            launch = next;
        }
        assert_eq!(launches.len(), 3);
        for (attempt, launch) in launches.iter().enumerate() {
            let run = store.get_run("j", &launch.run_id).unwrap();
            assert_eq!(run["Attempt"], attempt);
            assert_eq!(run["JobRunState"], "FAILED");
            assert_eq!(run["Arguments"], json!({"--a": "run"}));
            let previous = attempt.checked_sub(1).map(|i| json!(launches[i].run_id));
            assert_eq!(run.get("PreviousRunId"), previous.as_ref());
        }
    }

    #[test]
    fn only_failures_are_retried() {
        let store = Store::default();
        store
            .create_job(
                "j",
                definition(json!({"MaxRetries": 3, "ExecutionProperty": {"MaxConcurrentRuns": 9}})),
            )
            .unwrap();
        for state in [RunState::Succeeded, RunState::Timeout, RunState::Stopped] {
            let launch = store.start_run("j", BTreeMap::new(), None).unwrap();
            assert!(
                store.run_finished(&launch, ended(state)).is_none(),
                "{state:?}"
            );
        }
        // A run asked to stop is not retried even if its process ends with a failure.
        let launch = store.start_run("j", BTreeMap::new(), None).unwrap();
        store.stop_runs("j", std::slice::from_ref(&launch.run_id));
        assert!(store
            .run_finished(&launch, ended(RunState::Failed))
            .is_none());
    }

    #[test]
    fn max_retries_is_read_when_the_first_attempt_starts() {
        let store = Store::default();
        store
            .create_job("j", definition(json!({"MaxRetries": 1})))
            .unwrap();
        let launch = store.start_run("j", BTreeMap::new(), None).unwrap();
        store
            .update_job("j", definition(json!({"MaxRetries": 0})))
            .unwrap();
        let retry = store
            .run_finished(&launch, ended(RunState::Failed))
            .unwrap();
        assert!(store
            .run_finished(&retry, ended(RunState::Failed))
            .is_none());
        // A job deleted meanwhile has no runs left to retry.
        let store = Store::default();
        store
            .create_job("j", definition(json!({"MaxRetries": 1})))
            .unwrap();
        let launch = store.start_run("j", BTreeMap::new(), None).unwrap();
        store.delete_job("j");
        assert!(store
            .run_finished(&launch, ended(RunState::Failed))
            .is_none());
    }

    #[test]
    fn bad_definitions_are_invalid_input() {
        let store = Store::default();
        for bad in [
            json!({"Role": "r"}),
            json!({"Command": {"ScriptLocation": "s3://b/k"}}),
            json!({"Role": "r", "Command": {}, "Timeout": -1}),
            json!({"Role": "r", "Command": {}, "Timeout": 0}),
            json!({"Role": "r", "Command": {}, "DefaultArguments": {"--a": 1}}),
            json!({"Role": "r", "Command": {}, "ExecutionProperty": {"MaxConcurrentRuns": 0}}),
        ] {
            let err = store
                .create_job("j", bad.as_object().unwrap().clone())
                .unwrap_err();
            assert_eq!(err.code, "InvalidInputException", "{bad}");
        }
    }

    #[test]
    fn run_arguments_overlay_the_defaults() {
        let store = Store::default();
        store
            .create_job(
                "j",
                definition(json!({"DefaultArguments": {"--a": "job", "--b": "job"}, "Timeout": 7})),
            )
            .unwrap();
        let launch = store
            .start_run("j", BTreeMap::from([("--b".into(), "run".into())]), None)
            .unwrap();
        assert_eq!(launch.arguments["--a"], "job");
        assert_eq!(launch.arguments["--b"], "run");
        assert_eq!(launch.timeout_minutes, 7);
        assert_eq!(launch.script_location, "s3://b/s.py");
        assert!(launch.run_id.starts_with("jr_") && launch.run_id.len() == 67);
        // The run itself shows only its own arguments, as in Glue.
        let run = store.get_run("j", &launch.run_id).unwrap();
        assert_eq!(run["Arguments"], json!({"--b": "run"}));
        assert_eq!(run["JobRunState"], "STARTING");
    }

    #[test]
    fn next_token_pages_newest_first() {
        let store = Store::default();
        store
            .create_job(
                "j",
                definition(json!({"ExecutionProperty": {"MaxConcurrentRuns": 10}})),
            )
            .unwrap();
        let ids: Vec<String> = (0..3)
            .map(|_| store.start_run("j", BTreeMap::new(), None).unwrap().run_id)
            .collect();
        let first = store.get_runs("j", Some(2), None).unwrap();
        let got: Vec<&str> = first["JobRuns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Id"].as_str().unwrap())
            .collect();
        assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
        let token = first["NextToken"].as_str().unwrap();
        let second = store.get_runs("j", Some(2), Some(token)).unwrap();
        assert_eq!(second["JobRuns"][0]["Id"], ids[0].as_str());
        assert!(second.get("NextToken").is_none());
        assert_eq!(
            store.get_runs("j", Some(0), None).unwrap_err().code,
            "InvalidInputException"
        );
    }
}
