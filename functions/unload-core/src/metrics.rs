//! The metrics report publishes. Each goes out twice: with a TableName dimension and without
//! one (the all-tables series the dashboard and the failure alarm watch).

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

pub const NAMESPACE_ENV: &str = "METRICS_NAMESPACE";
pub const DEFAULT_NAMESPACE: &str = "RedshiftUnload";

pub const SUCCEEDED: &str = "UnloadSucceeded";
pub const FAILED: &str = "UnloadFailed";
pub const DURATION: &str = "UnloadDurationSeconds";
pub const ROWS: &str = "RowsUnloaded";
pub const BYTES: &str = "BytesUnloaded";
pub const TABLE_DIMENSION: &str = "TableName";

/// What one execution measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement<'a> {
    pub succeeded: bool,
    pub table: Option<&'a str>,
    pub duration_seconds: Option<f64>,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
}

/// The datums for one execution, at `timestamp_secs` (seconds since the epoch).
pub fn datums(m: &Measurement, timestamp_secs: i64) -> Vec<MetricDatum> {
    let mut values: Vec<(&str, f64, StandardUnit)> = vec![
        (
            SUCCEEDED,
            if m.succeeded { 1.0 } else { 0.0 },
            StandardUnit::Count,
        ),
        (
            FAILED,
            if m.succeeded { 0.0 } else { 1.0 },
            StandardUnit::Count,
        ),
    ];
    if let Some(d) = m.duration_seconds {
        values.push((DURATION, d, StandardUnit::Seconds));
    }
    if let Some(rows) = m.rows {
        values.push((ROWS, rows as f64, StandardUnit::Count));
    }
    if let Some(bytes) = m.bytes {
        values.push((BYTES, bytes as f64, StandardUnit::Bytes));
    }
    let timestamp = DateTime::from_secs(timestamp_secs);
    let datum = |name: &str, value: f64, unit: &StandardUnit, table: Option<&str>| {
        MetricDatum::builder()
            .metric_name(name)
            .value(value)
            .unit(unit.clone())
            .timestamp(timestamp)
            .set_dimensions(
                table.map(|t| vec![Dimension::builder().name(TABLE_DIMENSION).value(t).build()]),
            )
            .build()
    };
    let mut out = Vec::with_capacity(values.len() * 2);
    for (name, value, unit) in &values {
        if let Some(table) = m.table {
            out.push(datum(name, *value, unit, Some(table)));
        }
        out.push(datum(name, *value, unit, None));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(
        data: &'a [MetricDatum],
        name: &str,
        table: Option<&str>,
    ) -> Option<&'a MetricDatum> {
        data.iter().find(|d| {
            d.metric_name() == Some(name) && d.dimensions().first().and_then(|x| x.value()) == table
        })
    }

    #[test]
    fn success_publishes_every_figure_per_table_and_overall() {
        let m = Measurement {
            succeeded: true,
            table: Some("demo.orders"),
            duration_seconds: Some(42.5),
            rows: Some(415),
            bytes: Some(9000),
        };
        let data = datums(&m, 1_700_000_000);
        assert_eq!(data.len(), 10);
        assert_eq!(
            find(&data, SUCCEEDED, Some("demo.orders")).unwrap().value(),
            Some(1.0)
        );
        assert_eq!(find(&data, FAILED, None).unwrap().value(), Some(0.0));
        assert_eq!(find(&data, ROWS, None).unwrap().value(), Some(415.0));
        assert_eq!(
            find(&data, BYTES, Some("demo.orders")).unwrap().unit(),
            Some(&StandardUnit::Bytes)
        );
        assert_eq!(
            find(&data, DURATION, Some("demo.orders")).unwrap().value(),
            Some(42.5)
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
        };
        let data = datums(&m, 0);
        assert_eq!(data.len(), 2);
        assert_eq!(find(&data, FAILED, None).unwrap().value(), Some(1.0));
        assert!(data.iter().all(|d| d.dimensions().is_empty()));
    }
}
