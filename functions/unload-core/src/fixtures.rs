//! Test fixtures shared by the crate's unit tests.

use crate::contract::{Day, EngineKind, FileFormat, NormalizedRequest, Scope, WriteMode};

/// The DESIGN's example request, normalized: one day of demo_master.orders as Parquet.
pub fn day_request() -> NormalizedRequest {
    NormalizedRequest {
        table: "demo_master.orders".into(),
        schema: "demo_master".into(),
        table_name: "orders".into(),
        scope: Scope::Day(day("1998-07-21")),
        partition_key: Some("o_orderdate".into()),
        file_format: FileFormat::Parquet,
        write_mode: WriteMode::Overwrite,
        s3_path: "s3://lake-bucket".into(),
        target_uri: "s3://lake-bucket/demo_master/parquet/orders/o_orderdate_key=1998-07-21/"
            .into(),
        glue_connection: "tpc-rs".into(),
        redshift_role_arn: None,
        allow_empty_source: false,
        job_name: "demo_master.orders_ExtractToDataLake".into(),
        engine: EngineKind::Glue,
        catalog: None,
    }
}

/// A day written YYYY-MM-DD.
pub fn day(text: &str) -> Day {
    Day::try_from(text.to_string()).expect("a fixture day is a real date")
}
