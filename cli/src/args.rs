//! The command line: the top-level parser, the global options, and the subcommands. Each
//! subcommand wraps its own module's `Args` (flags and help text) and runs by its `run`.

use crate::failure::Failure;
use crate::output::Format;
use crate::sfn::{self, Aws};
use crate::stack::{Machines, Stack};
use crate::{backfill, poll_schedule, start, status, validate, watch};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use std::num::ParseIntError;
use std::path::Path;
use std::time::Duration;

const AFTER_HELP: &str = "\
State machines: --stack (default: ./samconfig.toml's stack_name) names the deployed stack, whose \
StateMachineArn and BatchStateMachineArn outputs are read when a command needs them; \
--state-machine / --batch-state-machine (or their UNLOADCTL_* variables) override them.
AWS access: the default credential chain, --region and --profile. Against the local stack \
(local/stack.py), set AWS_ENDPOINT_URL to its moto URL, AWS_ACCESS_KEY_ID=test, \
AWS_SECRET_ACCESS_KEY=test, AWS_REGION=us-east-1, and pass --stack local (its moto holds the \
stack's outputs).
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
    global: Global,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// The command line, or clap's refusal as one line; --help and --version print and exit here.
    pub fn parse_or_refuse() -> Result<Self, Failure> {
        Self::try_parse().map_err(|err| {
            if !err.use_stderr() {
                err.exit() // --help, --version
            }
            // One line, like every other error: clap's first line, without its "error: ".
            let text = err.to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty() && !l.starts_with("Usage:"))
                .map(str::trim)
                .collect();
            Failure::refused(format!(
                "{} (see --help)",
                message.join(" ").trim_start_matches("error: ")
            ))
        })
    }

    /// Runs the command; what it returns goes to stdout. validate and poll-schedule run on the
    /// runtime too: a current-thread one costs next to nothing.
    pub fn run(self) -> Result<String, Failure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::failed(format!("cannot start the async runtime: {e}")))?;
        runtime.block_on(self.command.run(&self.global))
    }
}

#[derive(Args)]
#[command(next_help_heading = "Global options")]
struct Global {
    /// The CloudFormation stack whose outputs name the state machines (StateMachineArn,
    /// BatchStateMachineArn); read once, only when a command needs an ARN not given below.
    /// Default: stack_name under [default.global.parameters] in ./samconfig.toml.
    #[arg(
        long,
        global = true,
        env = "UNLOADCTL_STACK",
        hide_env_values = true,
        value_name = "NAME"
    )]
    stack: Option<String>,
    /// The unload workflow's state machine ARN (start, backfill, status; watch given a name).
    /// Overrides the stack's StateMachineArn output.
    #[arg(
        long,
        global = true,
        env = "UNLOADCTL_STATE_MACHINE_ARN",
        hide_env_values = true,
        value_name = "ARN"
    )]
    state_machine: Option<String>,
    /// The batch workflow's state machine ARN (backfill --server; watch given a batch's name).
    /// Overrides the stack's BatchStateMachineArn output.
    #[arg(
        long,
        global = true,
        env = "UNLOADCTL_BATCH_STATE_MACHINE_ARN",
        hide_env_values = true,
        value_name = "ARN"
    )]
    batch_state_machine: Option<String>,
    /// AWS region (default: the credential chain's, e.g. AWS_REGION or the profile's).
    #[arg(long, global = true)]
    region: Option<String>,
    /// AWS profile from ~/.aws/config.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// text for people, json for scripts (one object, or one per line for watch).
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    output: Format,
}

impl Global {
    /// What the Step Functions commands run against (no call is made yet).
    async fn aws(&self) -> Aws {
        let config = sfn::sdk_config(self.region.clone(), self.profile.clone()).await;
        let stack = match self.stack.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => Some(Stack::given(name)),
            _ => Stack::from_samconfig(Path::new(".")),
        };
        Aws {
            client: aws_sdk_sfn::Client::new(&config),
            machines: Machines::new(
                self.state_machine.clone(),
                self.batch_state_machine.clone(),
                stack,
                Some(aws_sdk_cloudformation::Client::new(&config)),
            ),
            format: self.output,
        }
    }
}

/// Each subcommand's flags and help text live with its `Args`, in its own module.
#[derive(Subcommand)]
enum Command {
    Validate(validate::Args),
    PollSchedule(poll_schedule::Args),
    Start(start::Args),
    Backfill(backfill::Args),
    Watch(watch::Args),
    Status(status::Args),
}

impl Command {
    async fn run(self, global: &Global) -> Result<String, Failure> {
        match self {
            Command::Validate(args) => args.run(),
            Command::PollSchedule(args) => args.run(),
            Command::Start(args) => args.run(&global.aws().await).await,
            Command::Backfill(args) => args.run(&global.aws().await).await,
            Command::Watch(args) => args.run(&global.aws().await).await,
            Command::Status(args) => args.run(&global.aws().await).await,
        }
    }
}

pub fn parse_day(text: &str) -> Result<NaiveDate, String> {
    unload_core::checks::calendar_date("day", text).map_err(|e| e.to_string())
}

/// `--poll-seconds`: at least one second, so a 0 does not spin on the API.
pub fn poll_seconds(text: &str) -> Result<Duration, ParseIntError> {
    Ok(Duration::from_secs(text.parse::<u64>()?.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn backfill_server_refuses_concurrency_and_no_wait_needs_server() {
        let base = [
            "unloadctl",
            "backfill",
            "--table",
            "s.t",
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-02",
        ];
        let parse = |extra: &[&str]| Cli::try_parse_from(base.iter().chain(extra));
        assert!(
            parse(&["--server"]).is_ok(),
            "the default --concurrency is no conflict"
        );
        assert!(parse(&["--server", "--no-wait", "--dry-run"]).is_ok());
        let err = parse(&["--server", "--concurrency", "4"]).err().unwrap();
        assert!(err.to_string().contains("--concurrency"), "{err}");
        assert!(parse(&["--no-wait"]).is_err());
    }

    #[test]
    fn the_stack_and_both_state_machines_are_global_options() {
        let cli = Cli::try_parse_from([
            "unloadctl",
            "status",
            "--stack",
            "s",
            "--batch-state-machine",
            "arn:b",
        ])
        .unwrap();
        assert_eq!(cli.global.stack.as_deref(), Some("s"));
        assert_eq!(cli.global.batch_state_machine.as_deref(), Some("arn:b"));
    }

    #[test]
    fn poll_seconds_are_whole_and_at_least_one() {
        assert_eq!(poll_seconds("5"), Ok(Duration::from_secs(5)));
        assert_eq!(poll_seconds("0"), Ok(Duration::from_secs(1)));
        assert!(poll_seconds("1.5").is_err());
    }
}
