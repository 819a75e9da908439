//! `unloadctl status`: recent executions with status, table, day, duration, rows and bytes.

use crate::failure::Failure;
use crate::output::{self, Format};
use crate::sfn::{self, Aws, Execution};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{json, Value};

/// `--since`: a day (YYYY-MM-DD, from its midnight UTC) or an age (`30m`, `12h`, `7d`).
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, Failure> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    let bad = || {
        Failure::refused(format!(
            "--since {text:?}: give a day (YYYY-MM-DD) or an age such as 30m, 12h, 7d"
        ))
    };
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| bad())?;
    if !(0..=100_000).contains(&n) {
        return Err(bad());
    }
    let age = match unit {
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => return Err(bad()),
    };
    Ok(now - age)
}

/// One row of the listing, from DescribeExecution.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub table: Option<String>,
    /// YYYY-MM-DD, or "full".
    pub day: Option<String>,
    pub started: DateTime<Utc>,
    pub seconds: f64,
    pub finished: bool,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub error: Option<String>,
}

pub fn row(execution: &Execution, now: DateTime<Utc>) -> Row {
    let input: Value = execution
        .input
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    let output: Value = execution
        .output
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    // The validated request when the execution got that far, else the raw input.
    let request = &output["request"];
    let table = request["table"]
        .as_str()
        .map(str::to_string)
        .or_else(|| input["PrefixedTablename"].as_str().map(str::to_lowercase));
    let day = match request["scope"].as_str() {
        Some("full") => Some("full".to_string()),
        Some(_) => request["partition_value"].as_str().map(str::to_string),
        None => match input["SnapshotYN"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("y") => input["DayPartitionValue"].as_str().map(str::to_string),
            Some("n") => Some("full".to_string()),
            _ => None,
        },
    };
    let end = execution.stopped.unwrap_or(now);
    let numbers = output::report_numbers(execution.output.as_deref());
    Row {
        name: execution.name.clone(),
        arn: execution.arn.clone(),
        status: execution.status.name().to_string(),
        table,
        day,
        started: execution.started,
        seconds: (end - execution.started).num_milliseconds() as f64 / 1000.0,
        finished: execution.stopped.is_some(),
        rows: numbers.rows,
        bytes: numbers.bytes,
        error: execution
            .error
            .as_deref()
            .map(|e| output::error_line(Some(e), execution.cause.as_deref())),
    }
}

pub fn render(rows: &[Row], format: Format) -> String {
    match format {
        Format::Json => Value::Array(
            rows.iter()
                .map(|r| {
                    json!({"name": r.name, "execution_arn": r.arn, "status": r.status, "table": r.table,
                           "day": r.day, "started_at": r.started.to_rfc3339(),
                           "duration_seconds": r.seconds, "rows": r.rows, "bytes": r.bytes,
                           "error": r.error})
                })
                .collect(),
        )
        .to_string(),
        Format::Text => {
            let dash = || "-".to_string();
            let mut table = vec![["STARTED", "STATUS", "TABLE", "DAY", "DURATION", "ROWS", "BYTES", "EXECUTION"]
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()];
            for r in rows {
                let mut duration = output::duration(r.seconds);
                if !r.finished {
                    duration.push('+');
                }
                table.push(vec![
                    r.started.format("%Y-%m-%d %H:%M:%S").to_string(),
                    r.status.clone(),
                    r.table.clone().unwrap_or_else(dash),
                    r.day.clone().unwrap_or_else(dash),
                    duration,
                    r.rows.map_or_else(dash, |n| n.to_string()),
                    r.bytes.map_or_else(dash, output::bytes),
                    r.name.clone(),
                ]);
            }
            let mut text = output::table(&table);
            for r in rows.iter().filter(|r| r.error.is_some()) {
                text.push_str(&format!(
                    "\n{}: {}",
                    r.name,
                    r.error.as_deref().unwrap_or_default()
                ));
            }
            text
        }
    }
}

/// List recent executions: status, table, day, duration, rows and bytes.
///
/// Newest first. Rows and bytes come from the report in the execution's output; a failed
/// execution's error is shown below the table.
#[derive(clap::Args)]
pub struct Args {
    /// Only this table (schema.table).
    #[arg(long, value_name = "SCHEMA.TABLE")]
    pub table: Option<String>,
    /// Only executions started since a day (YYYY-MM-DD, UTC) or within an age (30m, 12h, 7d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// At most this many executions.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
}

impl Args {
    pub async fn run(&self, aws: &Aws) -> Result<String, Failure> {
        let (client, format) = (&aws.client, aws.format);
        let state_machine = &aws.state_machine().await?;
        let limit = self.limit.max(1);
        let now = Utc::now();
        let since = self
            .since
            .as_deref()
            .map(|s| parse_since(s, now))
            .transpose()?;
        let table = self.table.as_deref().map(str::to_lowercase);
        // With a table filter, look further back: other tables' executions are skipped.
        let scan = if table.is_some() { limit * 20 } else { limit };
        let listed = sfn::list(client, state_machine, since, scan.max(1)).await?;
        let mut rows = Vec::new();
        for arn in listed {
            if rows.len() >= limit {
                break;
            }
            let Some(execution) = sfn::describe(client, &arn).await? else {
                continue;
            };
            let row = row(&execution, now);
            if table.is_some() && row.table != table {
                continue;
            }
            rows.push(row);
        }
        if rows.is_empty() && format == Format::Text {
            return Ok("no executions".to_string());
        }
        Ok(render(&rows, format))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sfn::Status;
    use chrono::TimeZone;

    #[test]
    fn since_takes_a_day_or_an_age() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        assert_eq!(
            parse_since("2026-11-20", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap()
        );
        assert_eq!(parse_since("2h", now).unwrap(), now - Duration::hours(2));
        assert_eq!(parse_since("7d", now).unwrap(), now - Duration::days(7));
        assert_eq!(
            parse_since("30m", now).unwrap(),
            now - Duration::minutes(30)
        );
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("5w", now).is_err());
        assert!(parse_since("", now).is_err());
    }

    fn execution(input: &str, output: Option<&str>, status: Status) -> Execution {
        let started = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        Execution {
            arn: "arn:x:n".into(),
            name: "n".into(),
            state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m".into(),
            status,
            started,
            stopped: Some(started + Duration::seconds(75)),
            input: Some(input.into()),
            output: output.map(str::to_string),
            error: None,
            cause: None,
        }
    }

    #[test]
    fn a_succeeded_day_shows_its_report() {
        let out = r#"{"request": {"table": "demo_master.orders", "scope": "day", "partition_value": "1998-07-21"},
                      "report": {"rows": 2000, "bytes": 4096}}"#;
        let e = execution(
            r#"{"PrefixedTablename": "Demo_Master.Orders"}"#,
            Some(out),
            Status::Succeeded,
        );
        let r = row(&e, Utc::now());
        assert_eq!(r.table.as_deref(), Some("demo_master.orders"));
        assert_eq!(r.day.as_deref(), Some("1998-07-21"));
        assert_eq!((r.rows, r.bytes, r.seconds), (Some(2000), Some(4096), 75.0));
    }

    #[test]
    fn a_failed_execution_falls_back_to_its_input() {
        let mut e = execution(
            r#"{"PrefixedTablename": "Demo_Master.Orders", "SnapshotYN": "y", "DayPartitionValue": "1992-02-01"}"#,
            None,
            Status::Failed,
        );
        e.error = Some("GlueRunFailed".into());
        e.cause = Some("boom".into());
        let r = row(&e, Utc::now());
        assert_eq!(r.table.as_deref(), Some("demo_master.orders"));
        assert_eq!(r.day.as_deref(), Some("1992-02-01"));
        assert_eq!(r.rows, None);
        assert_eq!(r.error.as_deref(), Some("GlueRunFailed: boom"));
        let text = render(&[r], Format::Text);
        assert!(
            text.contains("FAILED") && text.ends_with("n: GlueRunFailed: boom"),
            "{text}"
        );
    }
}
