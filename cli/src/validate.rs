//! `unloadctl validate`: check a request as the validate Lambda does, print it normalized.

use crate::failure::Failure;
use chrono::{NaiveDate, Utc};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use unload_core::checks;
use unload_core::request::{normalize, RequestDefaults};

/// Validate a request as the validate Lambda does; print the normalized request as JSON.
///
/// Same code, same UNLOAD_* environment variables as the Lambda.
#[derive(clap::Args)]
pub struct Args {
    /// The request JSON file; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Pin "today" (YYYY-MM-DD) instead of the clock; UNLOAD_DAY_OFFSET_DAYS still applies.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<String>,
}

fn refused(message: impl Into<String>) -> Failure {
    Failure::refused(message)
}

impl Args {
    pub fn run(&self) -> Result<String, Failure> {
        let text = read_input(self.file.as_deref())?;
        // Never echo the input: it may hold a password the validation is about to refuse.
        let event: Value = serde_json::from_str(&text)
            .map_err(|e| refused(format!("the request is not valid JSON: {e}")))?;
        let defaults = RequestDefaults::from_env();
        let today = match self.today.as_deref() {
            // A flag's value: named by the flag like clap's refusals, without a kind.
            Some(day) => {
                checks::calendar_date("--today", day).map_err(|e| refused(e.to_string()))?
            }
            None => defaults.today(Utc::now())?,
        };
        let day: NaiveDate = defaults.shift_day(today)?;
        let request = normalize(&event, &defaults, day)?;
        serde_json::to_string_pretty(&request).map_err(|e| refused(e.to_string()))
    }
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
