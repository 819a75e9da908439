use super::*;
use aws_sdk_glue::error::ErrorMetadata;
use aws_sdk_glue::operation::batch_create_partition::{
    BatchCreatePartitionError, BatchCreatePartitionOutput,
};
use aws_sdk_glue::operation::batch_delete_partition::BatchDeletePartitionOutput;
use aws_sdk_glue::operation::batch_get_partition::BatchGetPartitionOutput;
use aws_sdk_glue::operation::batch_update_partition::BatchUpdatePartitionOutput;
use aws_sdk_glue::operation::create_table::CreateTableOutput;
use aws_sdk_glue::operation::get_table::{GetTableError, GetTableOutput};
use aws_sdk_glue::operation::update_table::UpdateTableOutput;
use aws_sdk_glue::types::error::EntityNotFoundException;
use aws_sdk_glue::types::{
    Column, ErrorDetail, Partition, PartitionError, SerDeInfo, StorageDescriptor, Table,
};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use serde_json::json;

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:unload:run-1";
const DB: &str = "lake";
const TABLE: &str = "demo_master__orders__parquet";
const TABLE_FOLDER: &str = "s3://lake-bucket/demo_master/parquet/orders/";
const DAY_FOLDER: &str = "s3://lake-bucket/demo_master/parquet/orders/o_orderdate_key=1998-07-21/";

fn state(scope: &str) -> State {
    let (partition_value, target) = match scope {
        "day" => (json!("1998-07-21"), DAY_FOLDER),
        _ => (json!(null), TABLE_FOLDER),
    };
    State::from_value(json!({
        "input": {},
        "execution": {"id": EXEC, "name": "run-1", "started_at": "2026-11-25T00:00:00Z"},
        "request": {
            "table": "demo_master.orders", "schema": "demo_master", "table_name": "orders", "scope": scope,
            "partition_key": "o_orderdate", "partition_value": partition_value, "file_format": "parquet",
            "write_mode": "overwrite", "s3_path": "s3://lake-bucket", "target_uri": target,
            "glue_connection": "tpc-rs", "redshift_role_arn": null, "allow_empty_source": false,
            "job_name": "demo_master.orders_ExtractToDataLake",
            "catalog": {"database": DB, "table": TABLE}
        },
        "job": {"name": "demo_master.orders_ExtractToDataLake", "action": "unchanged"},
        "run": {"id": "jr_1", "state": "SUCCEEDED", "outcome": "succeeded", "polls": 3, "next_poll_seconds": 30,
                "elapsed_seconds": 95, "execution_seconds": 80, "attempt": 0, "started_on": null,
                "error_message": null, "failure": null}
    }))
    .unwrap()
}

/// The columns the run wrote, as the manifest records them (Spark's type names).
const COLUMNS: &str = r#"[{"name":"o_orderkey","type":"bigint"},{"name":"o_totalprice","type":"decimal(15,2)"},
    {"name":"o_orderdate","type":"date"}]"#;

fn manifest(files: &[&str], columns: &str) -> Rule {
    manifest_removing(files, columns, &[])
}

/// A manifest whose whole-table overwrite removed the `removed` day folders.
fn manifest_removing(files: &[&str], columns: &str, removed: &[&str]) -> Rule {
    let removed = serde_json::to_string(removed).unwrap();
    let files: Vec<String> = files
        .iter()
        .map(|f| format!(r#"{{"path":"{f}","bytes":10}}"#))
        .collect();
    let text = format!(
        r#"{{"version":2,"execution_id":"{EXEC}","rows":5,"source_rows":5,"bytes":{},"files":[{}],"columns":{columns},
            "removed_days":{removed}}}"#,
        10 * files.len(),
        files.join(",")
    );
    mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key().is_some_and(|k| k.ends_with("/_manifest.json")))
        .then_output(move || {
            GetObjectOutput::builder()
                .body(ByteStream::from(text.clone().into_bytes()))
                .build()
        })
}

fn day_manifest() -> Rule {
    manifest(&["part-0.parquet"], COLUMNS)
}

fn glue_columns(columns: &[(&str, &str)]) -> Vec<Column> {
    columns
        .iter()
        .map(|(n, t)| Column::builder().name(*n).r#type(*t).build().unwrap())
        .collect()
}

const STORED: [(&str, &str); 3] = [
    ("o_orderkey", "bigint"),
    ("o_totalprice", "decimal(15,2)"),
    ("o_orderdate", "date"),
];

fn descriptor(columns: &[(&str, &str)], location: &str) -> StorageDescriptor {
    StorageDescriptor::builder()
        .set_columns(Some(glue_columns(columns)))
        .location(location)
        .serde_info(
            SerDeInfo::builder()
                .serialization_library(
                    "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                )
                .build(),
        )
        .build()
}

fn stored_table(columns: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(aws_sdk_glue::Client::get_table).then_output(move || {
        GetTableOutput::builder()
            .table(
                Table::builder()
                    .name(TABLE)
                    .set_partition_keys(Some(glue_columns(&[("o_orderdate_key", "string")])))
                    .storage_descriptor(descriptor(columns, TABLE_FOLDER))
                    .build()
                    .unwrap(),
            )
            .build()
    })
}

fn no_table() -> Rule {
    mock!(aws_sdk_glue::Client::get_table).then_error(|| {
        GetTableError::EntityNotFoundException(EntityNotFoundException::builder().build())
    })
}

fn stored_partitions(
    parts: &'static [(&'static str, &'static [(&'static str, &'static str)])],
) -> Rule {
    mock!(aws_sdk_glue::Client::batch_get_partition).then_output(move || {
        BatchGetPartitionOutput::builder()
            .set_partitions(Some(
                parts
                    .iter()
                    .map(|(day, columns)| {
                        Partition::builder()
                            .values(*day)
                            .storage_descriptor(descriptor(
                                columns,
                                &format!("{TABLE_FOLDER}o_orderdate_key={day}/"),
                            ))
                            .build()
                    })
                    .collect(),
            ))
            .build()
    })
}

fn create_table() -> Rule {
    mock!(aws_sdk_glue::Client::create_table)
        .match_requests(|r| {
            let input = r.table_input().unwrap();
            let sd = input.storage_descriptor().unwrap();
            let params = input.parameters().unwrap();
            r.database_name() == Some(DB)
                && input.name() == TABLE
                && input.table_type() == Some("EXTERNAL_TABLE")
                && params.get("classification").map(String::as_str) == Some("parquet")
                && sd.location() == Some(TABLE_FOLDER)
                && sd
                    .columns()
                    .iter()
                    .map(|c| (c.name(), c.r#type().unwrap()))
                    .collect::<Vec<_>>()
                    == vec![
                        ("o_orderkey", "bigint"),
                        ("o_totalprice", "decimal(15,2)"),
                        ("o_orderdate", "date"),
                    ]
                && input
                    .partition_keys()
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    == vec!["o_orderdate_key"]
        })
        .then_output(|| CreateTableOutput::builder().build())
}

fn create_partitions(expected: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_glue::Client::batch_create_partition)
        .match_requests(move |r| {
            r.partition_input_list()
                .iter()
                .map(|p| {
                    let day = p.values()[0].as_str();
                    let location = p.storage_descriptor().and_then(|s| s.location()).unwrap();
                    assert_eq!(location, format!("{TABLE_FOLDER}o_orderdate_key={day}/"));
                    day
                })
                .collect::<Vec<_>>()
                == expected
        })
        .then_output(|| BatchCreatePartitionOutput::builder().build())
}

fn update_partitions() -> Rule {
    mock!(aws_sdk_glue::Client::batch_update_partition)
        .then_output(|| BatchUpdatePartitionOutput::builder().build())
}

fn update_table() -> Rule {
    mock!(aws_sdk_glue::Client::update_table)
        .match_requests(|r| {
            let names: Vec<&str> = r
                .table_input()
                .and_then(|t| t.storage_descriptor())
                .map(|s| s.columns().iter().map(|c| c.name()).collect())
                .unwrap_or_default();
            names == ["o_orderkey", "o_totalprice", "o_orderdate", "o_comment"]
        })
        .then_output(|| UpdateTableOutput::builder().build())
}

/// A batch call's refusal of one partition.
fn refused(day: &str, code: &str) -> PartitionError {
    PartitionError::builder()
        .partition_values(day)
        .error_detail(ErrorDetail::builder().error_code(code).build())
        .build()
}

fn clients(s3: &[&Rule], glue: &[&Rule]) -> Clients {
    Clients {
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3.iter().copied()),
        glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, glue.iter().copied()),
    }
}

#[tokio::test]
async fn a_first_run_creates_the_table_and_its_day() {
    let (m, get, create, parts, add) = (
        day_manifest(),
        no_table(),
        create_table(),
        stored_partitions(&[]),
        create_partitions(&["1998-07-21"]),
    );
    let report = handle(
        &state("day"),
        &clients(&[&m], &[&get, &create, &parts, &add]),
    )
    .await
    .unwrap();
    assert_eq!(report.action, JobAction::Created);
    assert_eq!(
        (
            report.partitions_created,
            report.partitions_updated,
            report.partitions_unchanged
        ),
        (1, 0, 0)
    );
    assert_eq!((create.num_calls(), add.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_second_run_of_the_same_day_changes_nothing() {
    let (m, get, parts, create, add, update) = (
        day_manifest(),
        stored_table(&STORED),
        stored_partitions(&[("1998-07-21", &STORED)]),
        create_table(),
        create_partitions(&[]),
        update_partitions(),
    );
    let report = handle(
        &state("day"),
        &clients(&[&m], &[&get, &parts, &create, &add, &update]),
    )
    .await
    .unwrap();
    assert_eq!(report.action, JobAction::Unchanged);
    assert_eq!(report.partitions_unchanged, 1);
    assert_eq!(create.num_calls() + update.num_calls(), 0);
}

#[tokio::test]
async fn a_changed_type_is_schema_drift_and_writes_nothing() {
    static OLD: [(&str, &str); 3] = [
        ("o_orderkey", "bigint"),
        ("o_totalprice", "double"),
        ("o_orderdate", "date"),
    ];
    let (m, get, create, parts, add, update_t) = (
        day_manifest(),
        stored_table(&OLD),
        create_table(),
        stored_partitions(&[]),
        create_partitions(&["1998-07-21"]),
        update_table(),
    );
    let err = handle(
        &state("day"),
        &clients(&[&m], &[&get, &create, &parts, &add, &update_t]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "SchemaDrift");
    assert!(
        err.to_string()
            .contains("o_totalprice double → decimal(15,2)"),
        "{err}"
    );
    assert_eq!(
        create.num_calls() + parts.num_calls() + add.num_calls() + update_t.num_calls(),
        0,
        "nothing is read or written after the drift is found"
    );
}

#[tokio::test]
async fn a_dropped_column_is_schema_drift() {
    static WIDER: [(&str, &str); 4] = [
        ("o_orderkey", "bigint"),
        ("o_totalprice", "decimal(15,2)"),
        ("o_orderdate", "date"),
        ("o_clerk", "string"),
    ];
    let (m, get) = (day_manifest(), stored_table(&WIDER));
    let err = handle(&state("day"), &clients(&[&m], &[&get]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "SchemaDrift");
    assert!(
        err.to_string().contains("no longer in the source: o_clerk"),
        "{err}"
    );
}

#[tokio::test]
async fn a_new_column_extends_the_table_and_updates_the_stored_day() {
    let wider = r#"[{"name":"o_orderkey","type":"bigint"},{"name":"o_totalprice","type":"decimal(15,2)"},
        {"name":"o_orderdate","type":"date"},{"name":"o_comment","type":"string"}]"#;
    let (m, get, update_t, parts, update_p) = (
        manifest(&["part-0.parquet"], wider),
        stored_table(&STORED),
        update_table(),
        stored_partitions(&[("1998-07-21", &STORED)]),
        update_partitions(),
    );
    let report = handle(
        &state("day"),
        &clients(&[&m], &[&get, &update_t, &parts, &update_p]),
    )
    .await
    .unwrap();
    assert_eq!(report.action, JobAction::Updated);
    assert_eq!((report.partitions_updated, update_t.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_whole_table_run_registers_every_day_it_wrote_and_drops_the_days_it_removed() {
    let (m, get, parts, add) = (
        manifest_removing(
            &[
                "o_orderdate_key=1998-07-20/part-0.parquet",
                "o_orderdate_key=1998-07-21/part-0.parquet",
                "o_orderdate_key=1998-07-21/part-1.parquet",
            ],
            COLUMNS,
            &["o_orderdate_key=1998-07-19", "o_orderdate_key=1998-07-18"],
        ),
        stored_table(&STORED),
        stored_partitions(&[("1998-07-21", &STORED)]),
        create_partitions(&["1998-07-20"]),
    );
    let delete = mock!(aws_sdk_glue::Client::batch_delete_partition)
        .match_requests(|r| {
            r.partitions_to_delete()
                .iter()
                .map(|p| p.values()[0].as_str())
                .collect::<Vec<_>>()
                == ["1998-07-19", "1998-07-18"]
        })
        .then_output(|| {
            // 1998-07-18 was never registered: gone already, which is not an error.
            BatchDeletePartitionOutput::builder()
                .errors(refused("1998-07-18", "EntityNotFoundException"))
                .build()
        });
    let report = handle(
        &state("full"),
        &clients(&[&m], &[&get, &parts, &add, &delete]),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            report.partitions_created,
            report.partitions_unchanged,
            report.partitions_deleted
        ),
        (1, 1, 1)
    );
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn a_day_another_execution_created_first_is_updated_to_ours() {
    let raced = mock!(aws_sdk_glue::Client::batch_create_partition).then_output(|| {
        BatchCreatePartitionOutput::builder()
            .errors(refused("1998-07-21", "AlreadyExistsException"))
            .build()
    });
    let (m, get, parts, update) = (
        day_manifest(),
        stored_table(&STORED),
        stored_partitions(&[]),
        update_partitions(),
    );
    let report = handle(
        &state("day"),
        &clients(&[&m], &[&get, &parts, &raced, &update]),
    )
    .await
    .unwrap();
    assert_eq!(
        (report.partitions_created, report.partitions_updated),
        (0, 1)
    );
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn throttling_is_glue_throttled_for_the_state_machine_to_retry() {
    let throttled = mock!(aws_sdk_glue::Client::batch_create_partition).then_error(|| {
        BatchCreatePartitionError::generic(
            ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build(),
        )
    });
    let (m, get, parts) = (
        day_manifest(),
        stored_table(&STORED),
        stored_partitions(&[]),
    );
    let err = handle(&state("day"), &clients(&[&m], &[&get, &parts, &throttled]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "GlueThrottled");
}

#[tokio::test]
async fn a_request_without_a_catalog_table_is_invalid_state() {
    let mut s = state("day");
    s.request.as_mut().unwrap().catalog = None;
    let err = handle(&s, &clients(&[], &[])).await.unwrap_err();
    assert_eq!(err.kind(), "InvalidState");
}
