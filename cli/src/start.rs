//! `unloadctl start`: check one request locally, then StartExecution under its deterministic name.

use crate::args::parse_day;
use crate::failure::Failure;
use crate::output::Format;
use crate::request::{self, Unload};
use crate::sfn::{self, Aws, Started};
use crate::validate::read_input;
use chrono::{NaiveDate, Utc};
use serde_json::{json, Value};
use std::path::PathBuf;
use unload_core::execution_names as naming;
use unload_core::request::RequestDefaults;

/// Start one unload (a day or the whole table); print the execution ARN.
///
/// Checks the request locally first (the validate Lambda's code), then starts an execution named <schema>-<table>-<day|full>-<run tag>. Starting the same unload again while
/// it runs returns the running execution; once it has finished, the name is taken (use another
/// --run-tag). Prints the execution ARN.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  unloadctl start --table demo_master.orders --day 1998-07-21 --key o_orderdate\n  unloadctl start --table demo_master.orders --full --format orc\n  unloadctl start --input events/schedule-daily.json --run-tag rerun-1"
)]
pub struct Args {
    /// The table, schema.table.
    #[arg(
        long,
        value_name = "SCHEMA.TABLE",
        required_unless_present = "input",
        conflicts_with = "input"
    )]
    pub table: Option<String>,
    /// Unload this day partition.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day,
          required_unless_present_any = ["full", "input"], conflicts_with_all = ["full", "input"])]
    pub day: Option<NaiveDate>,
    /// Unload the whole table (one folder per day when a partition key is set).
    #[arg(long, conflicts_with = "input")]
    pub full: bool,
    /// Send this request file (the schedule's JSON) instead; its scope and day are made
    /// explicit (SnapshotYN, DayPartitionValue) before sending.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub unload: Unload,
}

/// The checked request and its execution name (no AWS call). No --day means the whole table:
/// clap has seen to --full (or --input) then.
pub fn prepare(
    args: &Args,
    defaults: &RequestDefaults,
    default_day: NaiveDate,
) -> Result<(request::Checked, String), Failure> {
    naming::check_run_tag(&args.unload.run_tag).map_err(Failure::refused)?;
    let input = match &args.input {
        Some(path) => {
            let text = read_input(Some(path))?;
            // Never echo the file: it may hold a password the check is about to refuse.
            serde_json::from_str::<Value>(&text).map_err(|e| {
                Failure::refused(format!("{} is not valid JSON: {e}", path.display()))
            })?
        }
        None => request::input_from_flags(
            args.table.as_deref().unwrap_or_default(),
            args.day,
            &args.unload,
        ),
    };
    let checked = request::check(input, defaults, default_day, args.unload.strict)?;
    let name = naming::base_name(&checked.table, checked.scope, &args.unload.run_tag);
    Ok((checked, name))
}

impl Args {
    pub async fn run(&self, aws: &Aws) -> Result<String, Failure> {
        let (client, format) = (&aws.client, aws.format);
        let state_machine = &aws.state_machine().await?;
        let defaults = RequestDefaults::from_env();
        let default_day = defaults.default_day(Utc::now())?;
        let (checked, name) = prepare(self, &defaults, default_day)?;
        // Same name and input while the first still runs: Step Functions returns that one. Look
        // first, only to say so.
        let derived = naming::execution_arn(state_machine, &name);
        let running_before = match &derived {
            Some(arn) => sfn::describe(client, arn)
                .await?
                .is_some_and(|e| e.status.is_running()),
            None => false,
        };
        match sfn::start(client, state_machine, &name, &checked.input_text()).await? {
            Started::Arn { arn, started } => {
                let existing = running_before;
                checked.note_deferred(format);
                Ok(match format {
                    Format::Text => {
                        if existing {
                            eprintln!(
                                "already running since {} (same name and input): not started again",
                                started.format("%H:%M:%S UTC")
                            );
                        }
                        arn
                    }
                    Format::Json => json!({"execution_arn": arn, "name": name,
                                            "started_at": started.to_rfc3339(), "already_running": existing,
                                            "input": checked.input})
                    .to_string(),
                })
            }
            Started::NameTaken => {
                let arn = derived.unwrap_or_else(|| name.clone());
                let detail = match sfn::describe(client, &arn).await? {
                    Some(e) if e.status.is_running() => format!(
                        "is running with a different input (started {})",
                        e.started.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                    Some(e) => format!(
                        "already ran: {} (started {})",
                        e.status.name(),
                        e.started.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                    None => "already exists".to_string(),
                };
                Err(Failure::failed(format!(
                    "ExecutionAlreadyExists: {name} {detail}: {arn}; pass another --run-tag to start a new one (backfill retries failed days by itself)"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(day: Option<&str>) -> Args {
        Args {
            table: Some("demo_master.orders".into()),
            day: day.map(|d| d.parse().unwrap()),
            full: day.is_none(),
            input: None,
            unload: Unload {
                run_tag: "manual".into(),
                ..Unload::default()
            },
        }
    }

    #[test]
    fn a_day_and_a_full_unload_get_their_names() {
        let today: NaiveDate = "2026-11-25".parse().unwrap();
        let (checked, name) = prepare(
            &args(Some("1998-07-21")),
            &RequestDefaults::default(),
            today,
        )
        .unwrap();
        assert_eq!(name, "demo_master-orders-1998-07-21-manual");
        assert_eq!(checked.input["SnapshotYN"], "y");
        let (_, name) = prepare(&args(None), &RequestDefaults::default(), today).unwrap();
        assert_eq!(name, "demo_master-orders-full-manual");
    }

    #[test]
    fn the_same_unload_sends_the_same_text() {
        let today: NaiveDate = "2026-11-25".parse().unwrap();
        let a = prepare(
            &args(Some("1998-07-21")),
            &RequestDefaults::default(),
            today,
        )
        .unwrap();
        let b = prepare(
            &args(Some("1998-07-21")),
            &RequestDefaults::default(),
            today,
        )
        .unwrap();
        assert_eq!(a.0.input_text(), b.0.input_text());
    }
}
