//! The metrics report publishes. Each goes out twice: with a TableName dimension and without
//! one (the all-tables series the dashboard and the failure alarm watch).

pub const NAMESPACE_ENV: &str = "METRICS_NAMESPACE";
pub const DEFAULT_NAMESPACE: &str = "RedshiftUnload";

pub const SUCCEEDED: &str = "UnloadSucceeded";
pub const FAILED: &str = "UnloadFailed";
pub const DURATION: &str = "UnloadDurationSeconds";
pub const ROWS: &str = "RowsUnloaded";
pub const BYTES: &str = "BytesUnloaded";
/// Advisory findings of a successful run (the manifest's `warnings`): alarm on it, never fail on it.
pub const WARNINGS: &str = "UnloadWarnings";
pub const TABLE_DIMENSION: &str = "TableName";

/// The batch workflow's summary (summarize), with the Batch dimension (the batch's Name).
pub const BATCH_SUCCEEDED: &str = "BatchTablesSucceeded";
pub const BATCH_FAILED: &str = "BatchTablesFailed";
pub const BATCH_SKIPPED: &str = "BatchTablesSkipped";
pub const BATCH_ROWS: &str = "BatchRowsUnloaded";
pub const BATCH_DIMENSION: &str = "Batch";

/// What one execution measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement<'a> {
    pub succeeded: bool,
    pub table: Option<&'a str>,
    pub duration_seconds: Option<f64>,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    /// How many warnings the run's manifest carries (None on failure: no manifest was read).
    pub warnings: Option<u64>,
}

/// A CloudWatch unit, as the domain needs them (the adapter maps them onto the SDK's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    Bytes,
}

/// One value to publish: a metric, with one dimension (name, value) or without one.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub name: &'static str,
    pub value: f64,
    pub unit: Unit,
    pub dimension: Option<(&'static str, String)>,
}

/// The datums for one execution.
pub fn datums(m: &Measurement) -> Vec<Datum> {
    let mut values: Vec<(&'static str, f64, Unit)> = vec![
        (SUCCEEDED, if m.succeeded { 1.0 } else { 0.0 }, Unit::Count),
        (FAILED, if m.succeeded { 0.0 } else { 1.0 }, Unit::Count),
    ];
    if let Some(d) = m.duration_seconds {
        values.push((DURATION, d, Unit::Seconds));
    }
    if let Some(rows) = m.rows {
        values.push((ROWS, rows as f64, Unit::Count));
    }
    if let Some(bytes) = m.bytes {
        values.push((BYTES, bytes as f64, Unit::Bytes));
    }
    if let Some(warnings) = m.warnings {
        values.push((WARNINGS, warnings as f64, Unit::Count));
    }
    let mut out = Vec::with_capacity(values.len() * 2);
    for (name, value, unit) in values {
        let datum = |table: Option<&str>| Datum {
            name,
            value,
            unit,
            dimension: table.map(|t| (TABLE_DIMENSION, t.to_string())),
        };
        if let Some(table) = m.table {
            out.push(datum(Some(table)));
        }
        out.push(datum(None));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(data: &'a [Datum], name: &str, table: Option<&str>) -> Option<&'a Datum> {
        data.iter()
            .find(|d| d.name == name && d.dimension.as_ref().map(|(_, v)| v.as_str()) == table)
    }

    #[test]
    fn success_publishes_every_figure_per_table_and_overall() {
        let m = Measurement {
            succeeded: true,
            table: Some("demo.orders"),
            duration_seconds: Some(42.5),
            rows: Some(415),
            bytes: Some(9000),
            warnings: Some(1),
        };
        let data = datums(&m);
        assert_eq!(data.len(), 12);
        assert_eq!(
            find(&data, WARNINGS, Some("demo.orders")).unwrap().value,
            1.0
        );
        assert_eq!(find(&data, WARNINGS, None).unwrap().value, 1.0);
        assert_eq!(
            find(&data, SUCCEEDED, Some("demo.orders")).unwrap().value,
            1.0
        );
        assert_eq!(find(&data, FAILED, None).unwrap().value, 0.0);
        assert_eq!(find(&data, ROWS, None).unwrap().value, 415.0);
        assert_eq!(
            find(&data, BYTES, Some("demo.orders")).unwrap().unit,
            Unit::Bytes
        );
        assert_eq!(
            find(&data, DURATION, Some("demo.orders")).unwrap().value,
            42.5
        );
    }

    #[test]
    fn failure_without_a_table_publishes_only_the_overall_series() {
        let m = Measurement {
            succeeded: false,
            table: None,
            duration_seconds: None,
            rows: None,
            bytes: None,
            warnings: None,
        };
        let data = datums(&m);
        assert_eq!(data.len(), 2);
        assert_eq!(find(&data, FAILED, None).unwrap().value, 1.0);
        assert!(data.iter().all(|d| d.dimension.is_none()));
    }
}
