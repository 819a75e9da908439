use super::*;
use crate::error::Result;
use crate::execution_names::Action;
use crate::request::RequestDefaults;
use chrono::NaiveDate;
use serde_json::{json, Value};

fn defaults() -> RequestDefaults {
    RequestDefaults {
        s3_path: Some("s3://lake-bucket/lake".into()),
        glue_connection: Some("conn".into()),
        redshift_role_arn: Some("arn:aws:iam::123456789012:role/redshift-unload".into()),
        day_partition_key: Some("o_orderdate".into()),
        snapshot_yn: Some("y".into()),
        ..Default::default()
    }
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn plan_of(input: Value) -> Result<Vec<Candidate>> {
    let input = BatchInput::parse(&input)?;
    let list = match &input.tables {
        TableSource::Inline(tables) => TableList {
            tables: tables.clone(),
            ..TableList::default()
        },
        TableSource::Object(_) => unreachable!(),
    };
    candidates(&input, &list, &defaults(), day("2026-12-01"))
}

fn valid(c: &Candidate) -> (&str, &Value) {
    let (name, input) = c.outcome.as_ref().expect("a valid item");
    (name.as_str(), input)
}

#[test]
fn the_batch_keys_are_checked_and_request_keys_are_sent_where_they_belong() {
    let err = BatchInput::parse(&json!({"Tables": [], "PrefixedTablename": "a.b"})).unwrap_err();
    assert_eq!(err.kind(), "InvalidRequest");
    assert!(
        err.to_string().contains("Defaults or in each entry"),
        "{err}"
    );

    let both = json!({"Tables": [], "TablesUri": "s3://b/k.json"});
    assert!(BatchInput::parse(&both)
        .unwrap_err()
        .to_string()
        .contains("not both"));
    assert!(BatchInput::parse(&json!({}))
        .unwrap_err()
        .to_string()
        .contains("needs its tables"));
    assert!(BatchInput::parse(&json!({"TablesUri": "s3://b/"})).is_err());
    assert!(BatchInput::parse(&json!({"TablesUri": "https://b/k"})).is_err());
    assert!(BatchInput::parse(&json!({"Tables": [], "Name": "night ly"})).is_err());
    assert!(BatchInput::parse(&json!({"Tables": [], "ToleratedFailurePercentage": 101})).is_err());
    assert!(BatchInput::parse(
        &json!({"Tables": [], "Days": {"From": "2026-02-30", "To": "2026-03-01"}})
    )
    .is_err());

    let input = BatchInput::parse(&json!({
        "TablesUri": "s3://config-bucket/batches/nightly.json",
        "Days": {"From": "2026-11-01", "To": "2026-11-05"},
        "ToleratedFailureCount": 2
    }))
    .unwrap();
    assert_eq!(input.name, DEFAULT_NAME);
    assert_eq!(
        input.tables,
        TableSource::Object("s3://config-bucket/batches/nightly.json".into())
    );
    assert_eq!(input.days, Some((day("2026-11-01"), day("2026-11-05"))));
    assert_eq!(
        input.tolerance,
        Tolerance {
            count: Some(2),
            percentage: None
        }
    );
}

#[test]
fn the_table_list_object_takes_defaults_tables_and_the_tolerance_only() {
    let list = TableList::parse(
        br#"{"Defaults": {"FileFormat": "csv"}, "Tables": [{"PrefixedTablename": "a.b"}]}"#,
        "s3://b/k",
    )
    .unwrap();
    assert_eq!(list.defaults["FileFormat"], "csv");
    assert_eq!(list.tables.len(), 1);
    let tolerant = TableList::parse(
        br#"{"Tables": [], "ToleratedFailurePercentage": 10}"#,
        "s3://b/k",
    )
    .unwrap();
    assert_eq!(tolerant.tolerance.percentage, Some(10.0));
    let input = Tolerance {
        count: Some(1),
        percentage: None,
    };
    assert_eq!(
        input.or(tolerant.tolerance),
        input,
        "the input's tolerance wins"
    );
    assert_eq!(
        Tolerance::default().or(tolerant.tolerance),
        tolerant.tolerance
    );
    for bad in [
        &b"[1]"[..],
        b"{\"Tables\": 1}",
        b"{\"Tables\": [], \"Tabels\": []}",
        b"not json",
    ] {
        let err = TableList::parse(bad, "s3://b/k").unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest");
        assert!(err.to_string().contains("s3://b/k"), "{err}");
    }
}

#[test]
fn entries_fall_back_on_the_defaults_and_each_child_names_its_day() {
    let items = plan_of(json!({
        "Name": "nightly",
        "Defaults": {"FileFormat": "csv", "Engine": "unload"},
        "Tables": [
            {"PrefixedTablename": "demo_master.orders"},
            {"PrefixedTablename": "demo_master.customer", "FileFormat": "json", "SnapshotYN": "n", "Engine": "glue"}
        ]
    }))
    .unwrap();
    let (name, input) = valid(&items[0]);
    assert_eq!(name, "demo_master-orders-2026-12-01-nightly");
    assert_eq!(input["FileFormat"], "csv");
    assert_eq!(input["Engine"], "unload");
    // The day the batch resolved is explicit, so a child started after midnight unloads the same day.
    assert_eq!(input["DayPartitionValue"], "2026-12-01");
    assert_eq!(
        (items[0].table.as_str(), items[0].scope.as_str()),
        ("demo_master.orders", "2026-12-01")
    );

    let (name, input) = valid(&items[1]);
    // A whole-table snapshot is a new unload each day: the batch day is in its name.
    assert_eq!(name, "demo_master-customer-full-2026-12-01-nightly");
    assert_eq!(input["FileFormat"], "json");
    assert!(input.get("DayPartitionValue").is_none());
    assert_eq!(items[1].scope, "full");
}

#[test]
fn an_invalid_entry_is_one_invalid_item_and_the_others_still_run() {
    let items = plan_of(json!({"Tables": [
        {"PrefixedTablename": "demo_master.orders"},
        {"PrefixedTablename": "demo_master.orders; drop table x"},
        {"PrefixedTablename": "demo_master.lineitem", "FileFormt": "csv"},
        "demo_master.nation"
    ]}))
    .unwrap();
    assert!(items[0].outcome.is_ok());
    for (i, what) in [
        (1, "PrefixedTablename"),
        (2, "FileFormt"),
        (3, "JSON object"),
    ] {
        let err = items[i].outcome.as_ref().unwrap_err();
        assert_eq!(err.error, "InvalidRequest");
        assert!(
            err.cause.starts_with(&format!("Tables[{i}]")),
            "{}",
            err.cause
        );
        assert!(err.cause.contains(what), "{}", err.cause);
    }
    assert_eq!(items[2].table, "demo_master.lineitem");
    assert_eq!(items[3].table, "Tables[3]");
}

#[test]
fn days_run_every_day_entry_once_per_day() {
    let items = plan_of(json!({
        "Name": "backfill",
        "Tables": [{"PrefixedTablename": "demo_master.orders"}],
        "Days": {"From": "1992-01-01", "To": "1992-01-05"}
    }))
    .unwrap();
    let days: Vec<_> = items
        .iter()
        .map(|c| valid(c).1["DayPartitionValue"].clone())
        .collect();
    assert_eq!(
        days,
        [
            "1992-01-01",
            "1992-01-02",
            "1992-01-03",
            "1992-01-04",
            "1992-01-05"
        ]
    );
    assert_eq!(valid(&items[4]).0, "demo_master-orders-1992-01-05-backfill");
    assert_eq!(
        items.iter().map(|c| c.index).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );

    let given_day = plan_of(json!({
        "Tables": [{"PrefixedTablename": "demo_master.orders", "DayPartitionValue": "1992-01-01"}],
        "Days": {"From": "1992-01-01", "To": "1992-01-01"}
    }))
    .unwrap();
    assert!(given_day[0]
        .outcome
        .as_ref()
        .unwrap_err()
        .cause
        .contains("set by the batch's Days"));

    let whole_table = plan_of(json!({
        "Tables": [{"PrefixedTablename": "demo_master.orders", "SnapshotYN": "n", "DayPartitionKey": null}],
        "Days": {"From": "1992-01-01", "To": "1992-01-01"}
    }))
    .unwrap();
    assert!(whole_table[0].outcome.is_err());
}

#[test]
fn the_same_unload_twice_in_one_batch_is_refused_the_second_time() {
    let items = plan_of(json!({"Tables": [
        {"PrefixedTablename": "demo_master.orders"},
        {"PrefixedTablename": "DEMO_MASTER.ORDERS"}
    ]}))
    .unwrap();
    assert!(items[0].outcome.is_ok());
    assert!(items[1]
        .outcome
        .as_ref()
        .unwrap_err()
        .cause
        .contains("the same unload as item 0"));
}

#[test]
fn a_batch_too_large_for_the_state_is_refused_whole() {
    let err = plan_of(json!({
        "Tables": [{"PrefixedTablename": "a.b"}, {"PrefixedTablename": "a.c"}],
        "Days": {"From": "2026-01-01", "To": "2026-04-30"}
    }))
    .unwrap_err();
    assert_eq!(err.kind(), "InvalidRequest");
    assert!(
        err.to_string().contains("240 items (2 entries × 120 days)"),
        "{err}"
    );
    assert!(plan_of(json!({"Tables": []}))
        .unwrap_err()
        .to_string()
        .contains("no tables"));
}

#[test]
fn attempts_decide_the_action_and_the_name() {
    let items = plan_of(json!({"Tables": [{"PrefixedTablename": "demo_master.orders"}]})).unwrap();
    let item = items[0]
        .clone()
        .into_item(Some(Action::Start { attempt: 3 }));
    assert_eq!(item.action, ItemAction::Start);
    assert_eq!(
        item.name.as_deref(),
        Some("demo_master-orders-2026-12-01-batch-a3")
    );
    let item = items[0]
        .clone()
        .into_item(Some(Action::Skip { attempt: 1 }));
    assert_eq!(
        (item.action, item.name.as_deref()),
        (
            ItemAction::Skip,
            Some("demo_master-orders-2026-12-01-batch")
        )
    );
    let plan = Plan::new(
        "batch".into(),
        day("2026-12-01"),
        vec![item],
        Tolerance::default(),
    );
    assert_eq!(
        plan.counts,
        Counts {
            items: 1,
            skip: 1,
            ..Counts::default()
        }
    );
    assert!(plan.check_size().is_ok());
}

#[test]
fn tolerance_follows_the_distributed_maps_rules() {
    let none = Tolerance::default();
    assert!(none.tolerates(0, 3));
    assert!(!none.tolerates(1, 3));
    let count = Tolerance {
        count: Some(1),
        percentage: None,
    };
    assert!(count.tolerates(1, 3) && !count.tolerates(2, 3));
    let share = Tolerance {
        count: None,
        percentage: Some(50.0),
    };
    assert!(share.tolerates(2, 4) && !share.tolerates(3, 4));
    let both = Tolerance {
        count: Some(5),
        percentage: Some(10.0),
    };
    assert!(!both.tolerates(2, 10), "exceeding either fails the batch");
}

fn summarized(outcomes: Vec<ChildOutcome>, tolerance: Tolerance) -> Summary {
    let items = plan_of(json!({"Tables": [
        {"PrefixedTablename": "demo_master.orders"},
        {"PrefixedTablename": "demo_master.customer"},
        {"PrefixedTablename": "demo_master.missing"}
    ]}))
    .unwrap()
    .into_iter()
    .map(|c| c.into_item(None))
    .collect();
    summarize(
        &Plan::new("batch".into(), day("2026-12-01"), items, tolerance),
        &outcomes,
    )
}

#[test]
fn the_summary_counts_rows_and_names_each_failure_with_the_childs_own_error() {
    let summary = summarized(
        vec![
            ChildOutcome::Succeeded {
                execution_arn: "a".into(),
                rows: Some(415),
            },
            ChildOutcome::Skipped,
            ChildOutcome::Failed {
                execution_arn: "arn:c".into(),
                error: "UnloadStatementFailed".into(),
                cause: "relation \"demo_master.missing\" does not exist".into(),
            },
        ],
        Tolerance::default(),
    );
    assert_eq!(
        (
            summary.items,
            summary.succeeded,
            summary.failed,
            summary.skipped,
            summary.rows
        ),
        (3, 1, 1, 1, 415)
    );
    assert!(!summary.tolerated);
    let failure = &summary.failures[0];
    assert_eq!(
        (failure.table.as_str(), failure.error.as_str()),
        ("demo_master.missing", "UnloadStatementFailed")
    );
    assert_eq!(failure.execution_arn.as_deref(), Some("arn:c"));
    assert!(
        summary
            .message
            .starts_with("1 of 3 succeeded, 1 failed, 1 skipped"),
        "{}",
        summary.message
    );
    assert!(summary
        .message
        .contains("demo_master.missing 2026-12-01: UnloadStatementFailed"));
    let cause: Summary = serde_json::from_str(&summary.cause()).unwrap();
    assert_eq!(cause, summary);

    let datums = summary.datums();
    let value = |name: &str| datums.iter().find(|d| d.name == name).unwrap().value;
    assert_eq!(
        (
            value("BatchTablesSucceeded"),
            value("BatchTablesFailed"),
            value("BatchRowsUnloaded")
        ),
        (1.0, 1.0, 415.0)
    );
    assert!(datums
        .iter()
        .all(|d| d.dimension == Some(("Batch", "batch".into()))));
}

#[test]
fn a_long_failure_list_is_cut_to_fit_the_fail_states_cause() {
    let long = "x".repeat(5_000);
    let failure = ChildOutcome::NotStarted(ItemError {
        error: "StepFunctions.ExecutionLimitExceeded".into(),
        cause: long,
    });
    let mut summary = summarized(
        vec![failure.clone(), failure.clone(), failure],
        Tolerance::default(),
    );
    for _ in 0..7 {
        summary.failures.extend(summary.failures.clone());
    }
    summary.failed = summary.failures.len();
    let cause = summary.cause();
    assert!(cause.chars().count() <= MAX_FAILED_CAUSE_CHARS);
    let shown: Summary = serde_json::from_str(&cause).unwrap();
    assert_eq!(shown.failed, summary.failed);
    assert!(shown.failures.len() < summary.failures.len());
    assert!(shown
        .message
        .contains(&format!("of the {} failures", summary.failed)));
}
