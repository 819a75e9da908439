//! When to look at a Glue run again. Pure, so its figures can be tested and benchmarked.
//!
//! Detection latency (how late we notice a finished run) stays a bounded fraction of the run's
//! age: the next wait is `growth_percent` of the time elapsed so far, never below `min_seconds`
//! and never above `max_seconds`. Polls therefore grow logarithmically with run time until the cap,
//! then linearly at one per `max_seconds`: a 48-hour run takes about 220 polls, far below the
//! 25,000-event history limit. The first wait skips the early short polls when the job's recent
//! successful runs show it never finishes that fast.

use crate::config::{self, Vars};
use crate::error::{Result, UnloadError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    pub min_seconds: u64,
    pub max_seconds: u64,
    pub growth_percent: u64,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            min_seconds: 30,
            max_seconds: 900,
            growth_percent: 12,
        }
    }
}

pub mod env {
    pub const MIN_SECONDS: &str = "POLL_MIN_SECONDS";
    pub const MAX_SECONDS: &str = "POLL_MAX_SECONDS";
    pub const GROWTH_PERCENT: &str = "POLL_GROWTH_PERCENT";
    /// The Glue job's timeout: the longest run the policy must poll within the history limit.
    pub const JOB_TIMEOUT_MINUTES: &str = "GLUE_JOB_TIMEOUT_MINUTES";
}

/// Step Functions' quota for one Standard execution's history ("Quotas related to state machine
/// executions": 25,000 events); an execution that reaches it fails.
pub const HISTORY_EVENT_LIMIT: u64 = 25_000;
/// History events per poll cycle: WaitForRun entered/exited, CheckStatus entered, scheduled,
/// started, succeeded, exited, RunFinished? entered/exited.
pub const EVENTS_PER_POLL: u64 = 9;
/// Every other event of an execution, with room for retries (Prepare … Succeeded is about 30).
pub const EVENTS_OUTSIDE_POLLING: u64 = 200;

impl PollPolicy {
    /// Reads POLL_MIN_SECONDS, POLL_MAX_SECONDS, POLL_GROWTH_PERCENT; unset = the default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let d = Self::default();
        let vars = Vars::new(lookup);
        let policy = Self {
            min_seconds: vars.number(env::MIN_SECONDS, d.min_seconds, 1..=3600)?,
            max_seconds: vars.number(env::MAX_SECONDS, d.max_seconds, 1..=86_400)?,
            growth_percent: vars.number(env::GROWTH_PERCENT, d.growth_percent, 1..=100)?,
        };
        if let Some(text) = vars.text(env::JOB_TIMEOUT_MINUTES) {
            let minutes = vars
                .number(env::JOB_TIMEOUT_MINUTES, 0, 1..=10_080)
                .map_err(|_| {
                    config::error(
                        env::JOB_TIMEOUT_MINUTES,
                        format!("{text:?} must be a whole number of minutes in 1..=10080"),
                    )
                })?;
            let events = policy.history_events(minutes * 60);
            if events > HISTORY_EVENT_LIMIT {
                return Err(UnloadError::ConfigurationError(format!(
                    "{} ({}) is too short for a run of {} ({minutes} min): polling it would take \
                     about {events} history events, above Step Functions' {HISTORY_EVENT_LIMIT}; \
                     raise {} or lower the job timeout",
                    env::MAX_SECONDS,
                    policy.max_seconds,
                    env::JOB_TIMEOUT_MINUTES,
                    env::MAX_SECONDS
                )));
            }
        }
        if policy.min_seconds > policy.max_seconds {
            return Err(UnloadError::ConfigurationError(format!(
                "{} ({}) is above {} ({})",
                env::MIN_SECONDS,
                policy.min_seconds,
                env::MAX_SECONDS,
                policy.max_seconds
            )));
        }
        Ok(policy)
    }

    pub fn from_env() -> Result<Self> {
        Self::from_lookup(config::process_env)
    }

    /// The wait after starting a run: 90% of the fastest recent successful run (so a typical run
    /// is not yet done), within [min, max]; `min_seconds` when there is no history.
    pub fn first_wait(&self, recent_successful_seconds: &[u64]) -> u64 {
        match recent_successful_seconds
            .iter()
            .copied()
            .filter(|s| *s > 0)
            .min()
        {
            Some(fastest) => (fastest * 9 / 10).clamp(self.min_seconds, self.max_seconds),
            None => self.min_seconds,
        }
    }

    /// The wait after a poll that found the run still going, `elapsed_seconds` after it started.
    pub fn next_wait(&self, elapsed_seconds: u64) -> u64 {
        (elapsed_seconds.saturating_mul(self.growth_percent) / 100)
            .clamp(self.min_seconds, self.max_seconds)
    }

    /// History events of an execution whose run lasts `run_seconds` (no history to shorten the
    /// first wait): the worst case the 25,000-event limit must hold for.
    pub fn history_events(&self, run_seconds: u64) -> u64 {
        let polls = self.schedule(run_seconds, &[]).len() as u64;
        polls * EVENTS_PER_POLL + EVENTS_OUTSIDE_POLLING
    }

    /// The waits a run of `run_seconds` sees: the first wait, then one per poll, until the first
    /// poll at or after the run's end. Used by `unloadctl poll-schedule` and the benchmarks.
    pub fn schedule(&self, run_seconds: u64, recent_successful_seconds: &[u64]) -> Vec<u64> {
        let mut waits = vec![self.first_wait(recent_successful_seconds)];
        let mut elapsed = waits[0];
        while elapsed < run_seconds {
            let wait = self.next_wait(elapsed);
            waits.push(wait);
            elapsed += wait;
        }
        waits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PollPolicy = PollPolicy {
        min_seconds: 30,
        max_seconds: 900,
        growth_percent: 12,
    };

    /// Worst-case detection latency: the longest wait after which a run could have ended just after
    /// the previous poll.
    fn worst_latency(waits: &[u64]) -> u64 {
        waits.iter().copied().max().unwrap_or(0)
    }

    #[test]
    fn first_wait_without_history_is_the_minimum() {
        assert_eq!(POLICY.first_wait(&[]), 30);
    }

    #[test]
    fn first_wait_follows_the_fastest_recent_success() {
        assert_eq!(POLICY.first_wait(&[400, 300, 500]), 270);
    }

    #[test]
    fn first_wait_is_clamped() {
        assert_eq!(POLICY.first_wait(&[10]), 30);
        assert_eq!(POLICY.first_wait(&[36_000]), 900);
        assert_eq!(
            POLICY.first_wait(&[0]),
            30,
            "a zero duration is no information"
        );
    }

    #[test]
    fn waits_grow_with_elapsed_time_and_are_capped() {
        assert_eq!(POLICY.next_wait(0), 30);
        assert_eq!(POLICY.next_wait(250), 30);
        assert_eq!(POLICY.next_wait(1000), 120);
        assert_eq!(POLICY.next_wait(7500), 900);
        assert_eq!(POLICY.next_wait(u64::MAX), 900);
        let mut last = 0;
        for elapsed in (0..20_000).step_by(60) {
            let w = POLICY.next_wait(elapsed);
            assert!(w >= last, "waits never shrink as the run ages");
            last = w;
        }
    }

    #[test]
    fn an_hour_long_run_takes_at_most_a_third_of_a_30_second_poll() {
        let ours = POLICY.schedule(3600, &[]).len();
        let fixed = 3600 / 30;
        assert!(ours * 3 <= fixed, "{ours} polls vs {fixed}");
    }

    #[test]
    fn a_48_hour_run_stays_far_below_the_history_limit() {
        let polls = POLICY.schedule(48 * 3600, &[]).len();
        // Each poll costs about 9 history events (Wait, Task, Choice).
        assert!(polls * 9 < 2500, "{polls} polls");
    }

    #[test]
    fn latency_stays_a_small_fraction_of_run_time() {
        for run in [300u64, 3600, 36_000] {
            let waits = POLICY.schedule(run, &[]);
            let detected_at: u64 = waits.iter().sum();
            assert!(detected_at >= run);
            let late = detected_at - run;
            assert!(
                late <= (run * POLICY.growth_percent / 100).max(POLICY.min_seconds),
                "run {run}: {late} s late"
            );
            assert!(worst_latency(&waits) <= POLICY.max_seconds);
        }
    }

    #[test]
    fn schedule_ends_at_the_first_poll_after_the_run() {
        let waits = POLICY.schedule(100, &[]);
        assert_eq!(waits, vec![30, 30, 30, 30]);
    }

    #[test]
    fn a_policy_that_would_overflow_the_history_of_a_job_timeout_is_refused() {
        let policy = |min: &str, max: &str, growth: &str, timeout: &str| {
            let vars = [
                ("POLL_MIN_SECONDS", min.to_string()),
                ("POLL_MAX_SECONDS", max.to_string()),
                ("POLL_GROWTH_PERCENT", growth.to_string()),
                ("GLUE_JOB_TIMEOUT_MINUTES", timeout.to_string()),
            ];
            PollPolicy::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
        };
        // 48 h polled at most every 60 s: about 3,000 polls, 27,000 events.
        let err = policy("5", "60", "1", "2880").unwrap_err();
        assert_eq!(err.kind(), "ConfigurationError");
        assert!(err.to_string().contains("POLL_MAX_SECONDS"), "{err}");
        assert!(policy("5", "120", "1", "2880").is_ok());
        assert!(policy("5", "60", "1", "1440").is_ok());
        let events = POLICY.history_events(48 * 3600);
        assert!(events < HISTORY_EVENT_LIMIT / 5, "the defaults: {events}");
    }

    #[test]
    fn environment_overrides_and_rejects_nonsense() {
        let vars = [("POLL_MIN_SECONDS", "10"), ("POLL_GROWTH_PERCENT", "20")];
        let p = PollPolicy::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        assert_eq!(
            p,
            PollPolicy {
                min_seconds: 10,
                max_seconds: 900,
                growth_percent: 20
            }
        );
        let bad =
            PollPolicy::from_lookup(|k| (k == "POLL_MAX_SECONDS").then(|| "soon".to_string()))
                .unwrap_err();
        assert_eq!(bad.kind(), "ConfigurationError");
        let inverted = PollPolicy::from_lookup(|k| match k {
            "POLL_MIN_SECONDS" => Some("600".into()),
            "POLL_MAX_SECONDS" => Some("60".into()),
            _ => None,
        });
        assert!(inverted.is_err());
    }
}
