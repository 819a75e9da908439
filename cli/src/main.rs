//! unloadctl: operator commands for the Redshift → S3 unload workflow.
//! Errors are one line on stderr (no stack traces, no secrets). Exit codes: 0 success, 1 a failed
//! execution or AWS call, 2 a refused input or argument.

mod args;
mod backfill;
mod batch;
mod batch_watch;
mod failure;
mod output;
mod poll_schedule;
mod request;
mod sfn;
mod stack;
mod start;
mod status;
mod validate;
mod watch;

use std::process::ExitCode;

fn main() -> ExitCode {
    match args::Cli::parse_or_refuse().and_then(args::Cli::run) {
        Ok(output) => {
            if !output.is_empty() {
                println!("{output}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("unloadctl: {}", err.message);
            ExitCode::from(err.exit_code)
        }
    }
}
