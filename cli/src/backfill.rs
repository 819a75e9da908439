//! `unloadctl backfill`: one execution per day, at most N at once, resumable.
//!
//! Each day's executions are named `<base>`, `<base>-a2`, `<base>-a3`, ... (naming.rs). Before
//! starting anything the command looks each day's attempts up (DescribeExecution on the derived
//! ARNs) and decides (`decide`): a day with a SUCCEEDED attempt is skipped, a day whose latest
//! attempt is still running is followed (not started again), a day whose latest attempt failed,
//! timed out or was aborted gets the next attempt, a day never tried gets its base name.

use crate::args::{parse_day, poll_seconds};
use crate::failure::Failure;
use crate::output::{self, Format};
use crate::request::{self, Checked, Unload};
use crate::sfn::{self, Aws, Status};
use aws_sdk_sfn::Client;
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;
use unload_core::execution_names::{self as naming, decide, Action, Scope, MAX_ATTEMPTS};
use unload_core::request::RequestDefaults;

/// Where a day ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    Running,
    /// Skipped: an earlier run of this command (or `start`) already unloaded it.
    AlreadySucceeded,
    Succeeded,
    Failed {
        status: String,
        error: String,
    },
}

impl Outcome {
    fn label(&self) -> String {
        match self {
            Outcome::Pending => "PENDING".into(),
            Outcome::Running => "RUNNING".into(),
            Outcome::AlreadySucceeded => "SUCCEEDED (earlier run)".into(),
            Outcome::Succeeded => "SUCCEEDED".into(),
            Outcome::Failed { status, .. } => status.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Day {
    pub day: NaiveDate,
    pub checked: Checked,
    pub base: String,
    pub attempt: u32,
    pub arn: Option<String>,
    pub outcome: Outcome,
    /// This command started (not skipped or followed) the attempt.
    pub started_here: bool,
}

impl Day {
    fn name(&self) -> String {
        naming::attempt_name(&self.base, self.attempt)
    }
}

/// Unload a range of days: one execution per day from here (resumable), or one batch (--server).
///
/// Every day from --from to --to (inclusive), driven from this terminal: at most --concurrency
/// executions at once. Resumable: a rerun skips days that already succeeded, follows days still
/// running, and retries failed days under the next attempt name (<name>-a2, -a3, ...). Prints a
/// day → status table; exits 1 when a day failed.
///
/// With --server, the range runs as ONE execution of the batch workflow instead (at most 200
/// days; the stack's BatchMaxConcurrency at once), named backfill-<schema>-<table>-<from>_<to>-<run
/// tag>: the terminal may close. Its children have the names this command gives the days, so
/// either way skips what the other already unloaded. Starting it again while it runs follows the
/// running batch; once it ended, it is reported, not run again.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  unloadctl backfill --table demo_master.orders --key o_orderdate --from 1992-01-01 --to 1992-01-31 --concurrency 2\n  unloadctl backfill --table demo_master.orders --key o_orderdate --from 1992-01-01 --to 1992-03-31 --server\n  unloadctl backfill --table demo_master.orders --key o_orderdate --from 1992-01-01 --to 1992-03-31 --server --no-wait"
)]
pub struct Args {
    /// The table, schema.table.
    #[arg(long, value_name = "SCHEMA.TABLE")]
    pub table: String,
    /// The first day.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub from: NaiveDate,
    /// The last day (included).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub to: NaiveDate,
    /// Executions running at once. Glue runs one job run per table at a time
    /// (MaxConcurrentRuns 1): more queue through the workflow's ConcurrentRunsExceeded retry.
    /// Not with --server: the batch runs the stack's BatchMaxConcurrency at once.
    #[arg(long, default_value_t = 2, value_name = "N", conflicts_with = "server")]
    pub concurrency: usize,
    /// Seconds between status checks.
    #[arg(long = "poll-seconds", default_value = "5", value_name = "SECONDS", value_parser = poll_seconds)]
    pub poll: Duration,
    /// Look the days up and print the plan (start / skip / follow); start nothing. With
    /// --server: print the batch's execution name and input, with no AWS call.
    #[arg(long)]
    pub dry_run: bool,
    /// Run the range as one batch workflow execution (server side) instead of from here.
    #[arg(long)]
    pub server: bool,
    /// With --server: print the batch's execution ARN once started; do not watch it.
    #[arg(long, requires = "server")]
    pub no_wait: bool,
    /// Unused (backfill builds each day's request); present so --input is refused clearly.
    #[arg(long, hide = true)]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub unload: Unload,
}

/// The requests for every day, checked locally before anything starts.
pub fn plan_requests(args: &Args, defaults: &RequestDefaults) -> Result<Vec<Day>, Failure> {
    naming::check_run_tag(&args.unload.run_tag).map_err(Failure::refused)?;
    if args.concurrency == 0 || args.concurrency > 100 {
        return Err(Failure::refused("--concurrency must be 1-100"));
    }
    let days = naming::day_range(args.from, args.to).map_err(Failure::refused)?;
    days.into_iter()
        .map(|day| {
            let checked = request::check(
                request::input_from_flags(&args.table, Some(day), &args.unload),
                defaults,
                day,
                args.unload.strict,
            )?;
            let base =
                naming::base_name(&checked.table, Scope::Day(day.into()), &args.unload.run_tag);
            Ok(Day {
                day,
                checked,
                base,
                attempt: 1,
                arn: None,
                outcome: Outcome::Pending,
                started_here: false,
            })
        })
        .collect()
}

impl Args {
    pub async fn run(&self, aws: &Aws) -> Result<String, Failure> {
        if self.input.is_some() {
            return Err(Failure::refused(
                "backfill builds each day's request from --table and --key; --input is for start",
            ));
        }
        if self.server {
            return crate::batch::run(self, aws).await;
        }
        let state_machine = &aws.state_machine().await?;
        let mut days = plan_requests(self, &RequestDefaults::from_env())?;
        if let Some(first) = days.first() {
            first.checked.note_deferred(aws.format);
        }
        let bar = progress_bar(days.len() as u64);
        let pending = look_up(&aws.client, state_machine, &mut days, &bar).await?;
        if self.dry_run {
            bar.finish_and_clear();
            return Ok(report(&days, aws.format, true));
        }
        drive(self, aws, state_machine, &mut days, pending, &bar).await?;
        bar.finish_and_clear();
        summarize(&days, aws.format)
    }
}

/// The days still to see through after the look-up, as indexes into the days.
struct Pending {
    /// To start, in order.
    queue: VecDeque<usize>,
    /// Running: to follow.
    running: Vec<usize>,
}

/// Looks each day's attempts up and decides what to do about it (`decide`): skipped and given-up
/// days are settled here, the others come back as pending.
async fn look_up(
    client: &Client,
    state_machine: &str,
    days: &mut [Day],
    bar: &ProgressBar,
) -> Result<Pending, Failure> {
    bar.set_message("looking up earlier attempts");
    let mut queue = VecDeque::new();
    let mut running = Vec::new();
    for (i, day) in days.iter_mut().enumerate() {
        let mut attempts = Vec::new();
        while (attempts.len() as u32) < MAX_ATTEMPTS {
            let name = naming::attempt_name(&day.base, attempts.len() as u32 + 1);
            let arn = derived_arn(state_machine, &name)?;
            match sfn::describe(client, &arn).await? {
                Some(execution) => attempts.push(execution.status),
                None => break,
            }
        }
        match decide(&attempts) {
            Action::Skip { attempt } => {
                day.attempt = attempt;
                day.outcome = Outcome::AlreadySucceeded;
                day.arn = Some(derived_arn(state_machine, &day.name())?);
                bar.inc(1);
            }
            Action::Follow { attempt } => {
                day.attempt = attempt;
                day.outcome = Outcome::Running;
                day.arn = Some(derived_arn(state_machine, &day.name())?);
                running.push(i);
            }
            Action::Start { attempt } if attempt > MAX_ATTEMPTS => {
                day.attempt = attempt - 1;
                day.outcome = Outcome::Failed {
                    status: "GAVE_UP".into(),
                    error: format!("{MAX_ATTEMPTS} attempts failed; look at them before retrying"),
                };
                bar.inc(1);
            }
            Action::Start { attempt } => {
                day.attempt = attempt;
                queue.push_back(i);
            }
        }
    }
    Ok(Pending { queue, running })
}

/// Starts the queued days, at most --concurrency running at once, and polls every running day
/// until it ends.
async fn drive(
    args: &Args,
    aws: &Aws,
    state_machine: &str,
    days: &mut [Day],
    pending: Pending,
    bar: &ProgressBar,
) -> Result<(), Failure> {
    let (client, format) = (&aws.client, aws.format);
    let Pending {
        mut queue,
        mut running,
    } = pending;
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < args.concurrency {
            let Some(i) = queue.pop_front() else { break };
            let day = &mut days[i];
            let name = day.name();
            match sfn::start(client, state_machine, &name, &day.checked.input_text()).await {
                Ok(sfn::Started::Arn { arn, .. }) => {
                    day.arn = Some(arn);
                    day.outcome = Outcome::Running;
                    day.started_here = true;
                    running.push(i);
                }
                Ok(sfn::Started::NameTaken) => {
                    // Someone started this name since the look-up: follow theirs.
                    day.arn = Some(derived_arn(state_machine, &name)?);
                    day.outcome = Outcome::Running;
                    running.push(i);
                }
                Err(err) => {
                    bar.finish_and_clear();
                    return Err(Failure::failed(format!(
                        "{} (rerun the same command to resume; {} day(s) were not started)",
                        err.message,
                        queue.len() + 1
                    )));
                }
            }
        }
        bar.set_message(format!(
            "{} running, {} waiting",
            running.len(),
            queue.len()
        ));
        if running.is_empty() {
            continue;
        }
        tokio::time::sleep(args.poll).await;
        let mut still = Vec::new();
        for i in running {
            let day = &mut days[i];
            let arn = day.arn.clone().unwrap_or_default();
            let execution = sfn::describe(client, &arn).await?;
            match execution {
                Some(e) if e.status.is_running() => still.push(i),
                Some(e) => {
                    day.outcome = if e.status == Status::Succeeded {
                        Outcome::Succeeded
                    } else {
                        Outcome::Failed {
                            status: e.status.name().to_string(),
                            error: output::error_line(e.error.as_deref(), e.cause.as_deref()),
                        }
                    };
                    let line = format!("{}  {}  {}", day.day, day.outcome.label(), day.name());
                    if bar.is_hidden() {
                        if format == Format::Text {
                            eprintln!("{line}");
                        }
                    } else {
                        bar.println(line);
                    }
                    bar.inc(1);
                }
                None => {
                    day.outcome = Outcome::Failed {
                        status: "MISSING".into(),
                        error: "the execution disappeared".into(),
                    };
                    bar.inc(1);
                }
            }
        }
        running = still;
    }
    Ok(())
}

/// The final table; when a day failed it goes to stdout here and the command exits 1.
fn summarize(days: &[Day], format: Format) -> Result<String, Failure> {
    let text = report(days, format, false);
    let failed: Vec<String> = days
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Failed { .. }))
        .map(|d| d.day.to_string())
        .collect();
    if failed.is_empty() {
        return Ok(text);
    }
    // The table still goes to stdout; the exit code says some day failed.
    println!("{text}");
    Err(Failure::failed(format!(
        "{} of {} day(s) failed: {}; rerun the same command to retry them",
        failed.len(),
        days.len(),
        failed.join(", ")
    )))
}

fn derived_arn(state_machine: &str, name: &str) -> Result<String, Failure> {
    naming::execution_arn(state_machine, name).ok_or_else(|| {
        Failure::refused(format!(
            "{state_machine} is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)"
        ))
    })
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} days  {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// The final day → status table (or JSON array).
pub fn report(days: &[Day], format: Format, planned: bool) -> String {
    let action = |d: &Day| -> &'static str {
        match (&d.outcome, planned, d.started_here) {
            (Outcome::AlreadySucceeded, _, _) => "skip",
            (Outcome::Running, true, _) => "follow",
            (Outcome::Pending, true, _) => "start",
            (Outcome::Failed { .. }, true, _) => "none",
            (_, _, true) => "started",
            _ => "followed",
        }
    };
    match format {
        Format::Json => {
            let rows: Vec<Value> = days
                .iter()
                .map(|d| {
                    let (status, error) = match &d.outcome {
                        Outcome::Failed { status, error } => (status.clone(), Some(error.clone())),
                        Outcome::AlreadySucceeded | Outcome::Succeeded => {
                            ("SUCCEEDED".into(), None)
                        }
                        other => (other.label(), None),
                    };
                    json!({"day": d.day.to_string(), "status": status, "action": action(d),
                           "attempt": d.attempt, "execution_name": d.name(),
                           "execution_arn": d.arn, "error": error})
                })
                .collect();
            Value::Array(rows).to_string()
        }
        Format::Text => {
            let mut rows = vec![vec![
                "DAY".to_string(),
                if planned { "PLAN" } else { "STATUS" }.to_string(),
                "ATTEMPT".to_string(),
                "EXECUTION".to_string(),
                "ERROR".to_string(),
            ]];
            for d in days {
                let status = if planned {
                    action(d).to_string()
                } else {
                    d.outcome.label()
                };
                let error = match &d.outcome {
                    Outcome::Failed { error, .. } => error.clone(),
                    _ => String::new(),
                };
                rows.push(vec![
                    d.day.to_string(),
                    status,
                    d.attempt.to_string(),
                    d.name(),
                    error,
                ]);
            }
            if !days
                .iter()
                .any(|d| matches!(d.outcome, Outcome::Failed { .. }))
            {
                for row in &mut rows {
                    row.pop(); // no ERROR column when nothing failed
                }
            }
            output::table(&rows)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(from: &str, to: &str) -> Args {
        Args {
            table: "demo_master.orders".into(),
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            concurrency: 2,
            poll: Duration::from_secs(1),
            dry_run: false,
            server: false,
            no_wait: false,
            input: None,
            unload: Unload {
                key: Some("o_orderdate".into()),
                run_tag: "manual".into(),
                ..Unload::default()
            },
        }
    }

    #[test]
    fn every_day_gets_its_own_checked_request_and_name() {
        let days = plan_requests(
            &args("1992-02-28", "1992-03-01"),
            &RequestDefaults::default(),
        )
        .unwrap();
        let names: Vec<String> = days.iter().map(|d| d.base.clone()).collect();
        assert_eq!(
            names,
            [
                "demo_master-orders-1992-02-28-manual",
                "demo_master-orders-1992-02-29-manual",
                "demo_master-orders-1992-03-01-manual"
            ]
        );
        assert_eq!(days[1].checked.input["DayPartitionValue"], "1992-02-29");
        assert_eq!(days[1].checked.input["SnapshotYN"], "y");
    }

    #[test]
    fn bad_ranges_tags_and_concurrency_are_refused_before_anything_starts() {
        let defaults = RequestDefaults::default();
        assert!(plan_requests(&args("1992-03-01", "1992-02-01"), &defaults).is_err());
        let mut a = args("1992-02-01", "1992-02-02");
        a.concurrency = 0;
        assert!(plan_requests(&a, &defaults).is_err());
        let mut a = args("1992-02-01", "1992-02-02");
        a.unload.run_tag = "no spaces".into();
        assert!(plan_requests(&a, &defaults).is_err());
        let mut a = args("1992-02-01", "1992-02-02");
        a.table = "not a table".into();
        assert_eq!(
            plan_requests(&a, &defaults).unwrap_err().exit_code,
            crate::failure::REFUSED
        );
    }

    mod against_a_mocked_step_functions {
        use super::*;
        use crate::sfn::tests::described;
        use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
        use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
        use aws_sdk_sfn::primitives::DateTime as SdkTime;
        use aws_sdk_sfn::types::error::ExecutionDoesNotExist;
        use aws_sdk_sfn::types::ExecutionStatus;
        use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex};

        const MACHINE: &str = "arn:aws:states:us-east-1:1:stateMachine:m";

        #[tokio::test]
        async fn a_rerun_skips_succeeded_days_and_retries_failed_ones_under_the_next_name() {
            // What Step Functions holds before the rerun, and how what gets started will end.
            let executions: Arc<Mutex<HashMap<String, ExecutionStatus>>> = Arc::new(Mutex::new(
                [
                    (
                        "demo_master-orders-1992-02-01-t",
                        ExecutionStatus::Succeeded,
                    ),
                    ("demo_master-orders-1992-02-02-t", ExecutionStatus::Failed),
                ]
                .into_iter()
                .map(|(n, s)| (n.to_string(), s))
                .collect(),
            ));
            let ends: HashMap<String, ExecutionStatus> = [
                (
                    "demo_master-orders-1992-02-02-t-a2",
                    ExecutionStatus::Succeeded,
                ),
                ("demo_master-orders-1992-02-03-t", ExecutionStatus::Failed),
            ]
            .into_iter()
            .map(|(n, s)| (n.to_string(), s))
            .collect();
            let started = Arc::new(Mutex::new(Vec::new()));

            let known = executions.clone();
            let describe = mock!(Client::describe_execution).then_compute_response(move |req| {
                let arn = req.execution_arn().unwrap_or_default();
                let name = arn.rsplit(':').next().unwrap_or_default();
                match known.lock().unwrap().get(name) {
                    Some(status) => MockResponse::Output(described(arn, status.clone())),
                    None => MockResponse::Error(DescribeExecutionError::ExecutionDoesNotExist(
                        ExecutionDoesNotExist::builder().message("no").build(),
                    )),
                }
            });
            let (known, log) = (executions.clone(), started.clone());
            let start = mock!(Client::start_execution).then_compute_output(move |req| {
                let name = req.name().unwrap_or_default().to_string();
                let input: Value = serde_json::from_str(req.input().unwrap_or("{}")).unwrap();
                assert_eq!(input["DayPartitionValue"], name[19..29]);
                known
                    .lock()
                    .unwrap()
                    .insert(name.clone(), ends[&name].clone());
                log.lock().unwrap().push(name.clone());
                StartExecutionOutput::builder()
                    .execution_arn(format!("arn:aws:states:us-east-1:1:execution:m:{name}"))
                    .start_date(SdkTime::from_secs(2_000))
                    .build()
                    .unwrap()
            });
            let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&describe, &start]);
            let aws = Aws::with_machine(client, Some(MACHINE), Format::Json);

            let mut a = args("1992-02-01", "1992-02-03");
            a.unload.run_tag = "t".into();
            a.poll = Duration::from_millis(1);
            let err = a.run(&aws).await.unwrap_err();
            assert_eq!(
                err.message,
                "1 of 3 day(s) failed: 1992-02-03; rerun the same command to retry them"
            );
            assert_eq!(
                *started.lock().unwrap(),
                [
                    "demo_master-orders-1992-02-02-t-a2",
                    "demo_master-orders-1992-02-03-t"
                ]
            );

            // Nothing changed since: a dry run plans only the failed day, as its attempt 2.
            a.dry_run = true;
            let plan: Value = serde_json::from_str(&a.run(&aws).await.unwrap()).unwrap();
            let actions: Vec<(&str, u64)> = plan
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["action"].as_str().unwrap(),
                        d["attempt"].as_u64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(actions, [("skip", 1), ("skip", 2), ("start", 2)]);
            assert_eq!(started.lock().unwrap().len(), 2, "a dry run starts nothing");
        }
    }
}
