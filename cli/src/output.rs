//! Output helpers shared by the commands (pure): aligned tables, error lines, sizes, durations,
//! and the report an execution's output carries.

use serde_json::Value;

/// `--output`: text for people, json for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Left-aligned columns, two spaces apart; trailing spaces trimmed.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let line: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| format!("{cell:<width$}", width = widths[c]))
                .collect();
            line.join("  ").trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `Error: cause` on one line; a Lambda error's JSON cause shows just its errorMessage.
pub fn error_line(error: Option<&str>, cause: Option<&str>) -> String {
    let cause = cause.map(readable_cause).unwrap_or_default();
    let text = match (error, cause.is_empty()) {
        (Some(error), false) => format!("{error}: {cause}"),
        (Some(error), true) => error.to_string(),
        (None, false) => cause,
        (None, true) => "(no error recorded)".to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn readable_cause(cause: &str) -> String {
    match serde_json::from_str::<Value>(cause) {
        Ok(Value::Object(map)) => map
            .get("errorMessage")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| cause.to_string()),
        _ => cause.to_string(),
    }
}

/// Bytes in B, KB, MB, GB, TB (powers of 1024, one decimal).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// 75.2 → "1m15s"; under a minute "12.3s".
pub fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else if seconds < 3600.0 {
        format!("{}m{:02}s", (seconds / 60.0) as u64, seconds as u64 % 60)
    } else {
        format!(
            "{}h{:02}m",
            (seconds / 3600.0) as u64,
            (seconds as u64 % 3600) / 60
        )
    }
}

/// rows, bytes, files from the `report` part of an execution's output (the final state).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReportNumbers {
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub files: Option<u64>,
}

pub fn report_numbers(output: Option<&str>) -> ReportNumbers {
    let Some(Ok(state)) = output.map(serde_json::from_str::<Value>) else {
        return ReportNumbers::default();
    };
    let report = &state["report"];
    ReportNumbers {
        rows: report["rows"].as_u64(),
        bytes: report["bytes"].as_u64(),
        files: report["files"].as_u64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["A".to_string(), "BB".to_string(), String::new()],
            vec!["CCC".to_string(), "D".to_string(), "x".to_string()],
        ];
        assert_eq!(table(&rows), "A    BB\nCCC  D   x");
    }

    #[test]
    fn lambda_causes_show_their_message_on_one_line() {
        let cause = r#"{"errorType":"InvalidRequest","errorMessage":"DayPartitonKey: unknown key\n(did you mean DayPartitionKey?)"}"#;
        assert_eq!(
            error_line(Some("InvalidRequest"), Some(cause)),
            "InvalidRequest: DayPartitonKey: unknown key (did you mean DayPartitionKey?)"
        );
        assert_eq!(
            error_line(Some("GlueRunFailed"), Some("relation does not exist")),
            "GlueRunFailed: relation does not exist"
        );
        assert_eq!(error_line(None, None), "(no error recorded)");
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(duration(12.34), "12.3s");
        assert_eq!(duration(75.0), "1m15s");
        assert_eq!(duration(7322.0), "2h02m");
    }

    #[test]
    fn the_report_numbers_come_from_the_final_state() {
        let output =
            r#"{"report": {"rows": 415, "bytes": 12345, "files": 2, "outcome": "succeeded"}}"#;
        assert_eq!(
            report_numbers(Some(output)),
            ReportNumbers {
                rows: Some(415),
                bytes: Some(12345),
                files: Some(2)
            }
        );
        assert_eq!(report_numbers(None), ReportNumbers::default());
        assert_eq!(report_numbers(Some("not json")), ReportNumbers::default());
    }
}
