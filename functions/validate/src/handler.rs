//! validate: a schedule input → the normalized request, or InvalidRequest naming the field.

use chrono::{DateTime, Utc};
use serde_json::Value;
use unload_core::contract::NormalizedRequest;
use unload_core::request::normalize;
use unload_core::Result;

/// validate's settings: the request defaults and the stack's limits (UNLOAD_* variables), checked
/// when used so a bad one is a ConfigurationError naming its variable.
pub use unload_core::request::RequestDefaults as Settings;

pub fn handle(event: &Value, defaults: &Settings, now: DateTime<Utc>) -> Result<NormalizedRequest> {
    let result = defaults
        .default_day(now)
        .and_then(|day| normalize(event, defaults, day));
    match &result {
        Ok(r) => {
            tracing::info!(table = %r.table, scope = %r.scope.label(), target = %r.target_uri, "request accepted")
        }
        Err(e) => tracing::warn!(error_type = e.kind(), error = %e, "request refused"),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use unload_core::request::RequestDefaults;

    fn defaults() -> RequestDefaults {
        RequestDefaults {
            s3_path: Some("s3://lake-bucket".into()),
            glue_connection: Some("conn".into()),
            redshift_role_arn: Some("arn:aws:iam::123456789012:role/redshift-unload".into()),
            day_partition_key: Some("o_orderdate".into()),
            snapshot_yn: Some("y".into()),
            day_offset_days: Some("-1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn schedule_input_with_only_a_table_unloads_yesterday() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let r = handle(
            &json!({"PrefixedTablename": "demo_master.orders"}),
            &defaults(),
            now,
        )
        .unwrap();
        assert_eq!(r.partition_value().as_deref(), Some("2026-11-24"));
        assert_eq!(
            r.target_uri,
            "s3://lake-bucket/demo_master/parquet/orders/o_orderdate_key=2026-11-24/"
        );
    }

    #[test]
    fn the_sample_event_file_is_accepted() {
        let text = include_str!("../../../events/validate.json");
        let event: Value = serde_json::from_str(text).unwrap();
        assert!(handle(&event, &defaults(), Utc::now()).is_ok());
    }

    #[test]
    fn refusal_is_invalid_request() {
        let err = handle(&json!({"PrefixedTablename": "x"}), &defaults(), Utc::now()).unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest");
    }
}
