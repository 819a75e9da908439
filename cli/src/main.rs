//! unloadctl: operator commands for the Redshift → S3 unload workflow.
//! Errors are one line on stderr (no stack traces, no secrets). Exit codes: 0 success, 1 a failed
//! execution or AWS call, 2 a refused input or argument.

mod args;
mod backfill;
mod commands;
mod failure;
mod naming;
mod output;
mod request;
mod sfn;
mod start;
mod status;
mod watch;

use args::{Cli, Command, Global};
use clap::Parser;
use failure::Failure;
use std::process::ExitCode;
use std::time::Duration;

fn state_machine(global: &Global) -> Result<String, Failure> {
    global.state_machine.clone().ok_or_else(|| {
        Failure::refused(
            "no state machine: pass --state-machine ARN or set UNLOADCTL_STATE_MACHINE_ARN \
             (the SAM stack's StateMachineArn output)",
        )
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(), // --help, --version
        Err(err) => {
            // One line, like every other error: clap's first line, without its "error: ".
            let text = err.to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty() && !l.starts_with("Usage:"))
                .map(str::trim)
                .collect();
            eprintln!(
                "unloadctl: {} (see --help)",
                message.join(" ").trim_start_matches("error: ")
            );
            return ExitCode::from(failure::REFUSED);
        }
    };
    let result = match cli.command {
        Command::Validate { file, today } => commands::validate(file.as_deref(), today.as_deref()),
        Command::PollSchedule {
            run_seconds,
            history_seconds,
        } => commands::poll_schedule(run_seconds, &history_seconds),
        command => aws(&cli.global, command),
    };
    match result {
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

/// The commands that call Step Functions.
fn aws(global: &Global, command: Command) -> Result<String, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let client = sfn::client(global.region.clone(), global.profile.clone()).await;
        let format = global.output;
        match command {
            Command::Start {
                table,
                day,
                full: _,
                input,
                unload,
            } => {
                let args = start::Args {
                    flags: request::Flags {
                        table: table.unwrap_or_default(),
                        day,
                        key: unload.key,
                        format: unload.format,
                        write_mode: unload.write_mode,
                    },
                    input,
                    run_tag: unload.run_tag,
                    strict: unload.strict,
                };
                start::run(&client, &state_machine(global)?, &args, format).await
            }
            Command::Backfill {
                table,
                from,
                to,
                concurrency,
                poll_seconds,
                dry_run,
                input,
                unload,
            } => {
                if input.is_some() {
                    return Err(Failure::refused(
                        "backfill builds each day's request from --table and --key; --input is for start",
                    ));
                }
                let args = backfill::Args {
                    flags: request::Flags {
                        table,
                        day: None,
                        key: unload.key,
                        format: unload.format,
                        write_mode: unload.write_mode,
                    },
                    from,
                    to,
                    concurrency,
                    run_tag: unload.run_tag,
                    poll: Duration::from_secs(poll_seconds.max(1)),
                    strict: unload.strict,
                    dry_run,
                };
                backfill::run(&client, &state_machine(global)?, &args, format).await
            }
            Command::Watch {
                execution,
                poll_seconds,
            } => {
                let arn = watch::resolve(&execution, global.state_machine.as_deref())?;
                watch::run(&client, &arn, Duration::from_secs(poll_seconds.max(1)), format).await
            }
            Command::Status {
                table,
                since,
                limit,
            } => {
                let args = status::Args {
                    table,
                    since,
                    limit: limit.max(1),
                };
                status::run(&client, &state_machine(global)?, &args, format).await
            }
            Command::Validate { .. } | Command::PollSchedule { .. } => Err(Failure::failed(
                "internal: validate and poll-schedule need no AWS client",
            )),
        }
    })
}
