//! `unloadctl backfill --server`: the whole range as ONE execution of the batch workflow
//! (docs/CONTRACT.md, "The batch workflow"), which starts the days as child executions of the
//! unload workflow under the same names the terminal-driven backfill uses, so either one finds
//! and skips what the other already unloaded.
//!
//! The batch's input is one entry (the request this command builds for the table, without its
//! day) and the range as `Days`; its run tag is the batch's `Name`. The batch execution itself is
//! named `backfill-<schema>-<table>-<from>_<to>-<run tag>` (a hash added as for the children's
//! names when that would not fit 80 characters of `[A-Za-z0-9_-]`), so the same command always
//! names the same batch and Step Functions starts it once: a second StartExecution with the same
//! name and input returns the running one, and a batch that already ended is reported, not run
//! again.

use crate::backfill::Args;
use crate::batch_watch;
use crate::failure::Failure;
use crate::output::Format;
use crate::request;
use crate::sfn::{self, Aws, Execution, Started};
use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use unload_core::execution_names::{self as naming, MAX_NAME_CHARS};
use unload_core::request::RequestDefaults;

/// Items (entries × days) one batch takes: plan's own limit, refused here before any call.
pub use unload_core::batch::MAX_ITEMS;
/// The batch execution names' prefix.
const PREFIX: &str = "backfill-";

/// The batch to start: its execution name and input.
#[derive(Debug, Clone)]
pub struct Batch {
    pub name: String,
    pub input: Value,
    /// The first day's request as checked (its table normalized; the defaults left to Validate).
    pub checked: request::Checked,
    pub days: usize,
}

impl Batch {
    /// The input as sent: the same command sends the same text (Step Functions compares it).
    pub fn input_text(&self) -> String {
        self.input.to_string()
    }
}

/// The batch for `backfill --server`, checked locally (the validate Lambda's rules, as for the
/// terminal-driven backfill) before anything starts.
pub fn backfill_batch(args: &Args, defaults: &RequestDefaults) -> Result<Batch, Failure> {
    naming::check_run_tag(&args.unload.run_tag).map_err(Failure::refused)?;
    let days = naming::day_range(args.from, args.to).map_err(Failure::refused)?;
    if days.len() > MAX_ITEMS {
        return Err(Failure::refused(format!(
            "{} to {} is {} days; a batch runs at most {MAX_ITEMS}: split the range into several \
             --server backfills (e.g. --from {} --to {}), or drop --server",
            args.from,
            args.to,
            days.len(),
            args.from,
            days[MAX_ITEMS - 1]
        )));
    }
    // Every day's request differs only in its day: check the first one's.
    let checked = request::check(
        request::input_from_flags(&args.table, Some(args.from), &args.unload),
        defaults,
        args.from,
        args.unload.strict,
    )?;
    let mut entry = Map::new();
    for (key, value) in checked.input.as_object().into_iter().flatten() {
        if key != "DayPartitionValue" {
            entry.insert(key.clone(), value.clone());
        }
    }
    let input = json!({
        "Name": args.unload.run_tag,
        "Tables": [Value::Object(entry)],
        "Days": {"From": day(args.from), "To": day(args.to)},
    });
    Ok(Batch {
        name: batch_name(&checked.table, args.from, args.to, &args.unload.run_tag),
        input,
        checked,
        days: days.len(),
    })
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// `backfill-<schema>-<table>-<from>_<to>-<tag>`, at most 80 characters of `[A-Za-z0-9_-]`,
/// made as the children's names are (a shortened table part and a hash when needed), so two
/// batches never share a name.
pub fn batch_name(table: &str, from: NaiveDate, to: NaiveDate, run_tag: &str) -> String {
    let label = format!("{}_{}", day(from), day(to));
    let limit = MAX_NAME_CHARS - PREFIX.len();
    format!(
        "{PREFIX}{}",
        naming::readable_name(table, &label, run_tag, limit)
    )
}

/// What `--dry-run --server` prints: the batch that would start.
pub fn render_plan(batch: &Batch, format: Format) -> String {
    match format {
        Format::Json => {
            json!({"name": batch.name, "days": batch.days, "input": batch.input}).to_string()
        }
        Format::Text => format!(
            "would start batch {} ({} day(s) of {}) with input:\n{}",
            batch.name,
            batch.days,
            batch.checked.table,
            serde_json::to_string_pretty(&batch.input).unwrap_or_else(|_| batch.input_text())
        ),
    }
}

/// `backfill --server`: start (or find) the batch, then watch it unless --no-wait.
pub async fn run(args: &Args, aws: &Aws) -> Result<String, Failure> {
    let (client, format) = (&aws.client, aws.format);
    let defaults = RequestDefaults::from_env();
    let batch = backfill_batch(args, &defaults)?;
    if args.dry_run {
        return Ok(render_plan(&batch, format));
    }
    let machine = aws.batch_state_machine().await?;
    batch.checked.note_deferred(format);
    let arn = naming::execution_arn(&machine, &batch.name).ok_or_else(|| {
        Failure::refused(format!(
            "{machine} is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)"
        ))
    })?;
    // A batch that already ended keeps its name: report it rather than fail on the name.
    let before = sfn::describe(client, &arn).await?;
    if let Some(done) = before.as_ref().filter(|e| !e.status.is_running()) {
        return already_ran(aws, done, &batch).await;
    }
    // Same name and input while it runs: Step Functions returns the running one.
    let started = sfn::start(client, &machine, &batch.name, &batch.input_text()).await?;
    let (arn, started_at) = match started {
        Started::Arn { arn, started } => (arn, started),
        Started::NameTaken => {
            return match sfn::describe(client, &arn).await? {
                Some(e) if !e.status.is_running() => already_ran(aws, &e, &batch).await,
                Some(e) => Err(Failure::failed(format!(
                    "ExecutionAlreadyExists: batch {} is running with a different input (started \
                     {}): {arn}; watch it (unloadctl watch {}) or pass another --run-tag",
                    batch.name,
                    e.started.format("%Y-%m-%d %H:%M:%S UTC"),
                    batch.name
                ))),
                None => Err(Failure::failed(format!(
                    "ExecutionAlreadyExists: {} (but DescribeExecution does not find it): {arn}",
                    batch.name
                ))),
            };
        }
    };
    let already_running = before.is_some();
    if format == Format::Text {
        if already_running {
            eprintln!(
                "batch {} already running since {} (same name and input): not started again",
                batch.name,
                started_at.format("%Y-%m-%d %H:%M:%S UTC")
            );
        } else {
            eprintln!(
                "started batch {} ({} day(s) of {})",
                batch.name, batch.days, batch.checked.table
            );
        }
    }
    if args.no_wait {
        return Ok(match format {
            Format::Text => arn,
            Format::Json => json!({"execution_arn": arn, "name": batch.name,
                                   "started_at": started_at.to_rfc3339(),
                                   "already_running": already_running, "input": batch.input})
            .to_string(),
        });
    }
    if format == Format::Json {
        println!(
            "{}",
            json!({"execution_arn": arn, "name": batch.name, "started_at": started_at.to_rfc3339(),
                   "already_running": already_running})
        );
    }
    let execution = sfn::describe(client, &arn)
        .await?
        .ok_or_else(|| Failure::failed(format!("no execution {arn}")))?;
    batch_watch::follow(aws, execution, args.poll).await
}

/// The batch already ended: say so, show its result, start nothing.
async fn already_ran(aws: &Aws, execution: &Execution, batch: &Batch) -> Result<String, Failure> {
    let hint = if execution.status == sfn::Status::Succeeded {
        "pass another --run-tag to run the range again".to_string()
    } else {
        format!(
            "to retry only the days that failed, run the same backfill without --server (same \
             --run-tag {}: it finds the batch's child executions and skips the days that \
             succeeded), or pass another --run-tag for a new batch",
            batch.input["Name"].as_str().unwrap_or_default()
        )
    };
    let succeeded = execution.status == sfn::Status::Succeeded;
    if aws.format == Format::Text {
        // A failure's hint ends its error line instead.
        eprintln!(
            "batch {} already ran: {} (started {}): not started again{}",
            execution.name,
            execution.status.name(),
            execution.started.format("%Y-%m-%d %H:%M:%S UTC"),
            if succeeded {
                format!("; {hint}")
            } else {
                String::new()
            }
        );
    }
    batch_watch::finish(execution, aws.format).map_err(|mut err| {
        err.message.push_str(&format!(" ({hint})"));
        err
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Unload;
    use std::time::Duration;

    pub fn args(from: &str, to: &str) -> Args {
        Args {
            table: "Demo_Master.Orders".into(),
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            concurrency: 2,
            poll: Duration::from_millis(1),
            dry_run: false,
            server: true,
            no_wait: false,
            input: None,
            unload: Unload {
                key: Some("o_orderdate".into()),
                run_tag: "jan".into(),
                ..Unload::default()
            },
        }
    }

    #[test]
    fn the_batch_input_is_one_entry_without_its_day_and_the_range() {
        let batch = backfill_batch(
            &args("1992-01-01", "1992-01-31"),
            &RequestDefaults::default(),
        )
        .unwrap();
        assert_eq!(
            batch.input,
            json!({
                "Name": "jan",
                "Tables": [{"PrefixedTablename": "Demo_Master.Orders", "SnapshotYN": "y",
                            "DayPartitionKey": "o_orderdate"}],
                "Days": {"From": "1992-01-01", "To": "1992-01-31"}
            })
        );
        assert_eq!(
            batch.name,
            "backfill-demo_master-orders-1992-01-01_1992-01-31-jan"
        );
        assert_eq!(batch.days, 31);
    }

    #[test]
    fn the_same_command_names_the_same_batch_with_the_same_input_text() {
        let a = backfill_batch(
            &args("1992-01-01", "1992-01-05"),
            &RequestDefaults::default(),
        )
        .unwrap();
        let b = backfill_batch(
            &args("1992-01-01", "1992-01-05"),
            &RequestDefaults::default(),
        )
        .unwrap();
        assert_eq!(
            (a.name.clone(), a.input_text()),
            (b.name.clone(), b.input_text())
        );
        let mut other = args("1992-01-01", "1992-01-06");
        assert_ne!(
            backfill_batch(&other, &RequestDefaults::default())
                .unwrap()
                .name,
            a.name
        );
        other = args("1992-01-01", "1992-01-05");
        other.unload.run_tag = "jan2".into();
        assert_ne!(
            backfill_batch(&other, &RequestDefaults::default())
                .unwrap()
                .name,
            a.name
        );
    }

    #[test]
    fn long_or_lossy_tables_keep_the_range_and_tag_and_fit_80_characters() {
        let valid = |n: &str| {
            n.len() <= 80
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        let from: NaiveDate = "1992-01-01".parse().unwrap();
        let to: NaiveDate = "1992-04-09".parse().unwrap();
        let tag = "x".repeat(24);
        let long = format!("{}.{}", "s".repeat(60), "t".repeat(60));
        let other = format!("{}.{}", "s".repeat(60), "t".repeat(59) + "u");
        let name = batch_name(&long, from, to, &tag);
        assert!(valid(&name), "{name}");
        assert!(name.starts_with("backfill-sss"), "{name}");
        assert!(
            name.contains(&format!("-1992-01-01_1992-04-09-{tag}-")),
            "{name}"
        );
        assert_ne!(name, batch_name(&other, from, to, &tag));
        let dollar = batch_name("s.a$b", from, to, "t");
        assert!(valid(&dollar), "{dollar}");
        assert_ne!(dollar, batch_name("s.a_b", from, to, "t"));
    }

    #[test]
    fn more_days_than_a_batch_takes_are_refused_saying_to_split_the_range() {
        let defaults = RequestDefaults::default();
        assert!(backfill_batch(&args("1992-01-01", "1992-07-18"), &defaults).is_ok()); // 200 days
        let err = backfill_batch(&args("1992-01-01", "1992-07-19"), &defaults).unwrap_err();
        assert_eq!(err.exit_code, crate::failure::REFUSED);
        assert!(
            err.message
                .contains("201 days; a batch runs at most 200: split the range"),
            "{}",
            err.message
        );
        assert!(err.message.contains("--to 1992-07-18"), "{}", err.message);
        let mut bad = args("1992-01-01", "1992-01-02");
        bad.unload.format = Some("xml".into());
        assert!(backfill_batch(&bad, &defaults).is_err());
    }

    #[test]
    fn a_dry_run_shows_the_name_and_input() {
        let batch = backfill_batch(
            &args("1992-01-01", "1992-01-02"),
            &RequestDefaults::default(),
        )
        .unwrap();
        let json: Value = serde_json::from_str(&render_plan(&batch, Format::Json)).unwrap();
        assert_eq!(json["name"], batch.name);
        assert_eq!(json["input"], batch.input);
        assert!(render_plan(&batch, Format::Text).starts_with(
            "would start batch backfill-demo_master-orders-1992-01-01_1992-01-02-jan (2 day(s) of demo_master.orders)"
        ));
    }

    mod against_a_mocked_step_functions {
        use super::*;
        use crate::sfn::tests::described;
        use aws_sdk_sfn::operation::describe_execution::{
            DescribeExecutionError, DescribeExecutionOutput,
        };
        use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
        use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
        use aws_sdk_sfn::primitives::DateTime as SdkTime;
        use aws_sdk_sfn::types::error::{ExecutionAlreadyExists, ExecutionDoesNotExist};
        use aws_sdk_sfn::types::ExecutionStatus;
        use aws_sdk_sfn::Client;
        use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
        use std::sync::{Arc, Mutex};

        const BATCH: &str = "arn:aws:states:us-east-1:1:stateMachine:redshift-unload-batch";
        const SUMMARY: &str = r#"{"name":"jan","day":"2026-12-01","items":2,"succeeded":2,"failed":0,"skipped":0,"rows":830,"failures":[],"tolerated":false,"message":"2 of 2 succeeded"}"#;

        /// A Step Functions that holds the executions StartExecution made, ending each at once
        /// with the summary, and keeps StartExecution's name idempotency.
        fn step_functions(
            starts: Arc<Mutex<Vec<(String, String)>>>,
            end: ExecutionStatus,
        ) -> Client {
            let log = starts.clone();
            let describe = mock!(Client::describe_execution).then_compute_response(move |req| {
                let arn = req.execution_arn().unwrap_or_default();
                let name = arn.rsplit(':').next().unwrap_or_default();
                match log.lock().unwrap().iter().find(|(n, _)| n == name) {
                    Some((_, input)) => {
                        let base = described(arn, end.clone());
                        let mut out = DescribeExecutionOutput::builder()
                            .execution_arn(base.execution_arn)
                            .state_machine_arn(BATCH)
                            .name(name)
                            .status(end.clone())
                            .start_date(SdkTime::from_secs(1_000))
                            .stop_date(SdkTime::from_secs(1_100))
                            .input(input.clone());
                        out = if end == ExecutionStatus::Succeeded {
                            out.output(SUMMARY)
                        } else {
                            out.error("BatchFailed").cause(SUMMARY)
                        };
                        MockResponse::Output(out.build().unwrap())
                    }
                    None => MockResponse::Error(DescribeExecutionError::ExecutionDoesNotExist(
                        ExecutionDoesNotExist::builder().message("no").build(),
                    )),
                }
            });
            let log = starts.clone();
            let start = mock!(Client::start_execution).then_compute_response(move |req| {
                let name = req.name().unwrap_or_default().to_string();
                let input = req.input().unwrap_or_default().to_string();
                let mut log = log.lock().unwrap();
                if log.iter().any(|(n, i)| *n == name && *i != input) {
                    return MockResponse::Error(StartExecutionError::ExecutionAlreadyExists(
                        ExecutionAlreadyExists::builder().message("exists").build(),
                    ));
                }
                if !log.iter().any(|(n, _)| *n == name) {
                    log.push((name.clone(), input));
                }
                MockResponse::Output(
                    StartExecutionOutput::builder()
                        .execution_arn(format!(
                            "arn:aws:states:us-east-1:1:execution:redshift-unload-batch:{name}"
                        ))
                        .start_date(SdkTime::from_secs(1_000))
                        .build()
                        .unwrap(),
                )
            });
            let history = mock!(Client::get_execution_history)
                .then_output(|| GetExecutionHistoryOutput::builder().build().unwrap());
            mock_client!(
                aws_sdk_sfn,
                RuleMode::MatchAny,
                [&describe, &start, &history]
            )
        }

        fn aws(client: Client) -> Aws {
            Aws {
                client,
                machines: crate::stack::Machines::fixed(None, Some(BATCH)),
                format: Format::Json,
            }
        }

        #[tokio::test]
        async fn one_batch_is_started_under_its_name_and_a_second_call_starts_nothing() {
            let starts = Arc::new(Mutex::new(Vec::new()));
            let aws = aws(step_functions(starts.clone(), ExecutionStatus::Succeeded));
            let mut a = args("1992-01-01", "1992-01-02");
            a.no_wait = true;
            let first: Value = serde_json::from_str(&run(&a, &aws).await.unwrap()).unwrap();
            assert_eq!(
                first["execution_arn"],
                "arn:aws:states:us-east-1:1:execution:redshift-unload-batch:backfill-demo_master-orders-1992-01-01_1992-01-02-jan"
            );
            assert_eq!(first["already_running"], false);
            {
                let log = starts.lock().unwrap();
                assert_eq!(log.len(), 1);
                let sent: Value = serde_json::from_str(&log[0].1).unwrap();
                assert_eq!(
                    sent["Days"],
                    json!({"From": "1992-01-01", "To": "1992-01-02"})
                );
                assert!(sent["Tables"][0].get("DayPartitionValue").is_none());
            }
            // Again: the batch has ended (SUCCEEDED): reported with its summary, not started.
            a.no_wait = false;
            assert_eq!(run(&a, &aws).await.unwrap(), "");
            assert_eq!(starts.lock().unwrap().len(), 1, "no second batch");
        }

        #[tokio::test]
        async fn a_failed_batch_is_reported_with_its_summary_and_how_to_retry() {
            let starts = Arc::new(Mutex::new(vec![(
                "backfill-demo_master-orders-1992-01-01_1992-01-02-jan".to_string(),
                "{}".to_string(),
            )]));
            let aws = aws(step_functions(starts.clone(), ExecutionStatus::Failed));
            let err = run(&args("1992-01-01", "1992-01-02"), &aws)
                .await
                .unwrap_err();
            assert_eq!(err.exit_code, crate::failure::FAILED);
            assert!(err.message.contains("FAILED"), "{}", err.message);
            assert!(err.message.contains("without --server"), "{}", err.message);
            assert_eq!(starts.lock().unwrap().len(), 1, "nothing started");
        }

        #[tokio::test]
        async fn a_dry_run_makes_no_call() {
            let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, []);
            let aws = Aws {
                client,
                machines: crate::stack::Machines::fixed(None, None),
                format: Format::Json,
            };
            let mut a = args("1992-01-01", "1992-01-02");
            a.dry_run = true;
            let plan: Value = serde_json::from_str(&run(&a, &aws).await.unwrap()).unwrap();
            assert_eq!(plan["days"], 2);
        }
    }
}
