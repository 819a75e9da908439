//! unloadctl: operator commands for the Redshift → S3 unload workflow.
//! Errors are one line on stderr (no stack traces, no secrets); exit 2 for a refused input.

mod commands;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "unloadctl",
    version,
    about = "Validate, plan and inspect Redshift → S3 unloads"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a request exactly as the validate Lambda does (same code, same UNLOAD_* environment
    /// variables) and print the normalized request as JSON.
    Validate {
        /// The request JSON file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
        /// Pin "today" (YYYY-MM-DD) instead of the clock; UNLOAD_DAY_OFFSET_DAYS still applies.
        #[arg(long, value_name = "YYYY-MM-DD")]
        today: Option<String>,
    },
    /// Print the waits the polling policy (POLL_* variables) gives a Glue run of a given length.
    PollSchedule {
        /// How long the simulated run takes, in seconds.
        #[arg(long)]
        run_seconds: u64,
        /// Durations of the job's recent successful runs, comma-separated seconds.
        #[arg(long, value_delimiter = ',')]
        history_seconds: Vec<u64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { file, today } => commands::validate(file.as_deref(), today.as_deref()),
        Command::PollSchedule {
            run_seconds,
            history_seconds,
        } => commands::poll_schedule(run_seconds, &history_seconds),
    };
    match result {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("unloadctl: {}", err.message);
            ExitCode::from(err.exit_code)
        }
    }
}
