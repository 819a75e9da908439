//! `unloadctl watch` on a batch execution (and `backfill --server`): a live count of the batch's
//! items instead of the per-state view, then the batch's summary.
//!
//! Everything comes from the batch's own history (GetExecutionHistory):
//! - planned: the `Plan` state's output, its `counts` (`{"items", "start", "follow", "skip",
//!   "invalid"}`), from the TaskSucceeded / LambdaFunctionSucceeded event while Plan runs (the
//!   Lambda's result, or lambda:invoke's `Payload`), or Plan's StateExited output (`plan.counts`);
//! - the children: the Map iterations' `states:startExecution.sync:2` task events (resourceType
//!   `states`, resource `startExecution...`). Step Functions records, for each attempt,
//!   TaskScheduled, TaskStarted, then TaskSubmitted once StartExecution answered (the child
//!   runs), then TaskSucceeded (the child succeeded) or TaskFailed (error States.TaskFailed: the
//!   child failed, timed out or was aborted). When StartExecution itself is refused there is no
//!   TaskSubmitted: TaskFailed follows TaskStarted (error `StepFunctions.<Code>Exception`), and
//!   the item is NOT_STARTED. moto 5.2.5 records the same sequence.
//!
//! Iterations run concurrently and their events interleave; each event's previousEventId points
//! to the one before it in the same iteration, so every event is traced back to its
//! MapIterationStarted, and a child's state is kept per iteration (a retried StartExecution is
//! the same item). Counts: done = children succeeded + items skipped; failed = children failed +
//! items invalid + not started; running = children submitted and not ended.

use crate::failure::Failure;
use crate::output::{self, Format};
use crate::sfn::{self, Aws, Event, Execution, Status};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// The Plan state's `counts` (docs/CONTRACT.md, "Plan").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PlanCounts {
    pub items: u64,
    pub start: u64,
    pub follow: u64,
    pub skip: u64,
    pub invalid: u64,
}

/// Where one item's child execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Child {
    /// StartExecution scheduled or called, no answer yet (or a retry pending).
    Starting,
    /// StartExecution answered (TaskSubmitted): the child runs.
    Running,
    Succeeded,
    /// The child ended FAILED, TIMED_OUT or ABORTED (or the task timed out waiting for it).
    Failed,
    /// StartExecution itself failed (no TaskSubmitted).
    NotStarted,
}

/// The counts shown, from what the history said so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// None until Plan's output is in the history.
    pub planned: Option<u64>,
    pub done: u64,
    pub failed: u64,
    pub running: u64,
    pub succeeded: u64,
    pub skipped: u64,
    pub children_failed: u64,
    pub invalid: u64,
    pub not_started: u64,
}

impl Tally {
    /// Planned items not done, failed or running yet.
    pub fn waiting(&self) -> Option<u64> {
        self.planned
            .map(|p| p.saturating_sub(self.done + self.failed + self.running))
    }

    pub fn text(&self) -> String {
        let planned = self
            .planned
            .map_or_else(|| "planning".to_string(), |p| format!("{p} planned"));
        let mut done = format!("{} done", self.done);
        if self.skipped > 0 {
            done.push_str(&format!(" ({} skipped)", self.skipped));
        }
        let mut failed = format!("{} failed", self.failed);
        let parts: Vec<String> = [(self.invalid, "invalid"), (self.not_started, "not started")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        if !parts.is_empty() {
            failed.push_str(&format!(" ({})", parts.join(", ")));
        }
        let mut text = format!("{planned}: {done}, {failed}, {} running", self.running);
        if let Some(waiting) = self.waiting().filter(|w| *w > 0) {
            text.push_str(&format!(", {waiting} waiting"));
        }
        text
    }

    pub fn json(&self, elapsed: f64) -> Value {
        json!({"elapsed_seconds": (elapsed * 10.0).round() / 10.0, "planned": self.planned,
               "done": self.done, "failed": self.failed, "running": self.running,
               "waiting": self.waiting(), "succeeded": self.succeeded, "skipped": self.skipped,
               "children_failed": self.children_failed, "invalid": self.invalid,
               "not_started": self.not_started})
    }
}

/// Reads the batch's history events, in id order, into the counts (pure).
#[derive(Debug, Default)]
pub struct Progress {
    counts: Option<PlanCounts>,
    /// Event id → the id of its iteration's MapIterationStarted (0: outside any iteration).
    thread: HashMap<i64, i64>,
    /// Iteration → its child, for the iterations that started one.
    children: HashMap<i64, Child>,
    /// The top-level state running is Plan.
    in_plan: bool,
}

/// A child-execution task event: `arn:aws:states:::states:startExecution[.sync[:2]]`.
fn is_child_task(event: &Event) -> bool {
    event.resource_type.as_deref() == Some("states")
        && event
            .resource
            .as_deref()
            .is_some_and(|r| r.starts_with("startExecution"))
}

/// `counts` in Plan's result: as the function returned it, under lambda:invoke's Payload, or
/// under `plan` in the state's output.
fn plan_counts(output: Option<&str>) -> Option<PlanCounts> {
    let value: Value = serde_json::from_str(output?).ok()?;
    let candidates = [
        &value["counts"],
        &value["Payload"]["counts"],
        &value["plan"]["counts"],
        &value["Payload"]["plan"]["counts"],
    ];
    let counts = candidates.into_iter().find(|c| c.is_object())?;
    serde_json::from_value(counts.clone()).ok()
}

impl Progress {
    pub fn feed(&mut self, event: &Event) {
        let kind = event.kind.as_str();
        let inherited = self.thread.get(&event.previous).copied().unwrap_or(0);
        let thread = match kind {
            "MapIterationStarted" => event.id,
            // A child task outside any traced iteration is an item of its own.
            "TaskScheduled" if inherited == 0 && is_child_task(event) => event.id,
            _ => inherited,
        };
        self.thread.insert(event.id, thread);

        if thread == 0 && kind.ends_with("StateEntered") {
            self.in_plan = event.state.as_deref() == Some("Plan");
        }
        if self.counts.is_none() {
            let plan_result = thread == 0
                && self.in_plan
                && matches!(kind, "TaskSucceeded" | "LambdaFunctionSucceeded");
            let plan_exit = kind.ends_with("StateExited") && event.state.as_deref() == Some("Plan");
            if plan_result || plan_exit {
                self.counts = plan_counts(event.output.as_deref());
            }
        }

        let failure = matches!(
            kind,
            "TaskFailed" | "TaskTimedOut" | "TaskStartFailed" | "TaskSubmitFailed"
        );
        // A failure the engine records without the resource (moto's States.Runtime) still ends
        // the child task its iteration started.
        let ours = is_child_task(event)
            || (failure && event.resource_type.is_none() && self.children.contains_key(&thread));
        if !ours {
            return;
        }
        let child = self.children.entry(thread).or_insert(Child::Starting);
        *child = match kind {
            "TaskScheduled" | "TaskStarted" if *child != Child::Running => Child::Starting,
            "TaskSubmitted" => Child::Running,
            "TaskSucceeded" => Child::Succeeded,
            _ if failure && *child == Child::Running => Child::Failed,
            _ if failure => Child::NotStarted,
            _ => *child,
        };
    }

    pub fn tally(&self) -> Tally {
        let count = |state: Child| self.children.values().filter(|c| **c == state).count() as u64;
        let counts = self.counts.unwrap_or_default();
        let (succeeded, children_failed, not_started) = (
            count(Child::Succeeded),
            count(Child::Failed),
            count(Child::NotStarted),
        );
        Tally {
            planned: self.counts.map(|c| c.items),
            done: succeeded + counts.skip,
            failed: children_failed + counts.invalid + not_started,
            running: count(Child::Running),
            succeeded,
            skipped: counts.skip,
            children_failed,
            invalid: counts.invalid,
            not_started,
        }
    }
}

/// The state machine's name (the ARN's last part).
fn machine_name(state_machine_arn: &str) -> &str {
    state_machine_arn
        .split_once(":stateMachine:")
        .map_or(state_machine_arn, |(_, name)| name)
}

/// Whether the execution is the batch workflow's: its state machine is the known
/// BatchStateMachineArn (given, or read from the stack already), or is named `...-batch` as the
/// template names it (`<stack>-batch`).
pub fn is_batch(execution: &Execution, batch_state_machine: Option<&str>) -> bool {
    batch_state_machine == Some(execution.state_machine_arn.as_str())
        || machine_name(&execution.state_machine_arn).ends_with("-batch")
}

/// How the counts are shown: one updating line on a terminal, a line per change otherwise, an
/// object per line for JSON.
enum Display {
    Bar(ProgressBar),
    Lines,
    Json,
}

impl Display {
    /// `age`: how long the batch has run (the clock shown counts from its start).
    fn new(format: Format, age: Duration) -> Self {
        match format {
            Format::Json => Display::Json,
            Format::Text if std::io::stdout().is_terminal() => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout())
                    .with_elapsed(age);
                if let Ok(style) =
                    ProgressStyle::with_template("{spinner} {elapsed_precise}  {msg}")
                {
                    bar.set_style(style);
                }
                bar.enable_steady_tick(Duration::from_millis(250));
                Display::Bar(bar)
            }
            Format::Text => Display::Lines,
        }
    }

    fn show(&self, tally: &Tally, elapsed: f64) {
        match self {
            Display::Bar(bar) => bar.set_message(tally.text()),
            Display::Lines => println!(
                "{:>8}  {}",
                format!("+{}", output::duration(elapsed)),
                tally.text()
            ),
            Display::Json => println!("{}", tally.json(elapsed)),
        }
        let _ = std::io::stdout().flush();
    }

    fn finish(&self) {
        if let Display::Bar(bar) = self {
            bar.finish(); // the last counts stay on screen
        }
    }
}

fn seconds_since(start: DateTime<Utc>, at: DateTime<Utc>) -> f64 {
    ((at - start).num_milliseconds() as f64 / 1000.0).max(0.0)
}

/// Follows the batch until it ends, showing the counts; then its summary. Exit 0 when the batch
/// succeeded, 1 when not.
pub async fn follow(aws: &Aws, first: Execution, poll: Duration) -> Result<String, Failure> {
    let (client, format) = (&aws.client, aws.format);
    let arn = first.arn.clone();
    if format == Format::Text {
        println!(
            "watching batch {} (started {})",
            first.name,
            first.started.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    let age = (Utc::now() - first.started).to_std().unwrap_or_default();
    let display = Display::new(format, age);
    let mut progress = Progress::default();
    let mut seen = 0;
    let mut shown: Option<Tally> = None;
    loop {
        // Describe first: an execution that ended has its whole history by now.
        let execution = sfn::describe(client, &arn)
            .await?
            .ok_or_else(|| Failure::failed(format!("execution {arn} disappeared")))?;
        for event in sfn::history(client, &arn, seen).await? {
            seen = seen.max(event.id);
            progress.feed(&event);
        }
        let tally = progress.tally();
        if shown != Some(tally) {
            let now = execution.stopped.unwrap_or_else(Utc::now);
            display.show(&tally, seconds_since(execution.started, now));
            shown = Some(tally);
        }
        if !execution.status.is_running() {
            display.finish();
            return finish(&execution, format);
        }
        tokio::time::sleep(poll).await;
    }
}

/// The batch's summary: its output when it succeeded; the Cause when it failed with BatchFailed
/// (the summary, as JSON).
pub fn summary(execution: &Execution) -> Option<Value> {
    let text = match (&execution.status, execution.error.as_deref()) {
        (Status::Succeeded, _) => execution.output.as_deref()?,
        (_, Some("BatchFailed")) => execution.cause.as_deref()?,
        _ => return None,
    };
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
}

/// The summary for people: the counts, then one row per failure.
fn summary_text(summary: &Value) -> String {
    let n = |key: &str| summary[key].as_u64().unwrap_or(0);
    let mut text = format!(
        "{} items: {} succeeded, {} skipped, {} failed; {} rows",
        n("items"),
        n("succeeded"),
        n("skipped"),
        n("failed"),
        n("rows")
    );
    let failures = summary["failures"].as_array().cloned().unwrap_or_default();
    if !failures.is_empty() {
        let mut rows = vec![["TABLE", "SCOPE", "EXECUTION", "ERROR"]
            .map(String::from)
            .to_vec()];
        for f in &failures {
            let s = |key: &str| f[key].as_str().unwrap_or("-").to_string();
            rows.push(vec![
                s("table"),
                s("scope"),
                s("name"),
                output::error_line(f["error"].as_str(), f["cause"].as_str()),
            ]);
        }
        text.push('\n');
        text.push_str(&output::table(&rows));
    }
    text
}

/// Prints the ended batch's summary; Ok when it succeeded, the one-line failure when not.
pub fn finish(execution: &Execution, format: Format) -> Result<String, Failure> {
    let seconds = execution
        .stopped
        .map(|s| seconds_since(execution.started, s))
        .unwrap_or(0.0);
    let summary = summary(execution);
    let message = summary
        .as_ref()
        .and_then(|s| s["message"].as_str())
        .map(str::to_string);
    match format {
        Format::Json => println!(
            "{}",
            json!({"execution_arn": execution.arn, "name": execution.name,
                   "status": execution.status.name(), "duration_seconds": seconds,
                   "error": execution.error,
                   // The cause is the summary for BatchFailed: not twice.
                   "cause": if summary.is_some() { None } else { execution.cause.clone() },
                   "summary": summary})
        ),
        Format::Text => {
            if let Some(summary) = &summary {
                println!("{}", summary_text(summary));
            }
        }
    }
    if execution.status == Status::Succeeded {
        return Ok(match format {
            Format::Json => String::new(),
            Format::Text => {
                let mut line = format!(
                    "{} SUCCEEDED in {}",
                    execution.name,
                    output::duration(seconds)
                );
                if let Some(message) = message {
                    line.push_str(&format!(": {message}"));
                }
                line
            }
        });
    }
    let reason = match message {
        Some(message) => format!(
            "{}: {message}",
            execution.error.as_deref().unwrap_or("BatchFailed")
        ),
        None => output::error_line(execution.error.as_deref(), execution.cause.as_deref()),
    };
    Err(Failure::failed(format!(
        "{} {} after {}: {reason}",
        execution.name,
        execution.status.name(),
        output::duration(seconds)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history event in GetExecutionHistory's JSON shape, as the parts `sfn` keeps.
    fn from_wire(e: &Value) -> Event {
        let details = e
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.ends_with("EventDetails"))
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null);
        let s = |key: &str| details[key].as_str().map(str::to_string);
        Event {
            id: e["id"].as_i64().unwrap(),
            previous: e["previousEventId"].as_i64().unwrap_or(0),
            at: None,
            kind: e["type"].as_str().unwrap().to_string(),
            state: s("name").filter(|_| {
                e["type"].as_str().unwrap().ends_with("StateEntered")
                    || e["type"].as_str().unwrap().ends_with("StateExited")
            }),
            output: s("output"),
            error: s("error"),
            cause: s("cause"),
            resource_type: s("resourceType"),
            resource: s("resource"),
        }
    }

    /// Recorded from moto 5.2.5 running a batch-shaped state machine (Plan; an inline Map over
    /// 5 items at MaxConcurrency 2 whose iterations start a child by startExecution.sync:2, or
    /// pass a skip / invalid item): child `a` succeeds, child `b` fails, the last item's name is
    /// taken by an execution with another input (StartExecution refused). How it was recorded:
    /// cli/testdata/record-batch-history.py.
    fn moto_history() -> Vec<Event> {
        let wire: Vec<Value> =
            serde_json::from_str(include_str!("../testdata/batch-history-moto-5.2.5.json"))
                .unwrap();
        wire.iter().map(from_wire).collect()
    }

    fn tally_after(events: &[Event], last_id: i64) -> Tally {
        let mut p = Progress::default();
        events
            .iter()
            .filter(|e| e.id <= last_id)
            .for_each(|e| p.feed(e));
        p.tally()
    }

    #[test]
    fn a_recorded_moto_batch_counts_done_failed_and_running_as_it_goes() {
        let events = moto_history();
        // Before Plan's output: nothing planned yet.
        assert_eq!(tally_after(&events, 2).planned, None);
        // Plan exited; both children scheduled and started, none submitted.
        let t = tally_after(&events, 17);
        assert_eq!((t.planned, t.done, t.failed, t.running), (Some(5), 1, 1, 0));
        // Both StartExecution calls answered (TaskSubmitted): two children running.
        let t = tally_after(&events, 19);
        assert_eq!((t.done, t.failed, t.running), (1, 1, 2));
        // a succeeded (20), b failed (21).
        let t = tally_after(&events, 21);
        assert_eq!(
            (t.done, t.failed, t.running, t.succeeded, t.children_failed),
            (2, 2, 0, 1, 1)
        );
        // The end: the taken name was never started.
        let t = tally_after(&events, i64::MAX);
        assert_eq!(
            t,
            Tally {
                planned: Some(5),
                done: 2,
                failed: 3,
                running: 0,
                succeeded: 1,
                skipped: 1,
                children_failed: 1,
                invalid: 1,
                not_started: 1,
            }
        );
        assert_eq!(
            t.text(),
            "5 planned: 2 done (1 skipped), 3 failed (1 invalid, 1 not started), 0 running"
        );
    }

    #[test]
    fn events_read_in_pieces_count_the_same() {
        let events = moto_history();
        let mut p = Progress::default();
        for chunk in events.chunks(7) {
            chunk.iter().for_each(|e| p.feed(e));
        }
        assert_eq!(p.tally(), tally_after(&events, i64::MAX));
    }

    fn ev(id: i64, previous: i64, kind: &str) -> Event {
        Event {
            id,
            previous,
            kind: kind.into(),
            ..Event::default()
        }
    }

    fn task(id: i64, previous: i64, kind: &str) -> Event {
        Event {
            resource_type: Some("states".into()),
            resource: Some("startExecution.sync:2".into()),
            ..ev(id, previous, kind)
        }
    }

    #[test]
    fn a_lambda_plan_and_a_retried_start_count_as_aws_records_them() {
        let plan = r#"{"ExecutedVersion":"$LATEST","Payload":{"name":"n","counts":{"items":2,"start":2,"follow":0,"skip":0,"invalid":0}},"StatusCode":200}"#;
        let mut entered_plan = ev(2, 1, "TaskStateEntered");
        entered_plan.state = Some("Plan".into());
        let mut plan_done = ev(4, 3, "TaskSucceeded");
        plan_done.resource_type = Some("lambda".into());
        plan_done.output = Some(plan.into());
        let mut limit = task(14, 13, "TaskFailed");
        limit.error = Some("StepFunctions.ExecutionLimitExceededException".into());
        let events = vec![
            ev(1, 0, "ExecutionStarted"),
            entered_plan,
            ev(3, 2, "TaskScheduled"),
            plan_done,
            ev(5, 4, "TaskStateExited"),
            ev(6, 5, "MapStateEntered"),
            ev(7, 6, "MapStateStarted"),
            ev(8, 7, "MapIterationStarted"),
            ev(9, 7, "MapIterationStarted"),
            task(10, 8, "TaskScheduled"),
            task(11, 9, "TaskScheduled"),
            task(12, 10, "TaskStarted"),
            task(13, 11, "TaskStarted"),
            limit, // iteration 2's StartExecution refused; its Retry tries again
            task(15, 12, "TaskSubmitted"),
        ];
        let mut p = Progress::default();
        events.iter().for_each(|e| p.feed(e));
        let t = p.tally();
        assert_eq!((t.planned, t.running, t.not_started), (Some(2), 1, 1));
        // The retry starts it: the same item, now running, no longer "not started".
        for e in [
            task(16, 14, "TaskScheduled"),
            task(17, 16, "TaskStarted"),
            task(18, 17, "TaskSubmitted"),
        ] {
            p.feed(&e);
        }
        let t = p.tally();
        assert_eq!((t.running, t.not_started, t.failed), (2, 0, 0));
        p.feed(&task(19, 15, "TaskSucceeded"));
        let mut child_failed = task(20, 18, "TaskFailed");
        child_failed.error = Some("States.TaskFailed".into());
        p.feed(&child_failed);
        let t = p.tally();
        assert_eq!(
            (t.done, t.failed, t.running, t.children_failed),
            (1, 1, 0, 1)
        );
        assert_eq!(t.waiting(), Some(0));
    }

    #[test]
    fn a_runtime_failure_without_its_resource_still_ends_the_child_task() {
        // moto 5.2.5 without parameter normalization fails the task with States.Runtime and no
        // resourceType.
        let mut p = Progress::default();
        for e in [
            ev(1, 0, "MapIterationStarted"),
            task(2, 1, "TaskScheduled"),
            task(3, 2, "TaskStarted"),
            Event {
                error: Some("States.Runtime".into()),
                ..ev(4, 3, "TaskFailed")
            },
        ] {
            p.feed(&e);
        }
        assert_eq!(p.tally().not_started, 1);
    }

    fn execution(
        status: Status,
        error: Option<&str>,
        cause: Option<&str>,
        output: Option<&str>,
    ) -> Execution {
        let started = DateTime::from_timestamp(1_000, 0).unwrap();
        Execution {
            arn: "arn:aws:states:us-east-1:1:execution:redshift-unload-batch:b".into(),
            name: "b".into(),
            state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:redshift-unload-batch"
                .into(),
            status,
            started,
            stopped: Some(started + chrono::Duration::seconds(125)),
            input: None,
            output: output.map(str::to_string),
            error: error.map(str::to_string),
            cause: cause.map(str::to_string),
        }
    }

    const FAILED_SUMMARY: &str = r#"{"name":"nightly","day":"2026-12-01","items":3,"succeeded":2,"failed":1,"skipped":0,"rows":830,"failures":[{"table":"demo_master.missing","scope":"2026-12-01","name":"demo_master-missing-2026-12-01-nightly","execution_arn":"arn:e","error":"UnloadStatementFailed","cause":"relation does not exist"}],"tolerated":false,"message":"2 of 3 succeeded, 1 failed (tolerated: 0): demo_master.missing 2026-12-01 UnloadStatementFailed"}"#;

    #[test]
    fn a_batch_failed_beyond_its_tolerance_shows_the_cause_as_the_summary() {
        let e = execution(
            Status::Failed,
            Some("BatchFailed"),
            Some(FAILED_SUMMARY),
            None,
        );
        let summary = summary(&e).unwrap();
        assert_eq!(summary["failed"], 1);
        let text = summary_text(&summary);
        assert!(
            text.starts_with("3 items: 2 succeeded, 0 skipped, 1 failed; 830 rows\nTABLE"),
            "{text}"
        );
        assert!(text.contains("demo_master.missing  2026-12-01  demo_master-missing-2026-12-01-nightly  UnloadStatementFailed: relation does not exist"), "{text}");
        let err = finish(&e, Format::Json).unwrap_err();
        assert_eq!(err.exit_code, crate::failure::FAILED);
        assert_eq!(
            err.message,
            "b FAILED after 2m05s: BatchFailed: 2 of 3 succeeded, 1 failed (tolerated: 0): demo_master.missing 2026-12-01 UnloadStatementFailed"
        );
    }

    #[test]
    fn a_succeeded_batch_exits_0_with_its_message_and_other_failures_show_error_and_cause() {
        let ok = r#"{"items":2,"succeeded":2,"failed":0,"skipped":0,"rows":10,"failures":[],"message":"2 of 2 succeeded"}"#;
        let e = execution(Status::Succeeded, None, None, Some(ok));
        assert_eq!(
            finish(&e, Format::Text).unwrap(),
            "b SUCCEEDED in 2m05s: 2 of 2 succeeded"
        );
        let e = execution(
            Status::Failed,
            Some("InvalidRequest"),
            Some("Tables: must be a list"),
            None,
        );
        assert!(summary(&e).is_none());
        assert_eq!(
            finish(&e, Format::Text).unwrap_err().message,
            "b FAILED after 2m05s: InvalidRequest: Tables: must be a list"
        );
    }

    #[test]
    fn batches_are_told_by_their_state_machine() {
        let e = execution(Status::Running, None, None, None);
        assert!(is_batch(&e, None));
        let mut other = e.clone();
        other.state_machine_arn = "arn:aws:states:us-east-1:1:stateMachine:custom".into();
        assert!(!is_batch(&other, None));
        assert!(is_batch(
            &other,
            Some("arn:aws:states:us-east-1:1:stateMachine:custom")
        ));
        other.state_machine_arn = "arn:aws:states:us-east-1:1:stateMachine:redshift-unload".into();
        assert!(!is_batch(
            &other,
            Some("arn:aws:states:us-east-1:1:stateMachine:redshift-unload-batch")
        ));
    }
}
