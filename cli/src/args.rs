//! The command line: every command, flag and help text (clap).

use crate::output::Format;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
AWS access: the default credential chain, --region and --profile. Against the local stack \
(local/stack.py), set AWS_ENDPOINT_URL to its moto URL, AWS_ACCESS_KEY_ID=test, \
AWS_SECRET_ACCESS_KEY=test, AWS_REGION=us-east-1.
Exit codes: 0 success, 1 a failed execution or AWS call, 2 a refused input.";

#[derive(Parser)]
#[command(
    name = "unloadctl",
    version,
    about = "Start, backfill, watch and inspect Redshift → S3 unloads; validate requests and plan polling",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The workflow's state machine ARN (start, backfill, status; watch given a name).
    /// Reading it from the CloudFormation stack's outputs is not implemented: copy the
    /// StateMachineArn output once, e.g. into UNLOADCTL_STATE_MACHINE_ARN.
    #[arg(
        long,
        global = true,
        env = "UNLOADCTL_STATE_MACHINE_ARN",
        hide_env_values = true,
        value_name = "ARN"
    )]
    pub state_machine: Option<String>,
    /// AWS region (default: the credential chain's, e.g. AWS_REGION or the profile's).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS profile from ~/.aws/config.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// text for people, json for scripts (one object, or one per line for watch).
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// The unload flags `start` and `backfill` share.
#[derive(Args)]
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
    /// Part of the execution name: the same table, day and tag is the same execution. Use a new
    /// tag to run an unload again on purpose.
    #[arg(long, default_value = "manual", value_name = "TAG")]
    pub run_tag: String,
    /// Refuse locally when a default the workflow would supply (S3 path, Glue connection,
    /// partition key) is not set in this environment either.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Validate a request as the validate Lambda does; print the normalized request as JSON.
    ///
    /// Same code, same UNLOAD_* environment variables as the Lambda.
    Validate {
        /// The request JSON file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
        /// Pin "today" (YYYY-MM-DD) instead of the clock; UNLOAD_DAY_OFFSET_DAYS still applies.
        #[arg(long, value_name = "YYYY-MM-DD")]
        today: Option<String>,
    },
    /// Print the polling waits (POLL_* variables) for a Glue run of a given length.
    PollSchedule {
        /// How long the simulated run takes, in seconds.
        #[arg(long)]
        run_seconds: u64,
        /// Durations of the job's recent successful runs, comma-separated seconds.
        #[arg(long, value_delimiter = ',')]
        history_seconds: Vec<u64>,
    },
    /// Start one unload (a day or the whole table); print the execution ARN.
    ///
    /// Checks the request locally first (the validate Lambda's code), then starts an execution named <schema>-<table>-<day|full>-<run tag>. Starting the same unload again while
    /// it runs returns the running execution; once it has finished, the name is taken (use another
    /// --run-tag). Prints the execution ARN.
    #[command(
        after_help = "Examples:\n  unloadctl start --table demo_master.orders --day 1998-07-21 --key o_orderdate\n  unloadctl start --table demo_master.orders --full --format orc\n  unloadctl start --input events/schedule-daily.json --run-tag rerun-1"
    )]
    Start {
        /// The table, schema.table.
        #[arg(
            long,
            value_name = "SCHEMA.TABLE",
            required_unless_present = "input",
            conflicts_with = "input"
        )]
        table: Option<String>,
        /// Unload this day partition.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day,
              required_unless_present_any = ["full", "input"], conflicts_with_all = ["full", "input"])]
        day: Option<NaiveDate>,
        /// Unload the whole table (one folder per day when a partition key is set).
        #[arg(long, conflicts_with = "input")]
        full: bool,
        /// Send this request file (the schedule's JSON) instead; its scope and day are made
        /// explicit (SnapshotYN, DayPartitionValue) before sending.
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        #[command(flatten)]
        unload: Unload,
    },
    /// Unload a range of days, one execution per day; resumable.
    ///
    /// Every day from --from to --to (inclusive), at most --concurrency executions at once. Resumable: a rerun skips days that already succeeded, follows days
    /// still running, and retries failed days under the next attempt name (<name>-a2, -a3, ...).
    /// Prints a day → status table; exits 1 when a day failed.
    #[command(
        after_help = "Example:\n  unloadctl backfill --table demo_master.orders --key o_orderdate --from 1992-01-01 --to 1992-01-31 --concurrency 2"
    )]
    Backfill {
        /// The table, schema.table.
        #[arg(long, value_name = "SCHEMA.TABLE")]
        table: String,
        /// The first day.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
        from: NaiveDate,
        /// The last day (included).
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
        to: NaiveDate,
        /// Executions running at once. Glue runs one job run per table at a time
        /// (MaxConcurrentRuns 1): more queue through the workflow's ConcurrentRunsExceeded retry.
        #[arg(long, default_value_t = 2, value_name = "N")]
        concurrency: usize,
        /// Seconds between status checks.
        #[arg(long, default_value_t = 5, value_name = "SECONDS")]
        poll_seconds: u64,
        /// Look the days up and print the plan (start / skip / follow); start nothing.
        #[arg(long)]
        dry_run: bool,
        /// Unused (backfill builds each day's request); present so --input is refused clearly.
        #[arg(long, hide = true)]
        input: Option<PathBuf>,
        #[command(flatten)]
        unload: Unload,
    },
    /// Follow an execution live; exit 0 when it succeeds, 1 when it fails.
    ///
    /// One line per state entered or exited with the time since the start, the Glue run state after each poll, and on failure the error and cause. Exits 0 when
    /// the execution succeeds, 1 when it fails, times out or is aborted.
    Watch {
        /// The execution ARN, or its name (needs --state-machine).
        execution: String,
        /// Seconds between looks at the history.
        #[arg(long, default_value_t = 2, value_name = "SECONDS")]
        poll_seconds: u64,
    },
    /// List recent executions: status, table, day, duration, rows and bytes.
    ///
    /// Newest first. Rows and bytes come from the report in the execution's output; a failed
    /// execution's error is shown below the table.
    Status {
        /// Only this table (schema.table).
        #[arg(long, value_name = "SCHEMA.TABLE")]
        table: Option<String>,
        /// Only executions started since a day (YYYY-MM-DD, UTC) or within an age (30m, 12h, 7d).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// At most this many executions.
        #[arg(long, default_value_t = 20, value_name = "N")]
        limit: usize,
    },
}

pub fn parse_day(text: &str) -> Result<NaiveDate, String> {
    unload_core::checks::calendar_date("day", text).map_err(|e| e.to_string())
}
