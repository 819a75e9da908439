//! The Glue run's arguments (docs/CONTRACT.md, "Glue run arguments"). No secret is ever an
//! argument: credentials live in the Glue connection.

use crate::config::{self, Vars};
use crate::contract::{Named, NormalizedRequest, Scope};
use crate::error::Result;
use std::collections::BTreeMap;

pub use crate::run::EXECUTION_ID_ARG;

pub const SOURCE_KIND_ENV: &str = "SOURCE_KIND";

/// Where the Glue job reads from: Redshift on AWS; PostgreSQL (same wire protocol) locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Redshift,
    Postgresql,
}

impl SourceKind {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let kind = Vars::new(lookup).text(SOURCE_KIND_ENV);
        match kind.map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("redshift") => Ok(Self::Redshift),
            Some("postgresql") => Ok(Self::Postgresql),
            Some(other) => Err(config::error(
                SOURCE_KIND_ENV,
                format!("{other:?} must be redshift or postgresql"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Redshift => "redshift",
            Self::Postgresql => "postgresql",
        }
    }
}

/// The run arguments, keeping the original sample's names where they exist.
pub fn run_arguments(
    request: &NormalizedRequest,
    execution_id: &str,
    source: SourceKind,
) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        args.insert(k.to_string(), v.to_string());
    };
    put("--prefixed_table_name", &request.table);
    put(
        "--snapshot_yn",
        match request.scope {
            Scope::Day(_) => "y",
            Scope::Full => "n",
        },
    );
    put("--file_format", request.file_format.name());
    put("--write_mode", request.write_mode.name());
    put("--s3path_datalake", &request.s3_path);
    put("--glue_connection", &request.glue_connection);
    put(EXECUTION_ID_ARG, execution_id);
    // The script computes the target from the other arguments and fails unless it equals this,
    // so the Rust and Python path rules cannot drift apart unnoticed.
    put("--target_uri", &request.target_uri);
    put("--source_kind", source.name());
    put(
        "--allow_empty_source",
        if request.allow_empty_source {
            "true"
        } else {
            "false"
        },
    );
    if let Some(key) = &request.partition_key {
        put("--day_partition_key", key);
    }
    if let Some(day) = request.day() {
        put("--day_partition_value", &day.to_string());
    }
    if let Some(role) = &request.redshift_role_arn {
        put("--redshift_role_arn", role);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{FileFormat, WriteMode};
    use crate::fixtures::day;

    /// The fixture request, as ORC, append, empty source allowed, for `scope`.
    fn request(scope: Scope) -> NormalizedRequest {
        NormalizedRequest {
            scope,
            file_format: FileFormat::Orc,
            write_mode: WriteMode::Append,
            s3_path: "s3://lake-bucket/x".into(),
            allow_empty_source: true,
            ..crate::fixtures::day_request()
        }
    }
    #[test]
    fn day_run_arguments_keep_the_original_names() {
        let args = run_arguments(
            &request(Scope::Day(day("1998-07-21"))),
            "arn:exec:1",
            SourceKind::Redshift,
        );
        let expected: BTreeMap<String, String> = [
            ("--prefixed_table_name", "demo_master.orders"),
            ("--snapshot_yn", "y"),
            ("--file_format", "orc"),
            ("--write_mode", "append"),
            ("--s3path_datalake", "s3://lake-bucket/x"),
            ("--glue_connection", "tpc-rs"),
            ("--execution_id", "arn:exec:1"),
            (
                "--target_uri",
                "s3://lake-bucket/demo_master/parquet/orders/o_orderdate_key=1998-07-21/",
            ),
            ("--source_kind", "redshift"),
            ("--allow_empty_source", "true"),
            ("--day_partition_key", "o_orderdate"),
            ("--day_partition_value", "1998-07-21"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(args, expected);
    }

    #[test]
    fn full_run_has_no_day_and_no_secret() {
        let args = run_arguments(&request(Scope::Full), "e", SourceKind::Postgresql);
        assert_eq!(args["--snapshot_yn"], "n");
        assert!(!args.contains_key("--day_partition_value"));
        assert_eq!(args["--source_kind"], "postgresql");
        assert!(args
            .keys()
            .all(|k| !k.contains("password") && !k.contains("jdbc")));
    }

    #[test]
    fn source_kind_is_read_and_checked() {
        assert_eq!(
            SourceKind::from_lookup(|_| None).unwrap(),
            SourceKind::Redshift
        );
        assert_eq!(
            SourceKind::from_lookup(|_| Some("PostgreSQL".into())).unwrap(),
            SourceKind::Postgresql
        );
        assert_eq!(
            SourceKind::from_lookup(|_| Some("mysql".into()))
                .unwrap_err()
                .kind(),
            "ConfigurationError"
        );
    }
}
