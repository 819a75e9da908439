//! The execution input `start` and `backfill` send, their shared flags, and the local check
//! before sending it (pure, but for the note `note_deferred` prints).
//!
//! The check is the validate Lambda's own code (`unload_core::request::normalize`) with the same
//! UNLOAD_* environment defaults. Four defaults usually live only on the Lambda
//! (UNLOAD_DEFAULT_S3_PATH, UNLOAD_DEFAULT_GLUE_CONNECTION, UNLOAD_DEFAULT_DAY_PARTITION_KEY,
//! UNLOAD_DEFAULT_REDSHIFT_ROLE_ARN): when
//! neither the request nor the local environment gives one, the check stands in a valid
//! placeholder, validates everything else, and leaves the value to the workflow (the input sent
//! never carries the placeholder). If the workflow has no default either, its Validate state
//! refuses the request with InvalidRequest, which `watch` shows. `--strict` turns this off.
//!
//! The input sent always states its scope (SnapshotYN) and, for a day, its day
//! (DayPartitionValue), so the execution name — derived from them — names what actually runs.

use crate::failure::Failure;
use crate::output::Format;
use chrono::NaiveDate;
use serde_json::{Map, Value};
use unload_core::execution_names::Scope;
use unload_core::request::{env, normalize, RequestDefaults};

/// The unload flags `start` and `backfill` share.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Unload {
    /// The day partition key column (default: the workflow's UNLOAD_DEFAULT_DAY_PARTITION_KEY).
    #[arg(long, value_name = "COLUMN", conflicts_with = "input")]
    pub key: Option<String>,
    /// File format (default: the workflow's UNLOAD_DEFAULT_FILE_FORMAT, else parquet).
    #[arg(long, value_parser = ["parquet", "orc", "json", "csv", "avro"], conflicts_with = "input")]
    pub format: Option<String>,
    /// Write mode (default: the workflow's UNLOAD_DEFAULT_WRITE_MODE, else overwrite).
    #[arg(long, value_parser = ["overwrite", "append"], conflicts_with = "input")]
    pub write_mode: Option<String>,
    /// Engine: glue (a Glue job run) or unload (Redshift UNLOAD through the Data API; parquet,
    /// csv, json). Default: the workflow's UNLOAD_DEFAULT_ENGINE, else glue.
    #[arg(long, value_parser = ["glue", "unload"], conflicts_with = "input")]
    pub engine: Option<String>,
    /// Part of the execution name: the same table, day and tag is the same execution. Use a new
    /// tag to run an unload again on purpose.
    #[arg(long, default_value = "manual", value_name = "TAG")]
    pub run_tag: String,
    /// Refuse locally when a default the workflow would supply (S3 path, Glue connection,
    /// partition key) is not set in this environment either.
    #[arg(long)]
    pub strict: bool,
}

/// The request for `table`: a day when `day` is set, else the whole table.
pub fn input_from_flags(table: &str, day: Option<NaiveDate>, flags: &Unload) -> Value {
    let mut input = Map::new();
    let mut put = |key: &str, value: &str| {
        input.insert(key.to_string(), Value::String(value.to_string()));
    };
    put("PrefixedTablename", table);
    match day {
        Some(day) => {
            put("SnapshotYN", "y");
            put("DayPartitionValue", &day.format("%Y-%m-%d").to_string());
        }
        None => put("SnapshotYN", "n"),
    }
    if let Some(key) = &flags.key {
        put("DayPartitionKey", key);
    }
    if let Some(format) = &flags.format {
        put("FileFormat", format);
    }
    if let Some(mode) = &flags.write_mode {
        put("WriteMode", mode);
    }
    if let Some(engine) = &flags.engine {
        put("Engine", engine);
    }
    Value::Object(input)
}

/// A request that passed the local check.
#[derive(Debug, Clone)]
pub struct Checked {
    /// What to send: the request as given, its scope and day made explicit.
    pub input: Value,
    pub table: String,
    pub scope: Scope,
    /// The environment variables whose value the workflow's Validate will supply.
    pub deferred: Vec<&'static str>,
}

impl Checked {
    /// The input as sent: compact JSON, keys in a fixed order, so the same unload gives the
    /// same text (Step Functions' idempotency compares the input too).
    pub fn input_text(&self) -> String {
        self.input.to_string()
    }

    /// Says on stderr (text output only) which defaults the workflow will supply.
    pub fn note_deferred(&self, format: Format) {
        if self.deferred.is_empty() || format != Format::Text {
            return;
        }
        eprintln!(
            "note: {} not set here; the workflow's Validate supplies {}",
            self.deferred.join(", "),
            if self.deferred.len() == 1 {
                "it"
            } else {
                "them"
            }
        );
    }
}

fn absent(input: &Map<String, Value>, key: &str) -> bool {
    match input.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

/// Checks `input` as the validate Lambda would; `default_day` is the day a day request without
/// DayPartitionValue unloads (today in UNLOAD_DAY_TIME_ZONE plus UNLOAD_DAY_OFFSET_DAYS).
pub fn check(
    input: Value,
    defaults: &RequestDefaults,
    default_day: NaiveDate,
    strict: bool,
) -> Result<Checked, Failure> {
    let Value::Object(mut fields) = input else {
        return Err(Failure::refused(
            "InvalidRequest: the request must be a JSON object with keys such as PrefixedTablename",
        ));
    };
    let mut lenient = defaults.clone();
    let mut deferred = Vec::new();
    if !strict {
        let slots: [(&str, &mut Option<String>, &'static str, &str); 4] = [
            (
                "s3FilePath",
                &mut lenient.s3_path,
                env::S3_PATH,
                "s3://unloadctl-placeholder",
            ),
            (
                "GlueRSConnection",
                &mut lenient.glue_connection,
                env::GLUE_CONNECTION,
                "unloadctl-placeholder",
            ),
            (
                "DayPartitionKey",
                &mut lenient.day_partition_key,
                env::DAY_PARTITION_KEY,
                "unloadctl_placeholder",
            ),
            (
                "RedshiftRoleArn",
                &mut lenient.redshift_role_arn,
                env::REDSHIFT_ROLE_ARN,
                "arn:aws:iam::000000000000:role/unloadctl-placeholder",
            ),
        ];
        for (key, slot, var, placeholder) in slots {
            if absent(&fields, key) && slot.is_none() {
                *slot = Some(placeholder.to_string());
                deferred.push(var);
            }
        }
    }
    let request =
        normalize(&Value::Object(fields.clone()), &lenient, default_day).map_err(|e| {
            let mut failure = Failure::from(e);
            if strict {
                failure
                    .message
                    .push_str(" (--strict: every default must be set here)");
            }
            failure
        })?;
    let scope = request.scope;
    if let Scope::Full = scope {
        deferred.retain(|v| *v != env::DAY_PARTITION_KEY);
    }
    // Make the scope and day explicit, so the name (built from them) names what runs.
    if absent(&fields, "SnapshotYN") {
        let yn = if matches!(scope, Scope::Day(_)) {
            "y"
        } else {
            "n"
        };
        fields.insert("SnapshotYN".into(), Value::String(yn.into()));
    }
    if let Scope::Day(day) = scope {
        if absent(&fields, "DayPartitionValue") {
            fields.insert("DayPartitionValue".into(), Value::String(day.to_string()));
        }
    }
    Ok(Checked {
        input: Value::Object(fields),
        table: request.table,
        scope,
        deferred,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    const TABLE: &str = "Demo_Master.Orders";

    fn flags() -> Unload {
        Unload {
            key: Some("o_orderdate".into()),
            ..Unload::default()
        }
    }

    #[test]
    fn a_day_from_flags_passes_deferring_the_lambda_only_defaults() {
        let input = input_from_flags(TABLE, Some(day("1998-07-21")), &flags());
        let checked = check(input, &RequestDefaults::default(), day("2026-11-25"), false).unwrap();
        assert_eq!(checked.table, "demo_master.orders");
        assert_eq!(checked.scope, Scope::Day(day("1998-07-21").into()));
        assert_eq!(
            checked.deferred,
            vec![env::S3_PATH, env::GLUE_CONNECTION, env::REDSHIFT_ROLE_ARN]
        );
        assert!(!checked.input_text().contains("placeholder"));
        assert_eq!(
            checked.input,
            json!({"PrefixedTablename": "Demo_Master.Orders", "SnapshotYN": "y",
                   "DayPartitionValue": "1998-07-21", "DayPartitionKey": "o_orderdate"})
        );
    }

    #[test]
    fn strict_refuses_what_the_lambda_would_have_to_supply() {
        let input = input_from_flags(TABLE, Some(day("1998-07-21")), &flags());
        let err = check(input, &RequestDefaults::default(), day("2026-11-25"), true).unwrap_err();
        assert!(
            err.message.starts_with("InvalidRequest: s3FilePath"),
            "{}",
            err.message
        );
        assert_eq!(err.exit_code, crate::failure::REFUSED);
    }

    #[test]
    fn a_day_without_a_key_defers_the_key_but_a_full_table_does_not_need_one() {
        let mut f = flags();
        f.key = None;
        let checked = check(
            input_from_flags(TABLE, Some(day("1998-07-21")), &f),
            &RequestDefaults::default(),
            day("2026-11-25"),
            false,
        )
        .unwrap();
        assert!(checked.deferred.contains(&env::DAY_PARTITION_KEY));
        let checked = check(
            input_from_flags(TABLE, None, &f),
            &RequestDefaults::default(),
            day("2026-11-25"),
            false,
        )
        .unwrap();
        assert_eq!(checked.scope, Scope::Full);
        assert!(!checked.deferred.contains(&env::DAY_PARTITION_KEY));
    }

    #[test]
    fn the_engine_flag_reaches_the_request_and_is_checked_with_it() {
        let mut f = flags();
        f.engine = Some("unload".into());
        f.format = Some("orc".into());
        let input = input_from_flags(TABLE, Some(day("1998-07-21")), &f);
        assert_eq!(input["Engine"], "unload");
        let err = check(input, &RequestDefaults::default(), day("2026-11-25"), false).unwrap_err();
        assert!(err.message.contains("use Engine glue"), "{}", err.message);
    }

    #[test]
    fn real_refusals_are_still_refused() {
        let mut f = flags();
        f.format = Some("xml".into());
        let err = check(
            input_from_flags(TABLE, Some(day("1998-07-21")), &f),
            &RequestDefaults::default(),
            day("2026-11-25"),
            false,
        )
        .unwrap_err();
        assert!(err.message.contains("FileFormat"), "{}", err.message);
        let err = check(
            json!({"PrefixedTablename": "a.b", "JdbcUrl": "jdbc:redshift://h:5439/d?password=hunter2"}),
            &RequestDefaults::default(),
            day("2026-11-25"),
            false,
        )
        .unwrap_err();
        assert!(!err.message.contains("hunter2"));
        let err = check(
            json!({"PrefixedTablename": "a.b", "DayPartitonKey": "k"}),
            &RequestDefaults::default(),
            day("2026-11-25"),
            false,
        )
        .unwrap_err();
        assert!(
            err.message.contains("did you mean DayPartitionKey"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_input_file_gets_its_scope_and_default_day_pinned() {
        let input = json!({"PrefixedTablename": "s.t", "SnapshotYN": "y", "DayPartitionKey": "d"});
        let checked = check(input, &RequestDefaults::default(), day("2026-11-24"), false).unwrap();
        assert_eq!(checked.scope, Scope::Day(day("2026-11-24").into()));
        assert_eq!(checked.input["DayPartitionValue"], "2026-11-24");
        let defaults = RequestDefaults {
            snapshot_yn: Some("n".into()),
            ..RequestDefaults::default()
        };
        let checked = check(
            json!({"PrefixedTablename": "s.t"}),
            &defaults,
            day("2026-11-24"),
            false,
        )
        .unwrap();
        assert_eq!(checked.scope, Scope::Full);
        assert_eq!(checked.input["SnapshotYN"], "n");
    }
}
