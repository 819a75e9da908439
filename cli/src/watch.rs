//! `unloadctl watch`: follows an execution's history, one line per state entered or exited.

use crate::args::poll_seconds;
use crate::batch_watch;
use crate::failure::Failure;
use crate::output::{self, Format};
use crate::sfn::{self, Aws, Event, Status};
use crate::stack::Machine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;
use unload_core::execution_names as naming;

/// Follow an execution live; exit 0 when it succeeds, 1 when it fails.
///
/// One line per state entered or exited with the time since the start, the Glue run state after
/// each poll, and on failure the error and cause. A batch workflow execution (its state machine
/// is the stack's BatchStateMachineArn, or is named ...-batch) shows instead a live count of its
/// items (planned, done, failed, running), then its summary. Exits 0 when the execution
/// succeeds, 1 when it fails, times out or is aborted.
#[derive(clap::Args)]
pub struct Args {
    /// The execution ARN, or its name (looked up under the unload workflow, then the batch
    /// workflow: their ARNs given, or read from the stack).
    pub execution: String,
    /// Seconds between looks at the history.
    #[arg(long = "poll-seconds", default_value = "2", value_name = "SECONDS", value_parser = poll_seconds)]
    pub poll: Duration,
}

/// Turns history events into lines (pure: the follow loop feeds it what the API returns).
pub struct Narrator {
    start: DateTime<Utc>,
    /// The state last entered: task failures in the history do not name their state.
    current: Option<String>,
}

/// One line of `watch`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub elapsed: f64,
    pub event: String,
    pub state: Option<String>,
    pub detail: String,
}

impl Line {
    pub fn text(&self) -> String {
        let in_wait = self.state.as_deref() == Some(WAIT_STATE);
        let verb = match self.event.as_str() {
            "TaskTimedOut" if in_wait => "timeout",
            "TaskSucceeded" if in_wait => "woken",
            e if e.ends_with("StateEntered") => "enter",
            e if e.ends_with("StateExited") => "exit",
            "TaskFailed" | "LambdaFunctionFailed" | "TaskTimedOut" | "LambdaFunctionTimedOut" => {
                "error"
            }
            "ExecutionSucceeded" => "SUCCEEDED",
            "ExecutionFailed" => "FAILED",
            "ExecutionTimedOut" => "TIMED_OUT",
            "ExecutionAborted" => "ABORTED",
            other => other,
        };
        let mut text = format!("{:>8}  ", format!("+{:.1}s", self.elapsed));
        match &self.state {
            Some(state) => text.push_str(&format!("{verb:<9} {state}")),
            None => text.push_str(verb),
        }
        if !self.detail.is_empty() {
            text.push_str("  ");
            text.push_str(&self.detail);
        }
        text.trim_end().to_string()
    }

    pub fn json(&self) -> Value {
        json!({"elapsed_seconds": (self.elapsed * 10.0).round() / 10.0, "event": self.event,
               "state": self.state, "detail": self.detail})
    }
}

impl Narrator {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            start,
            current: None,
        }
    }

    pub fn line(&mut self, event: &Event) -> Option<Line> {
        let elapsed = event
            .at
            .map(|at| (at - self.start).num_milliseconds() as f64 / 1000.0)
            .unwrap_or(0.0)
            .max(0.0);
        let line = |state: Option<String>, detail: String| Line {
            elapsed,
            event: event.kind.clone(),
            state,
            detail,
        };
        let kind = event.kind.as_str();
        if kind.ends_with("StateEntered") {
            self.current = event.state.clone();
            return Some(line(event.state.clone(), String::new()));
        }
        if kind.ends_with("StateExited") {
            let detail = exit_detail(event.state.as_deref(), event.output.as_deref());
            return Some(line(event.state.clone(), detail));
        }
        if self.current.as_deref() == Some(WAIT_STATE) {
            // The callback wait ends in one of two ordinary ways (docs/ARCHITECTURE.md,
            // "Completion events"): neither is an error.
            match kind {
                "TaskSucceeded" => return Some(line(self.current.clone(), woken_by(event))),
                "TaskTimedOut" => {
                    let detail = "no completion event within the poll interval: polling now".into();
                    return Some(line(self.current.clone(), detail));
                }
                _ => {}
            }
        }
        match kind {
            "TaskFailed" | "LambdaFunctionFailed" | "TaskTimedOut" | "LambdaFunctionTimedOut" => {
                let detail = format!(
                    "{} (the state's Retry/Catch decides what follows)",
                    output::error_line(event.error.as_deref(), event.cause.as_deref())
                );
                Some(line(self.current.clone(), detail))
            }
            "ExecutionSucceeded" => {
                let numbers = output::report_numbers(event.output.as_deref());
                let mut parts = Vec::new();
                if let Some(rows) = numbers.rows {
                    parts.push(format!("{rows} rows"));
                }
                if let Some(bytes) = numbers.bytes {
                    parts.push(output::bytes(bytes));
                }
                if let Some(files) = numbers.files {
                    parts.push(format!("{files} files"));
                }
                Some(line(None, parts.join(", ")))
            }
            "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted" => Some(line(
                None,
                output::error_line(event.error.as_deref(), event.cause.as_deref()),
            )),
            _ => None,
        }
    }
}

/// The state that waits for a run's end, woken by its completion event or timed out.
const WAIT_STATE: &str = "WaitForRun";

/// The wake record complete sent (docs/CONTRACT.md, "Completion events"), in a few words.
fn woken_by(event: &Event) -> String {
    let wake: Value = event
        .output
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or(Value::Null);
    match (wake["detail_type"].as_str(), wake["state"].as_str()) {
        (Some(kind), Some(state)) => format!("by the completion event {kind} ({state})"),
        _ => "by SendTaskSuccess".to_string(),
    }
}

/// What a state's output says worth a glance: the Glue run after StartRun / CheckStatus, the
/// rows and bytes after ReportSuccess, the validated target after Validate.
fn exit_detail(state: Option<&str>, output: Option<&str>) -> String {
    let Some(Ok(out)) = output.map(serde_json::from_str::<Value>) else {
        return String::new();
    };
    match state {
        Some("StartRun") | Some("CheckStatus") => {
            let run = &out["run"];
            let Some(run_state) = run["state"].as_str() else {
                return String::new();
            };
            let id = run["id"].as_str().unwrap_or("?");
            let id: String = id.chars().take(16).collect();
            let mut text = format!("glue run {id} {run_state}");
            if run["outcome"].as_str() == Some("running") {
                if let (Some(polls), Some(next)) =
                    (run["polls"].as_u64(), run["next_poll_seconds"].as_u64())
                {
                    text.push_str(&format!(" (poll {polls}, next check in {next} s)"));
                }
            }
            text
        }
        Some("Validate") => out["request"]["target_uri"]
            .as_str()
            .map(|t| format!("target {t}"))
            .unwrap_or_default(),
        Some("ReportSuccess") | Some("ReportFailure") => {
            let numbers = output::report_numbers(output);
            match (numbers.rows, numbers.bytes) {
                (Some(rows), Some(bytes)) => format!("{rows} rows, {}", output::bytes(bytes)),
                _ => String::new(),
            }
        }
        _ => String::new(),
    }
}

/// An ARN as given; a bare name under the state machine.
pub fn resolve(execution: &str, state_machine: Option<&str>) -> Result<String, Failure> {
    if execution.starts_with("arn:") {
        return Ok(execution.to_string());
    }
    let machine = state_machine.ok_or_else(|| {
        Failure::refused(format!(
            "{execution} is a name: give the execution ARN, or the state machine (--state-machine or UNLOADCTL_STATE_MACHINE_ARN)"
        ))
    })?;
    naming::execution_arn(machine, execution)
        .ok_or_else(|| Failure::refused(format!("{machine} is not a state machine ARN")))
}

impl Args {
    /// The execution: an ARN as given; a name under the unload workflow, else under the batch
    /// workflow (either state machine given, or read from the stack).
    async fn find(&self, aws: &Aws) -> Result<sfn::Execution, Failure> {
        let client = &aws.client;
        if self.execution.starts_with("arn:") {
            let arn = &self.execution;
            return sfn::describe(client, arn)
                .await?
                .ok_or_else(|| Failure::failed(format!("no execution {arn}")));
        }
        let unload = aws.state_machine().await.map_err(|e| Failure {
            message: format!(
                "{} is a name: give the execution ARN, or {}",
                self.execution, e.message
            ),
            exit_code: e.exit_code,
        })?;
        let arn = resolve(&self.execution, Some(&unload))?;
        if let Some(execution) = sfn::describe(client, &arn).await? {
            return Ok(execution);
        }
        // Not an unload: a batch's name (backfill --server's backfill-...)?
        let mut looked = vec![unload];
        if let Ok(batch) = aws.batch_state_machine().await {
            let batch_arn = resolve(&self.execution, Some(&batch))?;
            if let Some(execution) = sfn::describe(client, &batch_arn).await? {
                return Ok(execution);
            }
            looked.push(batch);
        }
        Err(Failure::failed(format!(
            "no execution named {} under {}",
            self.execution,
            looked.join(" or ")
        )))
    }

    pub async fn run(&self, aws: &Aws) -> Result<String, Failure> {
        let (client, format) = (&aws.client, aws.format);
        let first = self.find(aws).await?;
        if batch_watch::is_batch(&first, aws.machines.known(Machine::Batch).as_deref()) {
            return batch_watch::follow(aws, first, self.poll).await;
        }
        let arn = &first.arn;
        if format == Format::Text {
            println!(
                "watching {} (started {})",
                first.name,
                first.started.format("%Y-%m-%d %H:%M:%S UTC")
            );
        }
        let mut narrator = Narrator::new(first.started);
        let mut seen = 0;
        loop {
            // Describe first: an execution that ended has its whole history by now.
            let execution = sfn::describe(client, arn)
                .await?
                .ok_or_else(|| Failure::failed(format!("execution {arn} disappeared")))?;
            for event in sfn::history(client, arn, seen).await? {
                seen = seen.max(event.id);
                if let Some(line) = narrator.line(&event) {
                    match format {
                        Format::Text => println!("{}", line.text()),
                        Format::Json => println!("{}", line.json()),
                    }
                }
            }
            let _ = std::io::stdout().flush();
            if !execution.status.is_running() {
                return finish(&execution, format);
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

fn finish(execution: &sfn::Execution, format: Format) -> Result<String, Failure> {
    let seconds = execution
        .stopped
        .map(|s| (s - execution.started).num_milliseconds() as f64 / 1000.0)
        .unwrap_or(0.0);
    if format == Format::Json {
        let numbers = output::report_numbers(execution.output.as_deref());
        println!(
            "{}",
            json!({"execution_arn": execution.arn, "status": execution.status.name(),
                   "duration_seconds": seconds, "error": execution.error, "cause": execution.cause,
                   "rows": numbers.rows, "bytes": numbers.bytes})
        );
    }
    if execution.status == Status::Succeeded {
        Ok(match format {
            Format::Text => format!(
                "{} SUCCEEDED in {}",
                execution.name,
                output::duration(seconds)
            ),
            Format::Json => String::new(),
        })
    } else {
        Err(Failure::failed(format!(
            "{} {} after {}: {}",
            execution.name,
            execution.status.name(),
            output::duration(seconds),
            output::error_line(execution.error.as_deref(), execution.cause.as_deref())
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> Option<DateTime<Utc>> {
        Some(Utc.timestamp_opt(1_000_000 + seconds, 0).unwrap())
    }

    fn event(
        id: i64,
        seconds: i64,
        kind: &str,
        state: Option<&str>,
        output: Option<&str>,
    ) -> Event {
        Event {
            id,
            at: at(seconds),
            kind: kind.into(),
            state: state.map(str::to_string),
            output: output.map(str::to_string),
            ..Event::default()
        }
    }

    #[test]
    fn states_entered_and_exited_become_lines_with_elapsed_time() {
        let mut n = Narrator::new(at(0).unwrap());
        let lines: Vec<String> = [
            event(1, 0, "ExecutionStarted", None, None),
            event(2, 0, "PassStateEntered", Some("Prepare"), None),
            event(3, 1, "PassStateExited", Some("Prepare"), None),
            event(4, 1, "TaskStateEntered", Some("Validate"), None),
            event(5, 1, "LambdaFunctionScheduled", None, None),
            event(
                6,
                2,
                "TaskStateExited",
                Some("Validate"),
                Some(r#"{"request": {"target_uri": "s3://lake/s/parquet/t/k_key=2020-01-01/"}}"#),
            ),
        ]
        .iter()
        .filter_map(|e| n.line(e))
        .map(|l| l.text())
        .collect();
        assert_eq!(
            lines,
            [
                "   +0.0s  enter     Prepare",
                "   +1.0s  exit      Prepare",
                "   +1.0s  enter     Validate",
                "   +2.0s  exit      Validate  target s3://lake/s/parquet/t/k_key=2020-01-01/",
            ]
        );
    }

    #[test]
    fn the_glue_run_state_shows_after_each_poll() {
        let mut n = Narrator::new(at(0).unwrap());
        let running = r#"{"run": {"id": "jr_0123456789abcdef0123", "state": "RUNNING", "outcome": "running", "polls": 2, "next_poll_seconds": 10}}"#;
        let done = r#"{"run": {"id": "jr_0123456789abcdef0123", "state": "SUCCEEDED", "outcome": "succeeded", "polls": 3, "next_poll_seconds": 10}}"#;
        assert_eq!(
            n.line(&event(9, 14, "TaskStateExited", Some("CheckStatus"), Some(running))).unwrap().text(),
            "  +14.0s  exit      CheckStatus  glue run jr_0123456789abc RUNNING (poll 2, next check in 10 s)"
        );
        assert_eq!(
            n.line(&event(
                10,
                25,
                "TaskStateExited",
                Some("CheckStatus"),
                Some(done)
            ))
            .unwrap()
            .detail,
            "glue run jr_0123456789abc SUCCEEDED"
        );
    }

    #[test]
    fn the_wait_says_whether_an_event_woke_it_or_the_poll_interval_ended() {
        let mut n = Narrator::new(at(0).unwrap());
        n.line(&event(7, 5, "TaskStateEntered", Some("WaitForRun"), None));
        let mut timed_out = event(8, 10, "TaskTimedOut", None, None);
        timed_out.error = Some("States.Timeout".into());
        assert_eq!(
            n.line(&timed_out).unwrap().text(),
            "  +10.0s  timeout   WaitForRun  no completion event within the poll interval: polling now"
        );
        let wake = r#"{"woken_by":"event","source":"aws.glue","detail_type":"Glue Job State Change","state":"SUCCEEDED"}"#;
        let woken = n
            .line(&event(9, 12, "TaskSucceeded", None, Some(wake)))
            .unwrap();
        assert_eq!(
            woken.text(),
            "  +12.0s  woken     WaitForRun  by the completion event Glue Job State Change (SUCCEEDED)"
        );
        // Outside the wait, a timed-out task is still reported as an error.
        n.line(&event(
            10,
            12,
            "TaskStateEntered",
            Some("CheckStatus"),
            None,
        ));
        let mut other = event(11, 13, "TaskTimedOut", None, None);
        other.error = Some("States.Timeout".into());
        assert!(n
            .line(&other)
            .unwrap()
            .detail
            .contains("Retry/Catch decides"));
    }

    #[test]
    fn retries_name_the_state_and_failures_carry_error_and_cause() {
        let mut n = Narrator::new(at(0).unwrap());
        n.line(&event(4, 3, "TaskStateEntered", Some("StartRun"), None));
        let mut retry = event(5, 4, "LambdaFunctionFailed", None, None);
        retry.error = Some("ConcurrentRunsExceeded".into());
        retry.cause = Some(
            r#"{"errorType":"ConcurrentRunsExceeded","errorMessage":"the job is busy"}"#.into(),
        );
        let line = n.line(&retry).unwrap();
        assert_eq!(line.state.as_deref(), Some("StartRun"));
        assert!(
            line.text()
                .contains("error     StartRun  ConcurrentRunsExceeded: the job is busy"),
            "{}",
            line.text()
        );

        let mut failed = event(20, 30, "ExecutionFailed", None, None);
        failed.error = Some("GlueRunFailed".into());
        failed.cause = Some("relation \"demo_master.no_such_table\" does not exist".into());
        assert_eq!(
            n.line(&failed).unwrap().text(),
            "  +30.0s  FAILED  GlueRunFailed: relation \"demo_master.no_such_table\" does not exist"
        );
    }

    #[test]
    fn success_shows_the_reported_rows_and_bytes() {
        let mut n = Narrator::new(at(0).unwrap());
        let out = r#"{"report": {"rows": 2000, "bytes": 2048, "files": 1}}"#;
        assert_eq!(
            n.line(&event(30, 40, "ExecutionSucceeded", None, Some(out)))
                .unwrap()
                .text(),
            "  +40.0s  SUCCEEDED  2000 rows, 2.0 KiB, 1 files"
        );
        assert!(n
            .line(&event(31, 40, "LambdaFunctionSucceeded", None, None))
            .is_none());
    }

    #[test]
    fn names_resolve_under_the_state_machine() {
        let sm = "arn:aws:states:us-east-1:123456789012:stateMachine:unload";
        assert_eq!(
            resolve("n", Some(sm)).unwrap(),
            "arn:aws:states:us-east-1:123456789012:execution:unload:n"
        );
        assert_eq!(resolve("arn:x", None).unwrap(), "arn:x");
        assert!(resolve("n", None).is_err());
    }
}
