//! `unloadctl poll-schedule`: the polling policy's waits for a Glue run of a given length.

use crate::failure::Failure;
use serde_json::json;
use unload_core::polling::PollPolicy;

/// Print the polling waits (POLL_* variables) for a Glue run of a given length.
#[derive(clap::Args)]
pub struct Args {
    /// How long the simulated run takes, in seconds.
    #[arg(long)]
    pub run_seconds: u64,
    /// Durations of the job's recent successful runs, comma-separated seconds.
    #[arg(long, value_delimiter = ',')]
    pub history_seconds: Vec<u64>,
}

impl Args {
    pub fn run(&self) -> Result<String, Failure> {
        let policy = PollPolicy::from_env()?;
        let waits = policy.schedule(self.run_seconds, &self.history_seconds);
        let output = json!({
            "run_seconds": self.run_seconds,
            "policy": {"min_seconds": policy.min_seconds, "max_seconds": policy.max_seconds, "growth_percent": policy.growth_percent},
            "polls": waits.len(),
            "detected_after_seconds": waits.iter().sum::<u64>(),
            "waits": waits,
        });
        Ok(output.to_string())
    }
}
