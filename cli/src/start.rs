//! `unloadctl start`: check one request locally, then StartExecution under its deterministic name.

use crate::commands::read_input;
use crate::failure::Failure;
use crate::naming;
use crate::output::Format;
use crate::request::{self, Flags};
use crate::sfn::{self, Started};
use aws_sdk_sfn::Client;
use chrono::{NaiveDate, Utc};
use serde_json::{json, Value};
use std::path::PathBuf;
use unload_core::request::RequestDefaults;

pub struct Args {
    /// The unload; no day means the whole table.
    pub flags: Flags,
    pub input: Option<PathBuf>,
    pub run_tag: String,
    pub strict: bool,
}

/// The checked request and its execution name (no AWS call).
pub fn prepare(
    args: &Args,
    defaults: &RequestDefaults,
    default_day: NaiveDate,
) -> Result<(request::Checked, String), Failure> {
    naming::check_run_tag(&args.run_tag).map_err(Failure::refused)?;
    let input = match &args.input {
        Some(path) => {
            let text = read_input(Some(path))?;
            // Never echo the file: it may hold a password the check is about to refuse.
            serde_json::from_str::<Value>(&text).map_err(|e| {
                Failure::refused(format!("{} is not valid JSON: {e}", path.display()))
            })?
        }
        None => request::input_from_flags(&args.flags),
    };
    let checked = request::check(input, defaults, default_day, args.strict)?;
    let name = naming::base_name(&checked.table, checked.scope, &args.run_tag);
    Ok((checked, name))
}

pub async fn run(
    client: &Client,
    state_machine: &str,
    args: &Args,
    format: Format,
) -> Result<String, Failure> {
    let defaults = RequestDefaults::from_env();
    let default_day = defaults.default_day(Utc::now())?;
    let (checked, name) = prepare(args, &defaults, default_day)?;
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
            if !checked.deferred.is_empty() && format == Format::Text {
                eprintln!(
                    "note: {} not set here; the workflow's Validate supplies {}",
                    checked.deferred.join(", "),
                    if checked.deferred.len() == 1 {
                        "it"
                    } else {
                        "them"
                    }
                );
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(day: Option<&str>) -> Args {
        Args {
            flags: Flags {
                table: "demo_master.orders".into(),
                day: day.map(|d| d.parse().unwrap()),
                key: None,
                ..Flags::default()
            },
            input: None,
            run_tag: "manual".into(),
            strict: false,
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
