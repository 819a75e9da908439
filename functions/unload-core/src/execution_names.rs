//! Deterministic execution names, day ranges and which attempt to start (pure). unloadctl's
//! start and backfill and the batch workflow's plan name their executions alike, so either finds
//! what the other started.
//!
//! A name is `<schema>-<table>-<day|full>-<run tag>` plus `-a<N>` for the N-th attempt (N ≥ 2),
//! sanitized to Step Functions' rules: 1-80 characters of `[A-Za-z0-9_-]`. The same unload with
//! the same run tag always gets the same name, so Step Functions' name idempotency keeps a second
//! start from running it twice. When sanitizing loses information (a character outside the set)
//! or the name would be too long, a hash of the exact key is appended so two unloads never share
//! a name.

use chrono::{Days, NaiveDate};

/// Step Functions' limit on an execution name.
pub const MAX_NAME_CHARS: usize = 80;
/// Room kept free for an attempt suffix (`-a999`).
const ATTEMPT_ROOM: usize = 5;
/// The longest backfill, in days (ten years): a typo in a year should not start thousands.
pub const MAX_RANGE_DAYS: usize = 3660;

/// What one execution unloads: a day or the whole table (the workflow's own Scope).
pub use crate::contract::Scope;

/// The base name (attempt 1) for `table` (`schema.table`, already validated), scope and run tag.
pub fn base_name(table: &str, scope: Scope, run_tag: &str) -> String {
    readable_name(
        table,
        &scope.label(),
        run_tag,
        MAX_NAME_CHARS - ATTEMPT_ROOM,
    )
}

/// `<schema>-<table>-<label>-<tag>` in at most `limit` characters of `[A-Za-z0-9_-]`. When
/// sanitizing loses information or the name is too long, the table part is shortened and a hash
/// of the exact key appended, so two keys never share a name.
pub fn readable_name(table: &str, label: &str, run_tag: &str, limit: usize) -> String {
    let exact = format!("{table}|{label}|{run_tag}");
    let readable = format!("{}-{label}-{run_tag}", table.replace('.', "-"));
    let (clean, lossy) = sanitize(&readable);
    if !lossy && clean.len() <= limit {
        return clean;
    }
    // Keep the label and tag readable: shorten the table part, then add the hash of the exact key.
    let hash = format!("{:08x}", fnv1a(exact.as_bytes()) as u32);
    let tail = sanitize(&format!("-{label}-{run_tag}")).0;
    let head = sanitize(&table.replace('.', "-")).0;
    let room = limit.saturating_sub(tail.len() + hash.len() + 1);
    let head: String = head.chars().take(room).collect();
    let name = format!("{head}{tail}-{hash}");
    if name.len() <= limit {
        name
    } else {
        // Only an absurd run tag gets here (it is limited on the command line).
        name.chars().skip(name.len() - limit).collect()
    }
}

/// The name of the `attempt`-th execution (1 = the base name).
pub fn attempt_name(base: &str, attempt: u32) -> String {
    if attempt <= 1 {
        base.to_string()
    } else {
        format!("{base}-a{attempt}")
    }
}

/// Characters outside `[A-Za-z0-9_-]` become `_`; the flag says whether any did.
fn sanitize(text: &str) -> (String, bool) {
    let mut lossy = false;
    let clean = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                lossy = true;
                '_'
            }
        })
        .collect();
    (clean, lossy)
}

/// A run tag from the command line: 1-24 characters of `[A-Za-z0-9_-]`.
pub fn check_run_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() || tag.len() > 24 {
        return Err(format!(
            "--run-tag must be 1-24 characters, not {}",
            tag.len()
        ));
    }
    if let Some(c) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "--run-tag may hold only letters, digits, - and _ (Step Functions' name rules), not {c:?}"
        ));
    }
    Ok(())
}

/// 64-bit FNV-1a: stable across builds and platforms (std's hasher is not).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Every day from `from` to `to`, both included.
pub fn day_range(from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>, String> {
    if to < from {
        return Err(format!("--to {to} is before --from {from}"));
    }
    let count = (to - from).num_days() as usize + 1;
    if count > MAX_RANGE_DAYS {
        return Err(format!(
            "{from} to {to} is {count} days; a backfill covers at most {MAX_RANGE_DAYS}"
        ));
    }
    Ok((0..count)
        .filter_map(|i| from.checked_add_days(Days::new(i as u64)))
        .collect())
}

/// The execution ARN of `name` under `state_machine_arn`
/// (`arn:aws:states:r:a:stateMachine:M` → `arn:aws:states:r:a:execution:M:name`).
pub fn execution_arn(state_machine_arn: &str, name: &str) -> Option<String> {
    let (prefix, machine) = state_machine_arn.split_once(":stateMachine:")?;
    if machine.is_empty() || machine.contains(':') {
        return None;
    }
    Some(format!("{prefix}:execution:{machine}:{name}"))
}

/// An execution's status, as the attempt logic reasons about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    PendingRedrive,
    Other(String),
}

impl Status {
    pub fn name(&self) -> &str {
        match self {
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
            Status::PendingRedrive => "PENDING_REDRIVE",
            Status::Other(name) => name,
        }
    }

    /// Step Functions' status name (DescribeExecution's `status`).
    pub fn from_name(name: &str) -> Self {
        match name {
            "RUNNING" => Status::Running,
            "SUCCEEDED" => Status::Succeeded,
            "FAILED" => Status::Failed,
            "TIMED_OUT" => Status::TimedOut,
            "ABORTED" => Status::Aborted,
            "PENDING_REDRIVE" => Status::PendingRedrive,
            other => Status::Other(other.to_string()),
        }
    }

    /// Still going (nothing to decide yet).
    pub fn is_running(&self) -> bool {
        matches!(self, Status::Running | Status::PendingRedrive)
    }
}

/// Attempts looked up per unload before giving up (one failing 50 times needs a person).
pub const MAX_ATTEMPTS: u32 = 50;

/// What to do about one unload, given its attempts so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// An attempt already succeeded.
    Skip { attempt: u32 },
    /// The latest attempt is still running: wait for it instead of starting another.
    Follow { attempt: u32 },
    /// Start this attempt (1 = never tried).
    Start { attempt: u32 },
}

/// `attempts[i]` is the status of attempt i + 1 (they are looked up until the first missing).
pub fn decide(attempts: &[Status]) -> Action {
    if let Some(i) = attempts.iter().position(|s| *s == Status::Succeeded) {
        return Action::Skip {
            attempt: i as u32 + 1,
        };
    }
    match attempts.last() {
        Some(status) if status.is_running() => Action::Follow {
            attempt: attempts.len() as u32,
        },
        _ => Action::Start {
            attempt: attempts.len() as u32 + 1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn valid(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= MAX_NAME_CHARS
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }

    #[test]
    fn a_plain_name_is_readable_and_deterministic() {
        let name = base_name(
            "demo_master.orders",
            Scope::Day(day("1998-07-21").into()),
            "manual",
        );
        assert_eq!(name, "demo_master-orders-1998-07-21-manual");
        assert_eq!(
            name,
            base_name(
                "demo_master.orders",
                Scope::Day(day("1998-07-21").into()),
                "manual"
            )
        );
        assert_eq!(
            base_name("demo_master.orders", Scope::Full, "2026-11-25"),
            "demo_master-orders-full-2026-11-25"
        );
    }

    #[test]
    fn tags_days_and_tables_each_change_the_name() {
        let a = base_name("s.t", Scope::Day(day("2020-01-01").into()), "x");
        assert_ne!(
            a,
            base_name("s.t", Scope::Day(day("2020-01-02").into()), "x")
        );
        assert_ne!(
            a,
            base_name("s.t", Scope::Day(day("2020-01-01").into()), "y")
        );
        assert_ne!(
            a,
            base_name("s.u", Scope::Day(day("2020-01-01").into()), "x")
        );
        assert_ne!(a, base_name("s.t", Scope::Full, "x"));
    }

    #[test]
    fn lossy_characters_get_a_hash_so_names_do_not_collide() {
        let dollar = base_name("s.a$b", Scope::Full, "t");
        let underscore = base_name("s.a_b", Scope::Full, "t");
        assert!(valid(&dollar) && valid(&underscore));
        assert_ne!(dollar, underscore);
        assert!(dollar.starts_with("s-a_b-full-t-"));
    }

    #[test]
    fn long_tables_are_shortened_keeping_day_tag_and_room_for_attempts() {
        let long = format!("{}.{}", "s".repeat(60), "t".repeat(60));
        let other = format!("{}.{}", "s".repeat(60), "t".repeat(59) + "u");
        let name = base_name(&long, Scope::Day(day("2020-01-01").into()), "backfill");
        assert!(valid(&name), "{name}");
        assert!(name.len() <= MAX_NAME_CHARS - ATTEMPT_ROOM);
        assert!(name.contains("-2020-01-01-backfill-"));
        assert_ne!(
            name,
            base_name(&other, Scope::Day(day("2020-01-01").into()), "backfill")
        );
        assert!(valid(&attempt_name(&name, 999)));
    }

    #[test]
    fn attempts_are_suffixed_from_the_second() {
        assert_eq!(attempt_name("n", 1), "n");
        assert_eq!(attempt_name("n", 2), "n-a2");
        assert_eq!(attempt_name("n", 12), "n-a12");
    }

    #[test]
    fn run_tags_follow_the_name_rules() {
        assert!(check_run_tag("manual").is_ok());
        assert!(check_run_tag("2026-11-25_fix").is_ok());
        assert!(check_run_tag("").is_err());
        assert!(check_run_tag("a b").is_err());
        assert!(check_run_tag(&"x".repeat(25)).is_err());
    }

    #[test]
    fn day_ranges_are_inclusive_and_bounded() {
        let days = day_range(day("2020-02-27"), day("2020-03-01")).unwrap();
        assert_eq!(
            days,
            vec![
                day("2020-02-27"),
                day("2020-02-28"),
                day("2020-02-29"),
                day("2020-03-01")
            ]
        );
        assert_eq!(
            day_range(day("2020-01-01"), day("2020-01-01"))
                .unwrap()
                .len(),
            1
        );
        assert!(day_range(day("2020-01-02"), day("2020-01-01")).is_err());
        assert!(day_range(day("2000-01-01"), day("2020-01-01")).is_err());
    }

    #[test]
    fn execution_arns_derive_from_the_state_machine() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:us-east-1:123456789012:stateMachine:unload",
                "n-a2"
            )
            .as_deref(),
            Some("arn:aws:states:us-east-1:123456789012:execution:unload:n-a2")
        );
        assert_eq!(execution_arn("not-an-arn", "n"), None);
    }

    #[test]
    fn an_unload_never_tried_starts_its_first_attempt() {
        assert_eq!(decide(&[]), Action::Start { attempt: 1 });
    }

    #[test]
    fn an_unload_that_succeeded_once_is_skipped_whatever_came_after() {
        assert_eq!(decide(&[Status::Succeeded]), Action::Skip { attempt: 1 });
        assert_eq!(
            decide(&[Status::Failed, Status::Succeeded]),
            Action::Skip { attempt: 2 }
        );
        assert_eq!(
            decide(&[Status::Succeeded, Status::Running]),
            Action::Skip { attempt: 1 }
        );
    }

    #[test]
    fn a_running_attempt_is_followed_not_duplicated() {
        assert_eq!(decide(&[Status::Running]), Action::Follow { attempt: 1 });
        assert_eq!(
            decide(&[Status::Failed, Status::Running]),
            Action::Follow { attempt: 2 }
        );
        assert_eq!(
            decide(&[Status::PendingRedrive]),
            Action::Follow { attempt: 1 }
        );
    }

    #[test]
    fn a_failed_timed_out_or_aborted_attempt_gets_the_next_one() {
        assert_eq!(decide(&[Status::Failed]), Action::Start { attempt: 2 });
        assert_eq!(
            decide(&[Status::Failed, Status::TimedOut, Status::Aborted]),
            Action::Start { attempt: 4 }
        );
    }
}
