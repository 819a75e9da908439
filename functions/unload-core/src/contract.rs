//! The JSON object that flows through a Step Functions execution (docs/CONTRACT.md).
//! Each function receives the whole state and returns only its own part; the state machine
//! places that part with ResultSelector/ResultPath. Output structs serialize every field (None as
//! null) because ResultSelector fails on a missing path.

pub use crate::checks::Named;
use crate::error::{Result, UnloadError};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The state as seen by ensure-job, start-run, check-status and report. Parts not yet placed are
/// None; unknown parts are ignored so the contract can grow without breaking older functions.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct State {
    #[serde(default)]
    pub input: Value,
    #[serde(default)]
    pub execution: Option<ExecutionInfo>,
    #[serde(default)]
    pub request: Option<NormalizedRequest>,
    #[serde(default)]
    pub job: Option<JobRef>,
    #[serde(default)]
    pub run: Option<RunStatus>,
    #[serde(default)]
    pub error: Option<TaskError>,
}

impl State {
    pub fn from_value(event: Value) -> Result<Self> {
        serde_json::from_value(event).map_err(|e| {
            UnloadError::InvalidState(format!("the task input is not a workflow state: {e}"))
        })
    }

    pub fn request(&self) -> Result<&NormalizedRequest> {
        self.request
            .as_ref()
            .ok_or_else(|| missing("request", "Validate"))
    }

    pub fn job(&self) -> Result<&JobRef> {
        self.job.as_ref().ok_or_else(|| missing("job", "EnsureJob"))
    }

    pub fn run(&self) -> Result<&RunStatus> {
        self.run.as_ref().ok_or_else(|| missing("run", "StartRun"))
    }

    pub fn execution(&self) -> Result<&ExecutionInfo> {
        self.execution
            .as_ref()
            .ok_or_else(|| missing("execution", "Prepare"))
    }
}

fn missing(part: &str, placed_by: &str) -> UnloadError {
    UnloadError::InvalidState(format!(
        "the state has no `{part}` (placed by the {placed_by} state)"
    ))
}

/// Context of the execution, copied from `$$.Execution` by the Prepare state.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ExecutionInfo {
    pub id: String,
    pub name: String,
    pub started_at: String,
}

/// What to unload, after validation: every field checked, every default filled.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct NormalizedRequest {
    /// `schema.table`, lower-cased.
    pub table: String,
    pub schema: String,
    pub table_name: String,
    /// In JSON `scope` ("day" | "full") and `partition_value` (the day or null): see `wire`.
    #[serde(flatten)]
    pub scope: Scope,
    pub partition_key: Option<String>,
    pub file_format: FileFormat,
    pub write_mode: WriteMode,
    /// `s3://bucket[/prefix]` without a trailing slash.
    pub s3_path: String,
    /// Where the data lands, with a trailing slash.
    pub target_uri: String,
    pub glue_connection: String,
    pub redshift_role_arn: Option<String>,
    pub allow_empty_source: bool,
    pub job_name: String,
    /// What runs the unload: the Glue job (the default) or Redshift's UNLOAD through the Data
    /// API. (Absent in a state from before the second engine: read as glue.)
    #[serde(default)]
    pub engine: EngineKind,
    /// Where a successful run is registered in the Glue Data Catalog; None: not registered.
    /// (Absent in a state from before the catalog: read as None.)
    #[serde(default)]
    pub catalog: Option<CatalogTable>,
}

/// A table of the Glue Data Catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CatalogTable {
    pub database: String,
    pub table: String,
}

impl NormalizedRequest {
    /// The day of a day-partition request.
    pub fn day(&self) -> Option<Day> {
        match self.scope {
            Scope::Day(day) => Some(day),
            Scope::Full => None,
        }
    }

    /// The day as the contract writes it ("YYYY-MM-DD"), only for a day-partition request.
    pub fn partition_value(&self) -> Option<String> {
        self.day().map(|day| day.to_string())
    }

    /// `key=value` of the day partition, for reports and metrics.
    pub fn partition_label(&self) -> Option<String> {
        match (&self.partition_key, self.day()) {
            (Some(k), Some(v)) => Some(format!("{k}={v}")),
            _ => None,
        }
    }
}

/// What a run unloads: one day partition (SnapshotYN = y) or the whole table (SnapshotYN = n).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(try_from = "wire::ScopeFields", into = "wire::ScopeFields")]
pub enum Scope {
    Day(Day),
    Full,
}

impl Scope {
    /// The day, or "full": how run names and reports label the scope.
    pub fn label(&self) -> String {
        match self {
            Self::Day(day) => day.to_string(),
            Self::Full => "full".to_string(),
        }
    }
}

/// A calendar day. Its JSON and text are "YYYY-MM-DD", as the Glue job and the S3 layout read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Day(NaiveDate);

impl Day {
    pub fn date(self) -> NaiveDate {
        self.0
    }
}

impl From<NaiveDate> for Day {
    fn from(date: NaiveDate) -> Self {
        Self(date)
    }
}

impl TryFrom<String> for Day {
    type Error = UnloadError;

    fn try_from(text: String) -> Result<Self> {
        crate::checks::calendar_date("day", &text).map(Self)
    }
}

impl From<Day> for String {
    fn from(day: Day) -> Self {
        day.to_string()
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// The scope's JSON (docs/CONTRACT.md, "NormalizedRequest"): its name and the day side by side,
/// flattened into the request, as the state machine and older functions read them.
mod wire {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
    #[serde(rename_all = "lowercase")]
    enum ScopeName {
        Day,
        Full,
    }

    #[derive(Deserialize, Serialize)]
    pub struct ScopeFields {
        scope: ScopeName,
        partition_value: Option<Day>,
    }

    impl From<Scope> for ScopeFields {
        fn from(scope: Scope) -> Self {
            match scope {
                Scope::Day(day) => Self {
                    scope: ScopeName::Day,
                    partition_value: Some(day),
                },
                Scope::Full => Self {
                    scope: ScopeName::Full,
                    partition_value: None,
                },
            }
        }
    }

    impl TryFrom<ScopeFields> for Scope {
        type Error = &'static str;

        fn try_from(fields: ScopeFields) -> std::result::Result<Self, Self::Error> {
            match (fields.scope, fields.partition_value) {
                (ScopeName::Day, Some(day)) => Ok(Scope::Day(day)),
                (ScopeName::Day, None) => Err("a request of scope day needs its partition_value"),
                (ScopeName::Full, _) => Ok(Scope::Full),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Parquet,
    Orc,
    Json,
    Csv,
    Avro,
}

impl Named for FileFormat {
    const ALL: &'static [Self] = &[Self::Parquet, Self::Orc, Self::Json, Self::Csv, Self::Avro];

    fn name(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Orc => "orc",
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Avro => "avro",
        }
    }
}

/// The service that runs an unload (README "Choosing an engine").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// A Glue (PySpark) job run: every format, every scope.
    #[default]
    Glue,
    /// Redshift's UNLOAD, issued through the Redshift Data API: Parquet, CSV and JSON only.
    Unload,
}

impl Named for EngineKind {
    const ALL: &'static [Self] = &[Self::Glue, Self::Unload];

    fn name(self) -> &'static str {
        match self {
            Self::Glue => "glue",
            Self::Unload => "unload",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    Overwrite,
    Append,
}

impl Named for WriteMode {
    const ALL: &'static [Self] = &[Self::Overwrite, Self::Append];

    fn name(self) -> &'static str {
        match self {
            Self::Overwrite => "overwrite",
            Self::Append => "append",
        }
    }
}

/// ensure-job's part.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct JobRef {
    pub name: String,
    pub action: JobAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobAction {
    Created,
    Updated,
    Unchanged,
    /// The request's engine needs no Glue job (unload): ensure-job touched nothing.
    Skipped,
}

/// register's part: what the Glue Data Catalog holds after a successful run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CatalogReport {
    pub database: String,
    pub table: String,
    /// What happened to the table: created, updated (columns added) or unchanged.
    pub action: JobAction,
    pub partitions_created: u64,
    pub partitions_updated: u64,
    pub partitions_unchanged: u64,
    /// Days a whole-table overwrite removed from the lake (gone from the source).
    pub partitions_deleted: u64,
}

/// start-run's and check-status's part: where the Glue run stands and when to look again.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RunStatus {
    pub id: String,
    /// Glue's JobRunState (as Glue spells it in JSON).
    pub state: crate::run::RunState,
    pub outcome: Outcome,
    pub polls: u32,
    pub next_poll_seconds: u64,
    pub elapsed_seconds: u64,
    pub execution_seconds: u64,
    pub attempt: i32,
    pub started_on: Option<String>,
    pub error_message: Option<String>,
    pub failure: Option<TaskError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Running,
    Succeeded,
    Failed,
}

/// The error object Step Functions puts at `$.error` (Catch) and the Fail state reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TaskError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// report's part.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Report {
    pub outcome: ReportOutcome,
    pub table: Option<String>,
    pub partition: Option<String>,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub files: Option<u64>,
    pub duration_seconds: Option<f64>,
    pub run_id: Option<String>,
    pub error_type: Option<String>,
    /// The Cause the execution fails with (the Failed state reads it); None on success.
    pub cause: Option<String>,
    /// A Glue run still going when the execution failed, which report asked Glue to stop.
    pub stopped_run: Option<String>,
    /// The manifest's warnings (advisory: e.g. the source changed during the run); empty on failure.
    pub warnings: Vec<String>,
    pub metrics_published: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportOutcome {
    Succeeded,
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    /// Field names of a serialized struct.
    fn keys(value: &impl Serialize) -> BTreeSet<String> {
        match serde_json::to_value(value).unwrap() {
            Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    fn sample_run() -> RunStatus {
        RunStatus {
            id: "jr_1".into(),
            state: "RUNNING".into(),
            outcome: Outcome::Running,
            polls: 0,
            next_poll_seconds: 30,
            elapsed_seconds: 0,
            execution_seconds: 0,
            attempt: 0,
            started_on: None,
            error_message: None,
            failure: None,
        }
    }

    fn sample_report() -> Report {
        Report {
            outcome: ReportOutcome::Failed,
            table: None,
            partition: None,
            rows: None,
            bytes: None,
            files: None,
            duration_seconds: None,
            run_id: None,
            error_type: None,
            cause: None,
            stopped_run: None,
            warnings: Vec::new(),
            metrics_published: 0,
        }
    }

    /// `"TimeoutSeconds": ${X}` is valid only after substitution: read such placeholders as 0.
    fn numeric_placeholders_as_zero(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let quoted = rest[..start].ends_with('"');
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .map(|e| start + e + 1)
                .unwrap_or(rest.len());
            out.push_str(if quoted { &rest[start..end] } else { "0" });
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }

    /// The ResultSelector of a Task state: the field names it reads from `$.Payload`.
    fn result_selector_fields(asl: &Value, state: &str) -> BTreeSet<String> {
        let selector = asl["States"][state]["ResultSelector"]
            .as_object()
            .unwrap_or_else(|| panic!("state {state} has no ResultSelector"));
        selector
            .iter()
            .map(|(k, v)| {
                let field = k
                    .strip_suffix(".$")
                    .unwrap_or_else(|| panic!("{state}: {k} is not a path"));
                assert_eq!(v, &json!(format!("$.Payload.{field}")), "{state}: {k}");
                field.to_string()
            })
            .collect()
    }

    #[test]
    fn state_machine_result_selectors_list_exactly_the_struct_fields() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../statemachine/unload.asl.json"
        );
        let text = std::fs::read_to_string(path).expect("statemachine/unload.asl.json is readable");
        let asl: Value =
            serde_json::from_str(&numeric_placeholders_as_zero(&text)).expect("the ASL is JSON");
        let job = JobRef {
            name: "j".into(),
            action: JobAction::Created,
        };
        let catalog = CatalogReport {
            database: "d".into(),
            table: "t".into(),
            action: JobAction::Created,
            partitions_created: 1,
            partitions_updated: 0,
            partitions_unchanged: 0,
            partitions_deleted: 0,
        };
        let cases: [(&str, BTreeSet<String>); 7] = [
            ("Validate", keys(&crate::fixtures::day_request())),
            ("RegisterInCatalog", keys(&catalog)),
            ("EnsureJob", keys(&job)),
            ("StartRun", keys(&sample_run())),
            ("CheckStatus", keys(&sample_run())),
            ("ReportSuccess", keys(&sample_report())),
            ("ReportFailure", keys(&sample_report())),
        ];
        for (state, expected) in cases {
            assert_eq!(
                result_selector_fields(&asl, state),
                expected,
                "state {state}"
            );
        }
    }

    #[test]
    fn the_scope_travels_as_scope_and_partition_value() {
        let day = crate::fixtures::day_request();
        let value = serde_json::to_value(&day).unwrap();
        assert_eq!(
            (&value["scope"], &value["partition_value"]),
            (&json!("day"), &json!("1998-07-21"))
        );
        assert_eq!(
            serde_json::from_value::<NormalizedRequest>(value.clone()).unwrap(),
            day
        );
        let full = NormalizedRequest {
            scope: Scope::Full,
            ..day
        };
        let full_value = serde_json::to_value(&full).unwrap();
        assert_eq!(
            (&full_value["scope"], &full_value["partition_value"]),
            (&json!("full"), &Value::Null)
        );
        let mut no_day = value.clone();
        no_day["partition_value"] = Value::Null;
        assert!(serde_json::from_value::<NormalizedRequest>(no_day).is_err());
        let mut bad_day = value;
        bad_day["partition_value"] = json!("1998-02-30");
        assert!(serde_json::from_value::<NormalizedRequest>(bad_day).is_err());
    }

    #[test]
    fn options_serialize_as_null_not_absent() {
        let value = serde_json::to_value(sample_run()).unwrap();
        assert_eq!(value["failure"], Value::Null);
        assert!(value.as_object().unwrap().contains_key("failure"));
    }

    #[test]
    fn state_ignores_unknown_parts_and_reads_the_error() {
        let state = State::from_value(json!({
            "input": {"PrefixedTablename": "a.b"},
            "report_error": {"Error": "x"},
            "error": {"Error": "InvalidRequest", "Cause": "{\"errorMessage\":\"bad\"}"}
        }))
        .unwrap();
        assert!(state.request.is_none());
        assert_eq!(state.error.as_ref().unwrap().error, "InvalidRequest");
        assert!(matches!(
            state.request().err(),
            Some(UnloadError::InvalidState(_))
        ));
    }

    #[test]
    fn the_sample_events_are_workflow_states() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");
        for (name, parts) in [
            ("ensure-job.json", 1),
            ("start-run.json", 2),
            ("check-status.json", 3),
            ("report-success.json", 3),
            ("register.json", 3),
            ("report-failure.json", 3),
            ("start-run-unload.json", 2),
            ("check-status-unload.json", 3),
        ] {
            let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            let state = State::from_value(serde_json::from_str(&text).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                state.request().is_ok() && state.execution().is_ok(),
                "{name}"
            );
            assert_eq!(parts >= 2, state.job.is_some(), "{name}");
            assert_eq!(parts >= 3, state.run.is_some(), "{name}");
        }
    }
}
