//! The schedule input (the original sample's keys) → a NormalizedRequest, or a refusal.
//! Defaults for everything but the table come from the environment (see `RequestDefaults`).

use crate::catalog;
use crate::checks::{self, invalid, shown};
use crate::config::{self, Vars};
use crate::contract::{Day, EngineKind, FileFormat, Named, NormalizedRequest, Scope, WriteMode};
use crate::error::{Result, UnloadError};
use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

/// The keys a request may carry: the original sample's, plus AllowEmptySource, RegisterInCatalog
/// and Engine.
pub const REQUEST_KEYS: [&str; 13] = [
    "PrefixedTablename",
    "SnapshotYN",
    "FileFormat",
    "WriteMode",
    "s3FilePath",
    "JdbcUrl",
    "GlueRSConnection",
    "RedshiftRoleArn",
    "DayPartitionKey",
    "DayPartitionValue",
    "AllowEmptySource",
    "RegisterInCatalog",
    "Engine",
];

/// Keys that take a JSON boolean as well as a word (y/n, true/false).
const FLAG_KEYS: [&str; 2] = ["AllowEmptySource", "RegisterInCatalog"];

/// Environment variables that hold the defaults (docs/CONTRACT.md, README).
pub mod env {
    pub const SNAPSHOT_YN: &str = "UNLOAD_DEFAULT_SNAPSHOT_YN";
    pub const FILE_FORMAT: &str = "UNLOAD_DEFAULT_FILE_FORMAT";
    /// The stack's DefaultEngine: glue or unload.
    pub const ENGINE: &str = "UNLOAD_DEFAULT_ENGINE";
    pub const WRITE_MODE: &str = "UNLOAD_DEFAULT_WRITE_MODE";
    pub const S3_PATH: &str = "UNLOAD_DEFAULT_S3_PATH";
    pub const GLUE_CONNECTION: &str = "UNLOAD_DEFAULT_GLUE_CONNECTION";
    pub const REDSHIFT_ROLE_ARN: &str = "UNLOAD_DEFAULT_REDSHIFT_ROLE_ARN";
    pub const DAY_PARTITION_KEY: &str = "UNLOAD_DEFAULT_DAY_PARTITION_KEY";
    pub const DAY_TIME_ZONE: &str = "UNLOAD_DAY_TIME_ZONE";
    pub const DAY_OFFSET_DAYS: &str = "UNLOAD_DAY_OFFSET_DAYS";
    /// The Glue Data Catalog database runs are registered in (the stack's CatalogDatabaseName).
    pub const CATALOG_DATABASE: &str = "UNLOAD_CATALOG_DATABASE";
    /// Prepended to every job name, so two stacks in one account never share a job.
    pub const JOB_NAME_PREFIX: &str = "UNLOAD_JOB_NAME_PREFIX";
    /// The stack's lake root: s3FilePath must lie inside it (the Glue role may write nowhere else).
    pub const ALLOWED_S3_PATH: &str = "UNLOAD_ALLOWED_S3_PATH";
    /// Comma-separated Glue connections the job role may read.
    pub const ALLOWED_GLUE_CONNECTIONS: &str = "UNLOAD_ALLOWED_GLUE_CONNECTIONS";
    /// Comma-separated Redshift roles the stack may name.
    pub const ALLOWED_REDSHIFT_ROLE_ARNS: &str = "UNLOAD_ALLOWED_REDSHIFT_ROLE_ARNS";
}

/// Defaults read from the environment, as given (checked when used, so a bad default is reported
/// as a ConfigurationError naming its variable, not blamed on the request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestDefaults {
    pub snapshot_yn: Option<String>,
    pub file_format: Option<String>,
    pub engine: Option<String>,
    pub write_mode: Option<String>,
    pub s3_path: Option<String>,
    pub glue_connection: Option<String>,
    pub redshift_role_arn: Option<String>,
    pub day_partition_key: Option<String>,
    pub day_time_zone: Option<String>,
    pub day_offset_days: Option<String>,
    /// The stack's Glue Data Catalog database; unset = no run is registered.
    pub catalog_database: Option<String>,
    /// What the stack allows; a request outside it is refused before anything is billed.
    pub limits: StackLimits,
}

/// What the deployed stack's IAM lets a run use. validate refuses a request outside these as
/// InvalidRequest, because the Glue run would otherwise start, be billed, and die with
/// AccessDenied. Unset (the CLI, the local stack) = no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackLimits {
    pub job_name_prefix: Option<String>,
    pub s3_path: Option<String>,
    pub glue_connections: Option<Vec<String>>,
    pub redshift_role_arns: Option<Vec<String>>,
    /// The source the jobs read (SOURCE_KIND): Redshift needs a role (see `normalize`).
    pub source_kind: Option<String>,
}

impl RequestDefaults {
    /// Reads the defaults through `lookup` (std::env::var in the functions, a map in tests).
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let vars = Vars::new(lookup);
        let get = |name: &str| vars.text(name);
        Self {
            snapshot_yn: get(env::SNAPSHOT_YN),
            file_format: get(env::FILE_FORMAT),
            engine: get(env::ENGINE),
            write_mode: get(env::WRITE_MODE),
            s3_path: get(env::S3_PATH),
            glue_connection: get(env::GLUE_CONNECTION),
            redshift_role_arn: get(env::REDSHIFT_ROLE_ARN),
            day_partition_key: get(env::DAY_PARTITION_KEY),
            day_time_zone: get(env::DAY_TIME_ZONE),
            day_offset_days: get(env::DAY_OFFSET_DAYS),
            catalog_database: get(env::CATALOG_DATABASE),
            limits: StackLimits {
                job_name_prefix: get(env::JOB_NAME_PREFIX),
                s3_path: get(env::ALLOWED_S3_PATH),
                glue_connections: get(env::ALLOWED_GLUE_CONNECTIONS).map(|v| checks::list(&v)),
                redshift_role_arns: get(env::ALLOWED_REDSHIFT_ROLE_ARNS).map(|v| checks::list(&v)),
                source_kind: get(crate::run_args::SOURCE_KIND_ENV),
            },
        }
    }

    pub fn from_env() -> Self {
        Self::from_lookup(config::process_env)
    }

    /// The calendar day "today" in the configured zone at `now`, plus the configured offset.
    pub fn default_day(&self, now: DateTime<Utc>) -> Result<NaiveDate> {
        self.shift_day(self.today(now)?)
    }

    /// "Today" in the configured zone (UTC unless set).
    pub fn today(&self, now: DateTime<Utc>) -> Result<NaiveDate> {
        let zone_name = self.day_time_zone.as_deref().unwrap_or("UTC");
        let zone: Tz = zone_name.parse().map_err(|_| {
            config::error(
                env::DAY_TIME_ZONE,
                format!("{} is not an IANA time zone name", shown(zone_name)),
            )
        })?;
        Ok(now.with_timezone(&zone).date_naive())
    }

    /// `day` plus the configured offset in days (0 unless set; -1 = the day before).
    pub fn shift_day(&self, day: NaiveDate) -> Result<NaiveDate> {
        let text = self.day_offset_days.as_deref().unwrap_or("0");
        let offset: i64 = text
            .trim()
            .parse()
            .ok()
            .filter(|o: &i64| o.abs() <= 3660)
            .ok_or_else(|| {
                config::error(
                    env::DAY_OFFSET_DAYS,
                    format!("{} must be a whole number of days", shown(text)),
                )
            })?;
        let shifted = if offset >= 0 {
            day.checked_add_days(Days::new(offset.unsigned_abs()))
        } else {
            day.checked_sub_days(Days::new(offset.unsigned_abs()))
        };
        shifted.ok_or_else(|| config::error(env::DAY_OFFSET_DAYS, "moves the day out of range"))
    }
}

/// Where a value came from, so a bad default is blamed on its variable.
enum Source {
    Request(&'static str),
    Default(&'static str),
}

/// A present value and its origin.
struct Given<'v> {
    value: &'v str,
    source: Source,
}

impl Given<'_> {
    /// Applies a check; a refusal of a default becomes a ConfigurationError on its variable.
    fn check<T>(&self, check: impl FnOnce(&str, &str) -> Result<T>) -> Result<T> {
        match self.source {
            Source::Request(key) => check(key, self.value),
            Source::Default(var) => check(var, self.value).map_err(|e| match e {
                UnloadError::InvalidRequest(msg) => UnloadError::ConfigurationError(format!(
                    "{msg} (a default from the function's environment)"
                )),
                other => other,
            }),
        }
    }
}

/// The request's keys, typed: each value a string (null or "" = absent, as the original's
/// schedules left optional keys empty).
struct RawRequest<'a> {
    fields: &'a Map<String, Value>,
}

impl<'a> RawRequest<'a> {
    fn parse(event: &'a Value) -> Result<Self> {
        let fields = event.as_object().ok_or_else(|| {
            UnloadError::InvalidRequest(format!(
                "the request must be a JSON object with keys such as PrefixedTablename, not {}",
                json_kind(event)
            ))
        })?;
        for key in fields.keys() {
            if !REQUEST_KEYS.contains(&key.as_str()) {
                let hint = closest_key(key)
                    .map(|k| format!(" (did you mean {k}?)"))
                    .unwrap_or_default();
                return Err(invalid(
                    &shown(key),
                    format!(
                        "unknown key{hint}; accepted keys: {}",
                        REQUEST_KEYS.join(", ")
                    ),
                ));
            }
        }
        let raw = Self { fields };
        for key in REQUEST_KEYS {
            raw.text(key)?;
        }
        Ok(raw)
    }

    /// The key's text if present and non-empty.
    fn text(&self, key: &str) -> Result<Option<&'a str>> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(Value::Bool(_)) if FLAG_KEYS.contains(&key) => Ok(None),
            Some(other) => Err(invalid(
                key,
                format!("must be a string, not {}", json_kind(other)),
            )),
        }
    }

    /// A flag key: a JSON boolean or a word `checks::flag` reads; None when absent.
    fn flag(&self, key: &str) -> Result<Option<bool>> {
        match self.fields.get(key).and_then(Value::as_bool) {
            Some(b) => Ok(Some(b)),
            None => self.text(key)?.map(|t| checks::flag(key, t)).transpose(),
        }
    }

    /// The request's value, else the default's, with its origin.
    fn given<'v>(
        &'v self,
        key: &'static str,
        default: &'v Option<String>,
        var: &'static str,
    ) -> Result<Option<Given<'v>>> {
        Ok(match self.text(key)? {
            Some(value) => Some(Given {
                value,
                source: Source::Request(key),
            }),
            None => default.as_deref().map(|value| Given {
                value,
                source: Source::Default(var),
            }),
        })
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The accepted key a typo most likely meant (case-insensitive edit distance ≤ 2).
fn closest_key(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    REQUEST_KEYS
        .iter()
        .map(|k| (edit_distance(&key, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Validates a schedule input and fills the defaults. `default_day` is the day a day-partition
/// request unloads when it names none (see `RequestDefaults::default_day`).
pub fn normalize(
    event: &Value,
    defaults: &RequestDefaults,
    default_day: NaiveDate,
) -> Result<NormalizedRequest> {
    let raw = RawRequest::parse(event)?;

    let table_text = raw
        .text("PrefixedTablename")?
        .ok_or_else(|| invalid("PrefixedTablename", "is required (schema.table)"))?;
    let (schema, table_name) = checks::table_reference("PrefixedTablename", table_text)?;

    let is_day = match raw.given("SnapshotYN", &defaults.snapshot_yn, env::SNAPSHOT_YN)? {
        Some(g) => g.check(checks::yes_no)?,
        None => false,
    };
    let file_format = match raw.given("FileFormat", &defaults.file_format, env::FILE_FORMAT)? {
        Some(g) => g.check(checks::one_of)?,
        None => FileFormat::Parquet,
    };
    let engine = match raw.given("Engine", &defaults.engine, env::ENGINE)? {
        Some(g) => g.check(checks::one_of)?,
        None => EngineKind::Glue,
    };
    let write_mode = match raw.given("WriteMode", &defaults.write_mode, env::WRITE_MODE)? {
        Some(g) => g.check(checks::one_of)?,
        None => WriteMode::Overwrite,
    };

    let s3 = raw
        .given("s3FilePath", &defaults.s3_path, env::S3_PATH)?
        .ok_or_else(|| {
            invalid(
                "s3FilePath",
                format!(
                    "is required (no default: set {} on the function)",
                    env::S3_PATH
                ),
            )
        })?
        .check(checks::s3_location)?;
    let glue_connection = raw
        .given(
            "GlueRSConnection",
            &defaults.glue_connection,
            env::GLUE_CONNECTION,
        )?
        .ok_or_else(|| {
            invalid(
                "GlueRSConnection",
                format!(
                    "is required (no default: set {} on the function)",
                    env::GLUE_CONNECTION
                ),
            )
        })?
        .check(checks::connection_name)?;
    let redshift_role_arn = raw
        .given(
            "RedshiftRoleArn",
            &defaults.redshift_role_arn,
            env::REDSHIFT_ROLE_ARN,
        )?
        .map(|g| g.check(checks::role_arn))
        .transpose()?;
    let limits = &defaults.limits;
    let redshift_source = crate::run_args::SourceKind::from_lookup(|_| limits.source_kind.clone())?
        == crate::run_args::SourceKind::Redshift;
    if engine == EngineKind::Unload && redshift_role_arn.is_none() {
        return Err(invalid(
            "RedshiftRoleArn",
            format!(
                "is required by the unload engine: Redshift's UNLOAD writes to S3 as this role (no default: set {} on the function, the stack's DefaultRedshiftRoleArn)",
                env::REDSHIFT_ROLE_ARN
            ),
        ));
    }
    if redshift_source && redshift_role_arn.is_none() {
        // Without a role, Glue's Redshift connector hands Redshift the job role's temporary
        // credentials, which expire after an hour (long runs fail) and can write the whole lake.
        return Err(invalid(
            "RedshiftRoleArn",
            format!(
                "is required to read from Redshift (no default: set {} on the function, the stack's DefaultRedshiftRoleArn)",
                env::REDSHIFT_ROLE_ARN
            ),
        ));
    }
    if let Some(url) = raw.text("JdbcUrl")? {
        checks::jdbc_url_without_credentials("JdbcUrl", url)?;
    }
    let partition_key = raw
        .given(
            "DayPartitionKey",
            &defaults.day_partition_key,
            env::DAY_PARTITION_KEY,
        )?
        .map(|g| g.check(checks::identifier))
        .transpose()?;
    // Checked even when unused (SnapshotYN n ignores it, as the original did): nothing unchecked passes.
    let given_day = raw
        .text("DayPartitionValue")?
        .map(|v| checks::calendar_date("DayPartitionValue", v))
        .transpose()?;
    let allow_empty_source = raw.flag("AllowEmptySource")?.unwrap_or(false);
    let register_in_catalog = raw.flag("RegisterInCatalog")?;

    let scope = if is_day {
        if partition_key.is_none() {
            return Err(invalid(
                "DayPartitionKey",
                format!(
                    "is required when SnapshotYN is y (no default: set {} on the function)",
                    env::DAY_PARTITION_KEY
                ),
            ));
        }
        Scope::Day(Day::from(given_day.unwrap_or(default_day)))
    } else {
        Scope::Full
    };

    if engine == EngineKind::Unload {
        unload_engine_serves(file_format, scope, partition_key.as_deref())?;
    }
    let s3_path = s3.uri();
    check_limits(limits, &s3, &glue_connection, redshift_role_arn.as_deref())?;
    let prefix = limits.job_name_prefix.as_deref().unwrap_or_default();
    let job_name = format!("{prefix}{schema}.{table_name}_ExtractToDataLake");
    if job_name.chars().count() > checks::MAX_JOB_NAME_CHARS {
        return Err(invalid(
            "PrefixedTablename",
            format!(
                "makes a Glue job name of {} characters; Glue allows {}",
                job_name.chars().count(),
                checks::MAX_JOB_NAME_CHARS
            ),
        ));
    }
    let catalog = catalog::target(
        defaults.catalog_database.as_deref(),
        register_in_catalog,
        &schema,
        &table_name,
        file_format,
    )?;
    let mut target_uri = format!("{s3_path}/{schema}/{}/{table_name}/", file_format.name());
    if let (Some(key), Scope::Day(day)) = (&partition_key, scope) {
        target_uri.push_str(&format!("{key}_key={day}/"));
    }

    Ok(NormalizedRequest {
        table: format!("{schema}.{table_name}"),
        schema,
        table_name,
        scope,
        partition_key,
        file_format,
        write_mode,
        s3_path,
        target_uri,
        glue_connection,
        redshift_role_arn,
        allow_empty_source,
        job_name,
        engine,
        catalog,
    })
}

/// What the unload engine cannot do, refused before anything runs. UNLOAD writes Parquet, CSV
/// and JSON only (docs: r_UNLOAD "FORMAT AS"). A whole table with one folder per day would need
/// PARTITION BY, whose files land under the TO prefix as a folder, so the no-loss protocol would
/// have to copy every object into place; that scope stays with the Glue engine (ARCHITECTURE,
/// "The unload engine").
fn unload_engine_serves(
    format: FileFormat,
    scope: Scope,
    partition_key: Option<&str>,
) -> Result<()> {
    if !matches!(
        format,
        FileFormat::Parquet | FileFormat::Csv | FileFormat::Json
    ) {
        return Err(invalid(
            "FileFormat",
            format!(
                "{} is not written by the unload engine (Redshift UNLOAD writes parquet, csv or json); use Engine glue",
                format.name()
            ),
        ));
    }
    if let (Scope::Full, Some(key)) = (scope, partition_key) {
        return Err(invalid(
            "Engine",
            format!(
                "unload does not serve a whole-table run with one folder per day (DayPartitionKey {key}); use Engine glue, unload one day at a time (SnapshotYN y), or unload the flat table from a stack without a default DayPartitionKey"
            ),
        ));
    }
    Ok(())
}

/// Refuses what the stack's IAM would deny the Glue run later (see `StackLimits`).
fn check_limits(
    limits: &StackLimits,
    s3: &checks::S3Location,
    glue_connection: &str,
    redshift_role_arn: Option<&str>,
) -> Result<()> {
    if let Some(root) = &limits.s3_path {
        let root = checks::s3_location(env::ALLOWED_S3_PATH, root).map_err(|e| {
            config::error(
                env::ALLOWED_S3_PATH,
                format!("is not an s3:// location: {e}"),
            )
        })?;
        let inside = s3.bucket == root.bucket
            && (root.prefix.is_empty()
                || s3.prefix == root.prefix
                || s3.prefix.starts_with(&format!("{}/", root.prefix)));
        if !inside {
            return Err(invalid(
                "s3FilePath",
                format!(
                    "{} is outside this stack's data lake {}: the Glue job may write only there",
                    shown(&s3.uri()),
                    root.uri()
                ),
            ));
        }
    }
    if let Some(allowed) = &limits.glue_connections {
        if !allowed.iter().any(|c| c == glue_connection) {
            return Err(invalid(
                "GlueRSConnection",
                format!(
                    "{} is not a connection this stack's Glue job may use (allowed: {})",
                    shown(glue_connection),
                    allowed.join(", ")
                ),
            ));
        }
    }
    if let (Some(allowed), Some(role)) = (&limits.redshift_role_arns, redshift_role_arn) {
        if !allowed.iter().any(|r| r == role) {
            return Err(invalid(
                "RedshiftRoleArn",
                format!(
                    "{} is not a role this stack may hand to Redshift (allowed: {})",
                    shown(role),
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
