//! The subcommands, as functions from arguments to printed output or a one-line error.

use chrono::{NaiveDate, Utc};
use serde_json::{json, Value};
use std::io::Read;
use std::path::Path;
use unload_core::checks;
use unload_core::polling::PollPolicy;
use unload_core::request::{normalize, RequestDefaults};

use crate::failure::Failure;

fn refused(message: impl Into<String>) -> Failure {
    Failure::refused(message)
}

pub fn validate(file: Option<&Path>, today: Option<&str>) -> Result<String, Failure> {
    let text = read_input(file)?;
    // Never echo the input: it may hold a password the validation is about to refuse.
    let event: Value = serde_json::from_str(&text)
        .map_err(|e| refused(format!("the request is not valid JSON: {e}")))?;
    let defaults = RequestDefaults::from_env();
    let today = match today {
        // A flag's value: named by the flag like clap's refusals, without a kind.
        Some(day) => checks::calendar_date("--today", day).map_err(|e| refused(e.to_string()))?,
        None => defaults.today(Utc::now())?,
    };
    let day: NaiveDate = defaults.shift_day(today)?;
    let request = normalize(&event, &defaults, day)?;
    serde_json::to_string_pretty(&request).map_err(|e| refused(e.to_string()))
}

pub(crate) fn read_input(file: Option<&Path>) -> Result<String, Failure> {
    match file {
        Some(path) if path != Path::new("-") => std::fs::read_to_string(path)
            .map_err(|e| refused(format!("cannot read {}: {e}", path.display()))),
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| refused(format!("cannot read standard input: {e}")))?;
            Ok(text)
        }
    }
}

pub fn poll_schedule(run_seconds: u64, history_seconds: &[u64]) -> Result<String, Failure> {
    let policy = PollPolicy::from_env()?;
    let waits = policy.schedule(run_seconds, history_seconds);
    let output = json!({
        "run_seconds": run_seconds,
        "policy": {"min_seconds": policy.min_seconds, "max_seconds": policy.max_seconds, "growth_percent": policy.growth_percent},
        "polls": waits.len(),
        "detected_after_seconds": waits.iter().sum::<u64>(),
        "waits": waits,
    });
    Ok(output.to_string())
}
