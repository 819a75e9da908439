//! The Glue job each table gets: its desired definition (from the environment and the request)
//! and the comparison with what Glue has stored. UpdateJob resets whatever it is not given, so
//! an update always carries the full definition, and only happens when something differs.

use crate::checks;
use crate::config::{self, Vars};
use crate::contract::NormalizedRequest;
use crate::error::{Result, UnloadError};
use std::collections::BTreeMap;

pub mod env {
    pub const SCRIPT_LOCATION: &str = "GLUE_SCRIPT_LOCATION";
    pub const TEMPLATE_JOB_NAME: &str = "GLUE_TEMPLATE_JOB_NAME";
    pub const ROLE_ARN: &str = "GLUE_JOB_ROLE_ARN";
    pub const VERSION: &str = "GLUE_VERSION";
    pub const WORKER_TYPE: &str = "GLUE_WORKER_TYPE";
    pub const NUMBER_OF_WORKERS: &str = "GLUE_NUMBER_OF_WORKERS";
    pub const TIMEOUT_MINUTES: &str = "GLUE_JOB_TIMEOUT_MINUTES";
    /// Pinned (see `PINNED_MAX_RETRIES`): accepted only as 0, so an old stack's value is refused.
    pub const MAX_RETRIES: &str = "GLUE_MAX_RETRIES";
    /// Pinned (see `PINNED_MAX_CONCURRENT_RUNS`): accepted only as 1.
    pub const MAX_CONCURRENT_RUNS: &str = "GLUE_MAX_CONCURRENT_RUNS";
    /// `arn:<partition>:glue:<region>:<account>:job/`: ensure-job reads a job's tags by its ARN.
    pub const JOB_ARN_PREFIX: &str = "GLUE_JOB_ARN_PREFIX";
    pub const TEMP_DIR: &str = "GLUE_TEMP_DIR";
    pub const EXECUTION_CLASS: &str = "GLUE_EXECUTION_CLASS";
    pub const DEFAULT_ARGUMENTS: &str = "GLUE_DEFAULT_ARGUMENTS";
    pub const TAGS: &str = "GLUE_JOB_TAGS";
}

/// Glue never retries a table job's run. A Glue retry is a new JobRun (new Id, Attempt + 1) that
/// the workflow, which follows the run it started, would not see: it would report a failure while
/// the retry writes. The workflow owns retries instead (its Retry clauses, or a new execution).
pub const PINNED_MAX_RETRIES: i32 = 0;
/// One run per table at a time: two runs of one table would race on the same folders (and the
/// overwrite protocol's listing). A second start waits through ConcurrentRunsExceeded retries.
pub const PINNED_MAX_CONCURRENT_RUNS: i32 = 1;
/// The tag that names the stack owning a table job (GLUE_JOB_TAGS sets it at creation).
pub const OWNER_TAG: &str = "redshift-unload:stack";
/// Worker types AWS Glue runs with the FLEX execution class ("Flex" in the Glue developer guide,
/// "Job properties for Spark jobs": Flex is available for G.1X and G.2X workers only).
pub const FLEX_WORKER_TYPES: [&str; 2] = ["G.1X", "G.2X"];

/// Keys GLUE_DEFAULT_ARGUMENTS may not set (data/reserved_glue_arguments.json, which the
/// template's AllowedPattern test reads too): Glue's internal ones, the ones ensure-job manages,
/// and the job's own run arguments.
pub fn reserved_arguments() -> Vec<String> {
    let data: serde_json::Value =
        serde_json::from_str(include_str!("../data/reserved_glue_arguments.json"))
            .unwrap_or_default();
    ["glue_reserved", "managed", "job"]
        .iter()
        .filter_map(|list| data.get(list).and_then(|v| v.as_array()))
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// The job settings shared by every table's job, from ensure-job's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    pub script: ScriptSource,
    pub role_arn: String,
    pub glue_version: String,
    pub worker_type: String,
    pub number_of_workers: i32,
    pub timeout_minutes: i32,
    pub max_retries: i32,
    pub max_concurrent_runs: i32,
    pub temp_dir: Option<String>,
    pub execution_class: String,
    pub default_arguments: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// With it, ensure-job refuses a job that another stack's tag claims.
    pub job_arn_prefix: Option<String>,
}

/// Where the Glue script is: GLUE_SCRIPT_LOCATION when set, else the script of the template job
/// the stack deployed (GLUE_TEMPLATE_JOB_NAME; `sam deploy` uploaded its script).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptSource {
    Location(String),
    TemplateJob(String),
}

impl JobSettings {
    /// The stack that owns the jobs these settings make (the OWNER_TAG of GLUE_JOB_TAGS).
    pub fn owner(&self) -> Option<&str> {
        self.tags.get(OWNER_TAG).map(String::as_str)
    }
}

impl JobSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars::new(lookup);
        let get = |name: &str| vars.text(name);
        let map = |name: &str| -> Result<BTreeMap<String, String>> {
            match get(name) {
                None => Ok(BTreeMap::new()),
                Some(text) => serde_json::from_str(&text).map_err(|e| {
                    config::error(name, format!("must be a JSON object of strings: {e}"))
                }),
            }
        };
        let script = match (get(env::SCRIPT_LOCATION), get(env::TEMPLATE_JOB_NAME)) {
            (Some(uri), _) => {
                checks::s3_location(env::SCRIPT_LOCATION, &uri).map_err(as_config)?;
                ScriptSource::Location(uri)
            }
            (None, Some(template)) => ScriptSource::TemplateJob(template),
            (None, None) => {
                return Err(config::error(
                    env::SCRIPT_LOCATION,
                    format!(
                        "is not set, and neither is {}: one must name the Glue script",
                        env::TEMPLATE_JOB_NAME
                    ),
                ))
            }
        };
        let temp_dir = get(env::TEMP_DIR);
        if let Some(uri) = &temp_dir {
            checks::s3_location(env::TEMP_DIR, uri).map_err(as_config)?;
        }
        let execution_class = get(env::EXECUTION_CLASS)
            .unwrap_or_else(|| "STANDARD".into())
            .to_ascii_uppercase();
        if !["STANDARD", "FLEX"].contains(&execution_class.as_str()) {
            return Err(config::error(
                env::EXECUTION_CLASS,
                "must be STANDARD or FLEX",
            ));
        }
        let worker_type = get(env::WORKER_TYPE).unwrap_or_else(|| "G.1X".into());
        if execution_class == "FLEX" && !FLEX_WORKER_TYPES.contains(&worker_type.as_str()) {
            return Err(config::error(
                env::EXECUTION_CLASS,
                format!(
                    "FLEX runs only on {} workers, not {worker_type} (set by {}); CreateJob would fail",
                    FLEX_WORKER_TYPES.join(" or "),
                    env::WORKER_TYPE
                ),
            ));
        }
        let default_arguments = map(env::DEFAULT_ARGUMENTS)?;
        let reserved = reserved_arguments();
        if let Some(key) = default_arguments.keys().find(|k| reserved.contains(k)) {
            return Err(config::error(
                env::DEFAULT_ARGUMENTS,
                format!("sets {key:?}, which Glue reserves or this stack sets itself; remove it"),
            ));
        }
        let pinned = |name: &str, value: i32| -> Result<i32> {
            match vars.number(name, value, i32::MIN..=i32::MAX)? {
                v if v == value => Ok(v),
                v => Err(config::error(
                    name,
                    format!("is {v}, but the table jobs are pinned to {value} (docs/ARCHITECTURE.md); drop the setting"),
                )),
            }
        };
        Ok(Self {
            script,
            role_arn: get(env::ROLE_ARN).ok_or_else(|| {
                config::error(env::ROLE_ARN, "is required (the role the Glue job runs as)")
            })?,
            glue_version: get(env::VERSION).unwrap_or_else(|| "5.0".into()),
            worker_type,
            number_of_workers: vars.number(env::NUMBER_OF_WORKERS, 2, 2..=1000)?,
            timeout_minutes: vars.number(env::TIMEOUT_MINUTES, 120, 1..=10_080)?,
            max_retries: pinned(env::MAX_RETRIES, PINNED_MAX_RETRIES)?,
            max_concurrent_runs: pinned(env::MAX_CONCURRENT_RUNS, PINNED_MAX_CONCURRENT_RUNS)?,
            temp_dir,
            execution_class,
            default_arguments,
            tags: map(env::TAGS)?,
            job_arn_prefix: get(env::JOB_ARN_PREFIX),
        })
    }

    pub fn from_env() -> Result<Self> {
        Self::from_lookup(config::process_env)
    }
}

fn as_config(err: UnloadError) -> UnloadError {
    match err {
        UnloadError::InvalidRequest(msg) => UnloadError::ConfigurationError(msg),
        other => other,
    }
}

/// The job definition ensure-job wants Glue to hold. Also the shape we read a stored job into,
/// so the comparison is one `==` per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDefinition {
    pub description: String,
    pub role: String,
    pub script_location: String,
    pub glue_version: String,
    pub worker_type: String,
    pub number_of_workers: i32,
    pub timeout_minutes: i32,
    pub max_retries: i32,
    pub max_concurrent_runs: i32,
    pub execution_class: String,
    pub connections: Vec<String>,
    pub default_arguments: BTreeMap<String, String>,
}

impl JobDefinition {
    /// The definition for one table's job. `script_location` is resolved by the caller
    /// (the setting, or the template job's script).
    pub fn desired(
        settings: &JobSettings,
        request: &NormalizedRequest,
        script_location: &str,
    ) -> Self {
        let mut default_arguments = settings.default_arguments.clone();
        default_arguments.insert("--job-language".into(), "python".into());
        if let Some(temp_dir) = &settings.temp_dir {
            default_arguments.insert("--TempDir".into(), temp_dir.clone());
        }
        Self {
            description: format!(
                "Unloads {} from Redshift to the S3 data lake (managed by ensure-job).",
                request.table
            ),
            role: settings.role_arn.clone(),
            script_location: script_location.to_string(),
            glue_version: settings.glue_version.clone(),
            worker_type: settings.worker_type.clone(),
            number_of_workers: settings.number_of_workers,
            timeout_minutes: settings.timeout_minutes,
            max_retries: settings.max_retries,
            max_concurrent_runs: settings.max_concurrent_runs,
            execution_class: settings.execution_class.clone(),
            connections: vec![request.glue_connection.clone()],
            default_arguments,
        }
    }

    /// Names of the fields in which `stored` differs from `self` (empty = nothing to update).
    pub fn differences(&self, stored: &JobDefinition) -> Vec<&'static str> {
        let mut diff = Vec::new();
        let mut check = |name: &'static str, same: bool| {
            if !same {
                diff.push(name);
            }
        };
        check("Description", self.description == stored.description);
        check("Role", self.role == stored.role);
        check(
            "Command.ScriptLocation",
            self.script_location == stored.script_location,
        );
        check("GlueVersion", self.glue_version == stored.glue_version);
        check("WorkerType", self.worker_type == stored.worker_type);
        check(
            "NumberOfWorkers",
            self.number_of_workers == stored.number_of_workers,
        );
        check("Timeout", self.timeout_minutes == stored.timeout_minutes);
        check("MaxRetries", self.max_retries == stored.max_retries);
        check(
            "ExecutionProperty.MaxConcurrentRuns",
            self.max_concurrent_runs == stored.max_concurrent_runs,
        );
        check(
            "ExecutionClass",
            self.execution_class == stored.execution_class,
        );
        check("Connections", self.connections == stored.connections);
        check(
            "DefaultArguments",
            self.default_arguments == stored.default_arguments,
        );
        diff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn settings() -> JobSettings {
        JobSettings::from_lookup(lookup(&[
            (
                "GLUE_SCRIPT_LOCATION",
                "s3://artifacts-bucket/glue/unload_table.py",
            ),
            ("GLUE_JOB_ROLE_ARN", "arn:aws:iam::123456789012:role/glue"),
            ("GLUE_TEMP_DIR", "s3://artifacts-bucket/tmp"),
            ("GLUE_DEFAULT_ARGUMENTS", r#"{"--enable-metrics":"true"}"#),
        ]))
        .unwrap()
    }

    #[test]
    fn defaults_fill_the_settings() {
        let s = settings();
        assert_eq!(s.glue_version, "5.0");
        assert_eq!(s.worker_type, "G.1X");
        assert_eq!(s.number_of_workers, 2);
        assert_eq!(s.timeout_minutes, 120);
        assert_eq!(s.max_concurrent_runs, 1);
        assert_eq!(s.execution_class, "STANDARD");
    }

    #[test]
    fn settings_refuse_what_glue_would() {
        let role = ("GLUE_JOB_ROLE_ARN", "arn:aws:iam::123456789012:role/glue");
        let script = ("GLUE_SCRIPT_LOCATION", "s3://artifacts-bucket/x.py");
        for (vars, names) in [
            (vec![script], "GLUE_JOB_ROLE_ARN"),
            (vec![role], "GLUE_SCRIPT_LOCATION"),
            (
                vec![role, script, ("GLUE_NUMBER_OF_WORKERS", "1")],
                "GLUE_NUMBER_OF_WORKERS",
            ),
            (
                vec![role, script, ("GLUE_EXECUTION_CLASS", "cheap")],
                "GLUE_EXECUTION_CLASS",
            ),
            (
                vec![role, script, ("GLUE_DEFAULT_ARGUMENTS", "[1]")],
                "GLUE_DEFAULT_ARGUMENTS",
            ),
            (
                vec![role, ("GLUE_SCRIPT_LOCATION", "/tmp/x.py")],
                "GLUE_SCRIPT_LOCATION",
            ),
        ] {
            let err = JobSettings::from_lookup(lookup(&vars)).unwrap_err();
            assert_eq!(err.kind(), "ConfigurationError");
            assert!(err.to_string().contains(names), "{err}");
        }
    }

    #[test]
    fn flex_is_refused_on_workers_glue_does_not_flex() {
        let base = [
            ("GLUE_SCRIPT_LOCATION", "s3://artifacts-bucket/x.py"),
            ("GLUE_JOB_ROLE_ARN", "arn:aws:iam::123456789012:role/glue"),
            ("GLUE_EXECUTION_CLASS", "FLEX"),
        ];
        for (worker, ok) in [
            ("G.1X", true),
            ("G.2X", true),
            ("G.4X", false),
            ("G.8X", false),
        ] {
            let mut vars = base.to_vec();
            vars.push(("GLUE_WORKER_TYPE", worker));
            let result = JobSettings::from_lookup(lookup(&vars));
            assert_eq!(result.is_ok(), ok, "{worker}: {result:?}");
            if let Err(err) = result {
                assert_eq!(err.kind(), "ConfigurationError");
                assert!(err.to_string().contains(worker), "{err}");
            }
        }
    }

    #[test]
    fn default_arguments_may_not_set_reserved_keys() {
        let reserved = reserved_arguments();
        for key in [
            "--conf",
            "--JOB_NAME",
            "--scriptLocation",
            "--TempDir",
            "--execution_id",
        ] {
            assert!(reserved.iter().any(|r| r == key), "{key} is listed");
        }
        for key in &reserved {
            let args = format!(r#"{{"--enable-metrics": "true", "{key}": "x"}}"#);
            let err = JobSettings::from_lookup(lookup(&[
                ("GLUE_SCRIPT_LOCATION", "s3://artifacts-bucket/x.py"),
                ("GLUE_JOB_ROLE_ARN", "arn:aws:iam::123456789012:role/glue"),
                ("GLUE_DEFAULT_ARGUMENTS", &args),
            ]))
            .unwrap_err();
            assert_eq!(err.kind(), "ConfigurationError");
            assert!(err.to_string().contains(key.as_str()), "{err}");
        }
    }

    #[test]
    fn retries_and_concurrency_are_pinned() {
        let s = settings();
        assert_eq!((s.max_retries, s.max_concurrent_runs), (0, 1));
        for (name, value) in [("GLUE_MAX_RETRIES", "2"), ("GLUE_MAX_CONCURRENT_RUNS", "3")] {
            let err = JobSettings::from_lookup(lookup(&[
                ("GLUE_SCRIPT_LOCATION", "s3://artifacts-bucket/x.py"),
                ("GLUE_JOB_ROLE_ARN", "arn:aws:iam::123456789012:role/glue"),
                (name, value),
            ]))
            .unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn template_job_may_stand_in_for_the_script_location() {
        let s = JobSettings::from_lookup(lookup(&[
            ("GLUE_TEMPLATE_JOB_NAME", "unload-template"),
            ("GLUE_JOB_ROLE_ARN", "arn:aws:iam::123456789012:role/glue"),
        ]))
        .unwrap();
        assert_eq!(
            s.script,
            ScriptSource::TemplateJob("unload-template".into())
        );
    }

    #[test]
    fn desired_definition_carries_temp_dir_and_connection() {
        let d = JobDefinition::desired(
            &settings(),
            &crate::fixtures::day_request(),
            "s3://artifacts-bucket/glue/unload_table.py",
        );
        assert_eq!(d.connections, vec!["tpc-rs".to_string()]);
        assert_eq!(
            d.default_arguments["--TempDir"],
            "s3://artifacts-bucket/tmp"
        );
        assert_eq!(d.default_arguments["--enable-metrics"], "true");
        assert_eq!(d.default_arguments["--job-language"], "python");
        assert!(d.differences(&d.clone()).is_empty());
    }

    #[test]
    fn differences_name_every_drifted_field() {
        let d = JobDefinition::desired(
            &settings(),
            &crate::fixtures::day_request(),
            "s3://artifacts-bucket/glue/unload_table.py",
        );
        let mut stored = d.clone();
        stored.number_of_workers = 10;
        stored.connections = vec!["old".into()];
        stored.default_arguments.remove("--TempDir");
        assert_eq!(
            d.differences(&stored),
            vec!["NumberOfWorkers", "Connections", "DefaultArguments"]
        );
    }
}
