//! Validation cases: the legacy sample's input, defaults, and hostile values.

use super::*;
use crate::contract::{EngineKind, FileFormat, Named, Scope, WriteMode};
use serde_json::json;

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

const DEFAULT_ROLE: &str = "arn:aws:iam::123456789012:role/unload-default";

fn defaults() -> RequestDefaults {
    RequestDefaults {
        s3_path: Some("s3://lake-bucket/datalake".into()),
        glue_connection: Some("redshift-conn".into()),
        redshift_role_arn: Some(DEFAULT_ROLE.into()),
        ..RequestDefaults::default()
    }
}

/// The original sample's schedule input, without its password.
fn legacy() -> Value {
    json!({
        "PrefixedTablename": "demo_master.orders",
        "SnapshotYN": "y",
        "FileFormat": "parquet",
        "WriteMode": "overwrite",
        "s3FilePath": "s3://tpcdh-lake/sampledatalake/",
        "JdbcUrl": "jdbc:redshift://example.cluster.us-east-1.redshift.amazonaws.com:5439/dev?user=rsadmin",
        "GlueRSConnection": "tpc-rs",
        "RedshiftRoleArn": "arn:aws:iam::123456789012:role/rsLabGroupPolicy-SpectrumRole",
        "DayPartitionKey": "o_orderdate",
        "DayPartitionValue": "1998-07-21"
    })
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base.as_object_mut().unwrap().insert(key.to_string(), value);
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().unwrap().remove(key);
    base
}

fn run(event: &Value) -> Result<NormalizedRequest> {
    normalize(event, &defaults(), day("2026-11-25"))
}

/// Asserts a refusal of the given kind whose message contains every fragment.
fn refused(event: Value, kind: &str, fragments: &[&str]) -> String {
    let err = run(&event).expect_err("should be refused");
    assert_eq!(err.kind(), kind, "{err}");
    let msg = err.to_string();
    for f in fragments {
        assert!(msg.contains(f), "message {msg:?} lacks {f:?}");
    }
    msg
}

#[test]
fn legacy_input_is_normalized() {
    let r = run(&legacy()).unwrap();
    assert_eq!(r.table, "demo_master.orders");
    assert_eq!(r.schema, "demo_master");
    assert_eq!(r.table_name, "orders");
    assert!(matches!(r.scope, Scope::Day(_)));
    assert_eq!(r.partition_key.as_deref(), Some("o_orderdate"));
    assert_eq!(r.partition_value().as_deref(), Some("1998-07-21"));
    assert_eq!(r.file_format, FileFormat::Parquet);
    assert_eq!(r.write_mode, WriteMode::Overwrite);
    assert_eq!(r.s3_path, "s3://tpcdh-lake/sampledatalake");
    assert_eq!(
        r.target_uri,
        "s3://tpcdh-lake/sampledatalake/demo_master/parquet/orders/o_orderdate_key=1998-07-21/"
    );
    assert_eq!(r.glue_connection, "tpc-rs");
    assert_eq!(
        r.redshift_role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/rsLabGroupPolicy-SpectrumRole")
    );
    assert_eq!(r.job_name, "demo_master.orders_ExtractToDataLake");
    assert!(!r.allow_empty_source);
}

#[test]
fn table_only_takes_every_default() {
    let r = run(&json!({"PrefixedTablename": "sales.events"})).unwrap();
    assert_eq!(r.scope, Scope::Full);
    assert_eq!(r.file_format, FileFormat::Parquet);
    assert_eq!(r.write_mode, WriteMode::Overwrite);
    assert_eq!(
        r.target_uri,
        "s3://lake-bucket/datalake/sales/parquet/events/"
    );
    assert_eq!(r.glue_connection, "redshift-conn");
    assert_eq!(r.partition_key, None);
    assert_eq!(r.partition_value(), None);
}

#[test]
fn whole_table_with_a_key_keeps_the_key_but_no_day() {
    let r = run(&with(legacy(), "SnapshotYN", json!("N"))).unwrap();
    assert_eq!(r.scope, Scope::Full);
    assert_eq!(r.partition_key.as_deref(), Some("o_orderdate"));
    assert_eq!(r.partition_value(), None);
    assert_eq!(
        r.target_uri,
        "s3://tpcdh-lake/sampledatalake/demo_master/parquet/orders/"
    );
}

#[test]
fn missing_day_is_the_default_day() {
    let r = run(&without(legacy(), "DayPartitionValue")).unwrap();
    assert_eq!(r.partition_value().as_deref(), Some("2026-11-25"));
}

#[test]
fn empty_day_counts_as_missing_as_in_the_original() {
    let r = run(&with(legacy(), "DayPartitionValue", json!(""))).unwrap();
    assert_eq!(r.partition_value().as_deref(), Some("2026-11-25"));
}

#[test]
fn null_value_counts_as_missing() {
    let r = run(&with(legacy(), "RedshiftRoleArn", Value::Null)).unwrap();
    assert_eq!(r.redshift_role_arn.as_deref(), Some(DEFAULT_ROLE));
}

#[test]
fn identifiers_are_lower_cased() {
    let r = run(&with(
        legacy(),
        "PrefixedTablename",
        json!("Demo_Master.ORDERS"),
    ))
    .unwrap();
    assert_eq!(r.table, "demo_master.orders");
    assert_eq!(r.job_name, "demo_master.orders_ExtractToDataLake");
}

#[test]
fn formats_and_write_modes_are_case_insensitive() {
    for (given, want) in [
        ("PARQUET", FileFormat::Parquet),
        ("Orc", FileFormat::Orc),
        ("json", FileFormat::Json),
        ("CSV", FileFormat::Csv),
        ("avro", FileFormat::Avro),
    ] {
        let r = run(&with(legacy(), "FileFormat", json!(given))).unwrap();
        assert_eq!(r.file_format, want);
        assert!(r.target_uri.contains(&format!("/{}/orders/", want.name())));
    }
    let r = run(&with(legacy(), "WriteMode", json!("Append"))).unwrap();
    assert_eq!(r.write_mode, WriteMode::Append);
}

#[test]
fn allow_empty_source_accepts_bool_and_words() {
    assert!(
        run(&with(legacy(), "AllowEmptySource", json!(true)))
            .unwrap()
            .allow_empty_source
    );
    assert!(
        run(&with(legacy(), "AllowEmptySource", json!("y")))
            .unwrap()
            .allow_empty_source
    );
    assert!(
        !run(&with(legacy(), "AllowEmptySource", json!("false")))
            .unwrap()
            .allow_empty_source
    );
    refused(
        with(legacy(), "AllowEmptySource", json!("maybe")),
        "InvalidRequest",
        &["AllowEmptySource"],
    );
}

#[test]
fn bucket_root_without_prefix_is_accepted() {
    let r = run(&with(legacy(), "s3FilePath", json!("s3://my-lake"))).unwrap();
    assert_eq!(
        r.target_uri,
        "s3://my-lake/demo_master/parquet/orders/o_orderdate_key=1998-07-21/"
    );
}

#[test]
fn dollar_and_underscore_identifiers_are_valid() {
    let r = run(&with(legacy(), "PrefixedTablename", json!("_stage.t$2"))).unwrap();
    assert_eq!(r.table, "_stage.t$2");
}

#[test]
fn leap_day_in_a_leap_year_is_valid() {
    let r = run(&with(legacy(), "DayPartitionValue", json!("2024-02-29"))).unwrap();
    assert_eq!(r.partition_value().as_deref(), Some("2024-02-29"));
}

#[test]
fn a_127_byte_identifier_is_valid() {
    let name = format!("t{}", "x".repeat(126));
    assert!(run(&with(
        legacy(),
        "PrefixedTablename",
        json!(format!("s.{name}"))
    ))
    .is_ok());
}

// ---- refusals -------------------------------------------------------------------------------

#[test]
fn password_in_jdbc_url_is_refused_without_echoing_it() {
    let url = "jdbc:redshift://host.example:8192/awspsars?user=rsadmin&password=Welcome123";
    let msg = refused(
        with(legacy(), "JdbcUrl", json!(url)),
        "InvalidRequest",
        &["JdbcUrl", "credentials"],
    );
    assert!(!msg.contains("Welcome123"), "{msg}");
    assert!(!msg.contains("rsadmin"), "{msg}");
    assert!(!msg.contains("host.example"), "{msg}");
}

#[test]
fn password_in_jdbc_userinfo_is_refused() {
    let msg = refused(
        with(
            legacy(),
            "JdbcUrl",
            json!("jdbc:postgresql://admin:S3cr3t@db:5432/x"),
        ),
        "InvalidRequest",
        &["JdbcUrl"],
    );
    assert!(!msg.contains("S3cr3t"));
}

#[test]
fn password_parameter_in_any_case_is_refused() {
    let msg = refused(
        with(
            legacy(),
            "JdbcUrl",
            json!("jdbc:redshift://h:5439/db;PassWord=hunter2"),
        ),
        "InvalidRequest",
        &["JdbcUrl"],
    );
    assert!(!msg.contains("hunter2"));
}

#[test]
fn jdbc_url_of_another_scheme_is_refused() {
    refused(
        with(legacy(), "JdbcUrl", json!("http://h/x")),
        "InvalidRequest",
        &["JdbcUrl", "jdbc:redshift:"],
    );
}

#[test]
fn missing_table_is_refused() {
    refused(
        without(legacy(), "PrefixedTablename"),
        "InvalidRequest",
        &["PrefixedTablename", "required"],
    );
}

#[test]
fn table_without_schema_is_refused() {
    refused(
        with(legacy(), "PrefixedTablename", json!("orders")),
        "InvalidRequest",
        &["PrefixedTablename", "schema.table"],
    );
}

#[test]
fn table_with_two_dots_is_refused() {
    refused(
        with(legacy(), "PrefixedTablename", json!("db.demo.orders")),
        "InvalidRequest",
        &["schema.table"],
    );
}

#[test]
fn sql_injection_in_table_is_refused() {
    refused(
        with(
            legacy(),
            "PrefixedTablename",
            json!("demo.orders; DROP TABLE x"),
        ),
        "InvalidRequest",
        &["PrefixedTablename (table)", "';'"],
    );
}

#[test]
fn double_quote_in_table_is_refused() {
    refused(
        with(legacy(), "PrefixedTablename", json!("demo.\"orders\"")),
        "InvalidRequest",
        &["PrefixedTablename (table)"],
    );
}

#[test]
fn single_quote_in_schema_is_refused() {
    refused(
        with(legacy(), "PrefixedTablename", json!("de'mo.orders")),
        "InvalidRequest",
        &["PrefixedTablename (schema)"],
    );
}

#[test]
fn sql_comment_in_key_is_refused() {
    refused(
        with(legacy(), "DayPartitionKey", json!("o_orderdate--")),
        "InvalidRequest",
        &["DayPartitionKey"],
    );
}

#[test]
fn block_comment_in_key_is_refused() {
    refused(
        with(legacy(), "DayPartitionKey", json!("o/**/date")),
        "InvalidRequest",
        &["DayPartitionKey"],
    );
}

#[test]
fn unicode_look_alike_is_refused() {
    // Cyrillic 'о' in "оrders".
    refused(
        with(legacy(), "PrefixedTablename", json!("demo.\u{43e}rders")),
        "InvalidRequest",
        &["PrefixedTablename (table)", "ASCII"],
    );
}

#[test]
fn full_width_letters_are_refused() {
    refused(
        with(legacy(), "DayPartitionKey", json!("ｏ_orderdate")),
        "InvalidRequest",
        &["DayPartitionKey"],
    );
}

#[test]
fn identifier_starting_with_digit_is_refused() {
    refused(
        with(legacy(), "PrefixedTablename", json!("demo.1orders")),
        "InvalidRequest",
        &["must start with"],
    );
}

#[test]
fn overlong_identifier_is_refused() {
    let long = "t".repeat(128);
    refused(
        with(legacy(), "PrefixedTablename", json!(format!("demo.{long}"))),
        "InvalidRequest",
        &["127-byte"],
    );
}

#[test]
fn overlong_job_name_is_refused() {
    let name = "t".repeat(127);
    refused(
        with(
            legacy(),
            "PrefixedTablename",
            json!(format!("{name}.{name}")),
        ),
        "InvalidRequest",
        &["Glue job name"],
    );
}

#[test]
fn empty_schema_is_refused() {
    refused(
        with(legacy(), "PrefixedTablename", json!(".orders")),
        "InvalidRequest",
        &["(schema)", "empty"],
    );
}

#[test]
fn space_in_key_is_refused() {
    refused(
        with(legacy(), "DayPartitionKey", json!("o orderdate")),
        "InvalidRequest",
        &["DayPartitionKey"],
    );
}

#[test]
fn impossible_date_is_refused() {
    refused(
        with(legacy(), "DayPartitionValue", json!("2023-02-29")),
        "InvalidRequest",
        &["DayPartitionValue", "not a real calendar date"],
    );
}

#[test]
fn month_13_is_refused() {
    refused(
        with(legacy(), "DayPartitionValue", json!("2023-13-01")),
        "InvalidRequest",
        &["DayPartitionValue"],
    );
}

#[test]
fn date_with_time_is_refused() {
    refused(
        with(legacy(), "DayPartitionValue", json!("1998-07-21 00:00")),
        "InvalidRequest",
        &["YYYY-MM-DD"],
    );
}

#[test]
fn date_with_quote_injection_is_refused() {
    refused(
        with(
            legacy(),
            "DayPartitionValue",
            json!("1998-07-21' OR '1'='1"),
        ),
        "InvalidRequest",
        &["DayPartitionValue"],
    );
}

#[test]
fn unpadded_date_is_refused() {
    refused(
        with(legacy(), "DayPartitionValue", json!("1998-7-21")),
        "InvalidRequest",
        &["YYYY-MM-DD"],
    );
}

#[test]
fn non_ascii_digits_in_date_are_refused() {
    refused(
        with(legacy(), "DayPartitionValue", json!("١٩٩٨-07-21")),
        "InvalidRequest",
        &["DayPartitionValue"],
    );
}

#[test]
fn date_as_number_is_refused() {
    refused(
        with(legacy(), "DayPartitionValue", json!(19980721)),
        "InvalidRequest",
        &["DayPartitionValue", "must be a string, not a number"],
    );
}

#[test]
fn snapshot_as_bool_is_refused() {
    refused(
        with(legacy(), "SnapshotYN", json!(true)),
        "InvalidRequest",
        &["SnapshotYN", "a boolean"],
    );
}

#[test]
fn snapshot_other_word_is_refused() {
    refused(
        with(legacy(), "SnapshotYN", json!("yes")),
        "InvalidRequest",
        &["SnapshotYN", "y or n"],
    );
}

#[test]
fn day_scope_without_key_is_refused() {
    refused(
        without(legacy(), "DayPartitionKey"),
        "InvalidRequest",
        &["DayPartitionKey", "required when SnapshotYN is y"],
    );
}

#[test]
fn unknown_format_is_refused() {
    refused(
        with(legacy(), "FileFormat", json!("xml")),
        "InvalidRequest",
        &["FileFormat", "parquet, orc, json, csv, avro"],
    );
}

#[test]
fn unknown_write_mode_is_refused() {
    refused(
        with(legacy(), "WriteMode", json!("upsert")),
        "InvalidRequest",
        &["WriteMode", "overwrite, append"],
    );
}

#[test]
fn typo_key_is_refused_with_a_suggestion() {
    let event = with(
        without(legacy(), "DayPartitionKey"),
        "DayPartitonKey",
        json!("o_orderdate"),
    );
    refused(
        event,
        "InvalidRequest",
        &[
            "\"DayPartitonKey\"",
            "unknown key",
            "did you mean DayPartitionKey?",
        ],
    );
}

#[test]
fn wrong_case_key_is_refused() {
    refused(
        with(legacy(), "s3filepath", json!("s3://a-b-c/x")),
        "InvalidRequest",
        &["did you mean s3FilePath?"],
    );
}

#[test]
fn non_object_request_is_refused() {
    refused(
        json!(["demo.orders"]),
        "InvalidRequest",
        &["JSON object", "an array"],
    );
}

#[test]
fn s3_path_with_dot_dot_is_refused() {
    refused(
        with(legacy(), "s3FilePath", json!("s3://lake-bucket/a/../b")),
        "InvalidRequest",
        &["s3FilePath", "'..'"],
    );
}

#[test]
fn s3_path_with_empty_segment_is_refused() {
    refused(
        with(legacy(), "s3FilePath", json!("s3://lake-bucket/a//b")),
        "InvalidRequest",
        &["s3FilePath", "empty path segment"],
    );
}

#[test]
fn s3_path_with_control_character_is_refused() {
    refused(
        with(legacy(), "s3FilePath", json!("s3://lake-bucket/a\nb")),
        "InvalidRequest",
        &["s3FilePath", "'\\n'"],
    );
}

#[test]
fn s3_path_with_space_is_refused() {
    refused(
        with(legacy(), "s3FilePath", json!("s3://lake-bucket/my lake")),
        "InvalidRequest",
        &["s3FilePath"],
    );
}

#[test]
fn s3_path_of_another_scheme_is_refused() {
    refused(
        with(legacy(), "s3FilePath", json!("s3a://lake-bucket/x")),
        "InvalidRequest",
        &["must start with s3://"],
    );
}

#[test]
fn upper_case_bucket_is_refused() {
    refused(
        with(legacy(), "s3FilePath", json!("s3://Lake-Bucket/x")),
        "InvalidRequest",
        &["bucket", "lower-case"],
    );
}

#[test]
fn ip_address_bucket_is_refused() {
    refused(
        with(legacy(), "s3FilePath", json!("s3://192.168.1.10/x")),
        "InvalidRequest",
        &["IP address"],
    );
}

#[test]
fn too_short_bucket_is_refused() {
    refused(
        with(legacy(), "s3FilePath", json!("s3://ab/x")),
        "InvalidRequest",
        &["3 to 63"],
    );
}

#[test]
fn bad_role_arn_is_refused() {
    refused(
        with(
            legacy(),
            "RedshiftRoleArn",
            json!("arn:aws:iam::123:role/x"),
        ),
        "InvalidRequest",
        &["RedshiftRoleArn", "IAM role ARN"],
    );
}

#[test]
fn user_arn_instead_of_role_is_refused() {
    refused(
        with(
            legacy(),
            "RedshiftRoleArn",
            json!("arn:aws:iam::123456789012:user/bob"),
        ),
        "InvalidRequest",
        &["RedshiftRoleArn"],
    );
}

#[test]
fn connection_name_with_quote_is_refused() {
    refused(
        with(legacy(), "GlueRSConnection", json!("conn'x")),
        "InvalidRequest",
        &["GlueRSConnection"],
    );
}

#[test]
fn overlong_value_is_truncated_in_the_message() {
    let hostile = format!("demo.{}", "A;".repeat(400));
    let msg = refused(
        with(legacy(), "PrefixedTablename", json!(hostile)),
        "InvalidRequest",
        &["characters)"],
    );
    assert!(msg.len() < 400, "{msg}");
}

#[test]
fn missing_s3_path_without_default_names_the_variable() {
    let err = normalize(
        &json!({"PrefixedTablename": "a.b"}),
        &RequestDefaults::default(),
        day("2026-01-01"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), "InvalidRequest");
    assert!(err.to_string().contains("UNLOAD_DEFAULT_S3_PATH"), "{err}");
}

#[test]
fn bad_default_is_a_configuration_error_naming_the_variable() {
    let defaults = RequestDefaults {
        file_format: Some("xml".into()),
        ..defaults()
    };
    let err = normalize(
        &json!({"PrefixedTablename": "a.b"}),
        &defaults,
        day("2026-01-01"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), "ConfigurationError");
    assert!(
        err.to_string().contains("UNLOAD_DEFAULT_FILE_FORMAT"),
        "{err}"
    );
}

#[test]
fn defaults_are_read_from_the_environment_lookup() {
    let vars = [
        ("UNLOAD_DEFAULT_SNAPSHOT_YN", "y"),
        ("UNLOAD_DEFAULT_DAY_PARTITION_KEY", "sold_on"),
        ("UNLOAD_DEFAULT_FILE_FORMAT", " "),
    ];
    let d = RequestDefaults::from_lookup(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    });
    assert_eq!(d.snapshot_yn.as_deref(), Some("y"));
    assert_eq!(d.day_partition_key.as_deref(), Some("sold_on"));
    assert_eq!(d.file_format, None, "blank counts as unset");
}

#[test]
fn default_day_uses_zone_and_offset() {
    let now = DateTime::parse_from_rfc3339("2026-11-25T23:30:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let utc = RequestDefaults::default();
    assert_eq!(utc.default_day(now).unwrap(), day("2026-11-25"));
    let tokyo = RequestDefaults {
        day_time_zone: Some("Asia/Tokyo".into()),
        ..Default::default()
    };
    assert_eq!(tokyo.default_day(now).unwrap(), day("2026-11-26"));
    let yesterday = RequestDefaults {
        day_offset_days: Some("-1".into()),
        ..Default::default()
    };
    assert_eq!(yesterday.default_day(now).unwrap(), day("2026-11-24"));
}

#[test]
fn bad_time_zone_and_offset_are_configuration_errors() {
    let now = Utc::now();
    let zone = RequestDefaults {
        day_time_zone: Some("Mars/Olympus".into()),
        ..Default::default()
    };
    assert_eq!(
        zone.default_day(now).unwrap_err().kind(),
        "ConfigurationError"
    );
    let offset = RequestDefaults {
        day_offset_days: Some("yesterday".into()),
        ..Default::default()
    };
    let err = offset.default_day(now).unwrap_err();
    assert!(err.to_string().contains("UNLOAD_DAY_OFFSET_DAYS"), "{err}");
}

// ---- the stack's limits, the Redshift role, JdbcUrl and the shared S3 cases ------------------

/// The defaults of a deployed stack named `prod` (what template.yaml gives validate).
fn stack_defaults() -> RequestDefaults {
    RequestDefaults {
        limits: StackLimits {
            job_name_prefix: Some("prod_".into()),
            s3_path: Some("s3://lake-bucket/datalake".into()),
            glue_connections: Some(vec!["redshift-conn".into()]),
            redshift_role_arns: Some(vec![
                DEFAULT_ROLE.into(),
                "arn:aws:iam::123456789012:role/rsLabGroupPolicy-SpectrumRole".into(),
            ]),
            source_kind: Some("redshift".into()),
        },
        ..defaults()
    }
}

fn run_in_stack(event: &Value) -> Result<NormalizedRequest> {
    normalize(event, &stack_defaults(), day("2026-11-25"))
}

#[test]
fn job_names_carry_the_stack_prefix() {
    let mut event = without(legacy(), "s3FilePath");
    event = without(event, "GlueRSConnection");
    let r = run_in_stack(&event).unwrap();
    assert_eq!(r.job_name, "prod_demo_master.orders_ExtractToDataLake");
}

#[test]
fn requests_outside_what_the_stack_may_use_are_refused_before_any_run() {
    let base = without(without(legacy(), "s3FilePath"), "GlueRSConnection");
    for (key, value, fragments) in [
        (
            "s3FilePath",
            "s3://other-bucket/datalake",
            vec!["s3FilePath", "outside", "s3://lake-bucket/datalake"],
        ),
        (
            "s3FilePath",
            "s3://lake-bucket/datalake-x",
            vec!["s3FilePath", "outside"],
        ),
        (
            "s3FilePath",
            "s3://lake-bucket",
            vec!["s3FilePath", "outside"],
        ),
        (
            "GlueRSConnection",
            "someone-elses",
            vec!["GlueRSConnection", "redshift-conn"],
        ),
        (
            "RedshiftRoleArn",
            "arn:aws:iam::123456789012:role/admin",
            vec!["RedshiftRoleArn", "may hand"],
        ),
    ] {
        let err = run_in_stack(&with(base.clone(), key, json!(value))).unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest", "{key}={value}: {err}");
        for f in fragments {
            assert!(err.to_string().contains(f), "{err} lacks {f}");
        }
    }
    for inside in [
        "s3://lake-bucket/datalake",
        "s3://lake-bucket/datalake/team-a",
    ] {
        assert!(
            run_in_stack(&with(base.clone(), "s3FilePath", json!(inside))).is_ok(),
            "{inside}"
        );
    }
}

#[test]
fn redshift_needs_a_role_and_the_local_stand_in_does_not() {
    let no_role = RequestDefaults {
        redshift_role_arn: None,
        ..defaults()
    };
    let event = without(legacy(), "RedshiftRoleArn");
    let err = normalize(&event, &no_role, day("2026-11-25")).unwrap_err();
    assert_eq!(err.kind(), "InvalidRequest");
    assert!(err.to_string().contains("RedshiftRoleArn"), "{err}");
    let local = RequestDefaults {
        limits: StackLimits {
            source_kind: Some("postgresql".into()),
            ..StackLimits::default()
        },
        ..no_role
    };
    let r = normalize(&event, &local, day("2026-11-25")).unwrap();
    assert_eq!(r.redshift_role_arn, None);
}

#[test]
fn jdbc_url_is_judged_by_an_allowlist_after_decoding() {
    for accepted in [
        "jdbc:redshift://example.cluster.us-east-1.redshift.amazonaws.com:5439/dev",
        "jdbc:redshift://h:5439/dev?user=rsadmin",
        "JDBC:Redshift://h:5439/dev?ssl=true&user=a_b",
        "jdbc:postgresql://127.0.0.1:5432/warehouse",
    ] {
        assert!(
            run(&with(legacy(), "JdbcUrl", json!(accepted))).is_ok(),
            "{accepted}"
        );
    }
    for (refused_url, secret) in [
        ("jdbc:redshift://h:5439/dev?UID=a&PWD=hunter2", "hunter2"),
        (
            "jdbc:redshift://h:5439/dev?user=a&Password=hunter2",
            "hunter2",
        ),
        (
            "jdbc:redshift://h:5439/dev?user=a%26password%3Dhunter2",
            "hunter2",
        ),
        ("jdbc:redshift://h:5439/dev%3Fpassword%3Dhunter2", "hunter2"),
        (
            "jdbc:redshift://h:5439/dev;AccessKeyID=AKIA;SecretAccessKey=hunter2",
            "hunter2",
        ),
        ("jdbc:redshift://h:5439/dev?IAMSecret=hunter2", "hunter2"),
        ("jdbc:redshift://a:hunter2@h:5439/dev", "hunter2"),
        ("jdbc:redshift://h:5439/dev?token=hunter2", "hunter2"),
        (
            "jdbc:redshift://h:5439/dev?user=a&user_password=hunter2",
            "hunter2",
        ),
        ("jdbc:redshift://h:99999/dev", "99999"),
        ("jdbc:redshift://h:5439/dev%zz", "%zz"),
        ("jdbc:redshift:iam://h:5439/dev", "iam"),
    ] {
        let msg = refused(
            with(legacy(), "JdbcUrl", json!(refused_url)),
            "InvalidRequest",
            &["JdbcUrl", "value not shown"],
        );
        assert!(!msg.contains(secret), "{refused_url}: {msg}");
    }
}

/// The one S3 rule set both languages apply (data/s3_uri_cases.json; tests/glue reads it too).
#[test]
fn s3_paths_follow_the_shared_cases() {
    let cases: Value = serde_json::from_str(include_str!("../../data/s3_uri_cases.json")).unwrap();
    let accepted = cases["accepted"].as_object().unwrap();
    assert!(accepted.len() >= 5);
    for (uri, normalized) in accepted {
        let r = run(&with(legacy(), "s3FilePath", json!(uri)))
            .unwrap_or_else(|e| panic!("{uri:?} refused: {e}"));
        assert_eq!(&json!(r.s3_path), normalized, "{uri:?}");
    }
    let refused_uris = cases["refused"].as_array().unwrap();
    assert!(refused_uris.len() >= 20);
    for uri in refused_uris {
        let err =
            run(&with(legacy(), "s3FilePath", uri.clone())).expect_err(&format!("{uri} accepted"));
        assert_eq!(err.kind(), "InvalidRequest", "{uri}");
    }
}

#[test]
fn a_stack_with_a_catalog_database_registers_unless_the_request_opts_out() {
    let with_catalog = RequestDefaults {
        catalog_database: Some("lake".into()),
        ..defaults()
    };
    let normalize_with = |event: &Value| normalize(event, &with_catalog, day("2026-11-25"));
    let registered = normalize_with(&legacy()).unwrap();
    assert_eq!(
        registered.catalog,
        Some(crate::contract::CatalogTable {
            database: "lake".into(),
            table: "demo_master__orders__parquet".into()
        })
    );
    for opt_out in [json!(false), json!("n")] {
        let r = normalize_with(&with(legacy(), "RegisterInCatalog", opt_out)).unwrap();
        assert_eq!(r.catalog, None);
    }
    assert_eq!(run(&legacy()).unwrap().catalog, None);
    refused(
        with(legacy(), "RegisterInCatalog", json!(true)),
        "InvalidRequest",
        &["RegisterInCatalog", "no catalog database"],
    );
}

#[test]
fn the_engine_defaults_to_glue_and_unload_serves_only_what_unload_writes() {
    assert_eq!(run(&legacy()).unwrap().engine, EngineKind::Glue);
    let unload = with(legacy(), "Engine", json!("unload"));
    assert_eq!(run(&unload).unwrap().engine, EngineKind::Unload);
    for format in ["orc", "avro"] {
        refused(
            with(unload.clone(), "FileFormat", json!(format)),
            "InvalidRequest",
            &["FileFormat", format, "use Engine glue"],
        );
    }
    refused(
        with(unload.clone(), "SnapshotYN", json!("n")),
        "InvalidRequest",
        &["one folder per day", "Engine glue"],
    );
    let flat = without(
        with(unload.clone(), "SnapshotYN", json!("n")),
        "DayPartitionKey",
    );
    assert_eq!(run(&flat).unwrap().scope, Scope::Full);
    refused(
        with(legacy(), "Engine", json!("spark")),
        "InvalidRequest",
        &["Engine", "glue", "unload"],
    );
    let no_role = RequestDefaults {
        redshift_role_arn: None,
        ..defaults()
    };
    let err = normalize(
        &without(unload, "RedshiftRoleArn"),
        &no_role,
        day("2026-11-25"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), "InvalidRequest");
    assert!(err.to_string().contains("unload engine"), "{err}");
    let stack_default = RequestDefaults {
        engine: Some("unload".into()),
        ..defaults()
    };
    assert_eq!(
        normalize(&legacy(), &stack_default, day("2026-11-25"))
            .unwrap()
            .engine,
        EngineKind::Unload
    );
}
