"""The workflow end to end, as a scheduled execution would run it."""
import json
import threading

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from conftest import DAYS, HOT_ROWS, ROWS

TABLE = "demo_master.orders"
HOT_DAY = "1998-07-21"
QUIET_DAY = "1992-01-05"
CATALOG_DATABASE = "local_lake"
# demo_master.orders as the catalog describes it: the Spark types of local/seed_demo.sql's columns.
ORDERS_COLUMNS = [("o_orderkey", "bigint"), ("o_custkey", "bigint"), ("o_orderstatus", "string"),
                  ("o_totalprice", "decimal(15,2)"), ("o_orderdate", "date"), ("o_orderpriority", "string"),
                  ("o_clerk", "string"), ("o_shippriority", "int"), ("o_comment", "string")]


def request(**overrides):
    body = {"PrefixedTablename": TABLE, "SnapshotYN": "y", "DayPartitionKey": "o_orderdate",
            "DayPartitionValue": HOT_DAY, "FileFormat": "parquet", "WriteMode": "overwrite"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def run(stack, body, timeout=600):
    arn = stack.queries.start_execution(body)
    result = stack.queries.wait(arn, timeout=timeout)
    return arn, result, json.loads(result.get("output") or "{}")


def entered_states(stack, arn):
    return [e["stateEnteredEventDetails"]["name"] for e in stack.queries.history(arn) if e["type"].endswith("StateEntered")]


def columns(table):
    """A catalog table's columns as (name, type)."""
    return [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]


def partitions_for(stack, table, day):
    """The catalog partitions of `table` (in the stack's database) for one day."""
    return [p for p in stack.queries.catalog_partitions(CATALOG_DATABASE, table) if p["Values"] == [day]]


def rows_in(folder):
    return pq.read_table(folder).num_rows


def folder_snapshot(folder):
    """Every data file under folder with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file() and not p.name.startswith("_")}


def test_a_day_lands_as_parquet_with_the_warehouse_rows_and_a_success_metric(stack):
    arn, result, out = run(stack, request())
    assert result["status"] == "SUCCEEDED", result.get("cause")
    target = stack.queries.lake_path(out["request"]["target_uri"])
    assert target.name == f"o_orderdate_key={HOT_DAY}"
    assert rows_in(target) == stack.queries.warehouse_rows(TABLE, "o_orderdate", HOT_DAY) == HOT_ROWS
    manifest = json.loads((target / "_manifest.json").read_text())
    assert manifest["execution_id"] == arn and manifest["rows"] == HOT_ROWS
    assert out["report"]["rows"] == HOT_ROWS and out["report"]["outcome"] == "succeeded"
    states = entered_states(stack, arn)
    assert states[:4] == ["Prepare", "Validate", "EnsureJob", "StartRun"] and states[-2:] == ["ReportSuccess", "Succeeded"]
    assert "CheckStatus" in states
    assert stack.queries.metric_sums(TABLE).get("UnloadSucceeded", 0) >= 1
    assert stack.queries.metric_sums(TABLE).get("RowsUnloaded", 0) >= HOT_ROWS

    # Registered: the table (created here, or by an earlier test's day) and one partition for the day.
    registered = out["catalog"]
    assert (registered["database"], registered["table"]) == (CATALOG_DATABASE, "demo_master__orders__parquet")
    assert registered["partitions_created"] + registered["partitions_updated"] + registered["partitions_unchanged"] == 1
    assert "RegisterInCatalog" in states
    table = stack.queries.catalog_table(CATALOG_DATABASE, "demo_master__orders__parquet")
    assert columns(table) == ORDERS_COLUMNS
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("o_orderdate_key", "string")]
    assert table["StorageDescriptor"]["Location"] == "s3://datalake/lake/demo_master/parquet/orders/"
    assert table["Parameters"]["classification"] == "parquet"
    (partition,) = partitions_for(stack, "demo_master__orders__parquet", HOT_DAY)
    assert partition["StorageDescriptor"]["Location"] == out["request"]["target_uri"]
    # A reader that knows only the catalog finds the day's rows.
    assert stack.queries.rows_at(partition["StorageDescriptor"]["Location"], "parquet") == HOT_ROWS


def test_the_same_day_again_leaves_the_same_rows_and_other_days_untouched(stack):
    _, first, out = run(stack, request(DayPartitionValue=QUIET_DAY))
    assert first["status"] == "SUCCEEDED", first.get("cause")
    quiet = stack.queries.lake_path(out["request"]["target_uri"])
    hot = quiet.parent / f"o_orderdate_key={HOT_DAY}"
    if not hot.exists():  # this test also runs alone
        assert run(stack, request())[1]["status"] == "SUCCEEDED"
    hot_before = folder_snapshot(hot)
    _, again, again_out = run(stack, request(DayPartitionValue=QUIET_DAY))
    assert again["status"] == "SUCCEEDED", again.get("cause")
    assert rows_in(quiet) == stack.queries.warehouse_rows(TABLE, "o_orderdate", QUIET_DAY)
    assert folder_snapshot(hot) == hot_before, "a sibling partition was rewritten"
    # The catalog too: the same table, still one partition for the day, left as it was.
    assert again_out["catalog"] == {"database": CATALOG_DATABASE, "table": "demo_master__orders__parquet",
                                    "action": "unchanged", "partitions_created": 0, "partitions_updated": 0,
                                    "partitions_unchanged": 1, "partitions_deleted": 0}
    (partition,) = partitions_for(stack, "demo_master__orders__parquet", QUIET_DAY)
    assert partition["StorageDescriptor"]["Location"] == out["request"]["target_uri"]


def test_a_whole_table_run_writes_one_folder_per_day_with_every_row(stack):
    arn, result, out = run(stack, request(SnapshotYN="n", DayPartitionValue=None, FileFormat="orc"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    table_dir = stack.queries.lake_path(out["request"]["target_uri"])
    days = sorted(p.name for p in table_dir.iterdir() if p.is_dir())
    assert len(days) == DAYS + 1 and all(d.startswith("o_orderdate_key=") for d in days)
    dataset = ds.dataset(table_dir, format="orc", partitioning="hive")
    assert dataset.count_rows() == ROWS == stack.queries.warehouse_rows(TABLE)
    # One catalog partition per day folder, each at its folder.
    assert out["catalog"]["table"] == "demo_master__orders__orc"
    partitions = stack.queries.catalog_partitions(CATALOG_DATABASE, "demo_master__orders__orc")
    assert [(p["Values"][0], p["StorageDescriptor"]["Location"]) for p in partitions] == \
        [(d.removeprefix("o_orderdate_key="), f"{out['request']['target_uri']}{d}/") for d in days]


def test_a_missing_table_fails_with_a_clear_cause_and_a_failure_metric(stack):
    before = stack.queries.metric_sums("demo_master.no_such_table").get("UnloadFailed", 0)
    arn, result, out = run(stack, request(PrefixedTablename="demo_master.no_such_table"))
    assert result["status"] == "FAILED"
    assert result["error"] == "GlueRunFailed"
    assert "no_such_table" in result["cause"] and "does not exist" in result["cause"]
    assert entered_states(stack, arn)[-2:] == ["ReportFailure", "Failed"]
    assert stack.queries.metric_sums("demo_master.no_such_table").get("UnloadFailed", 0) == before + 1


def test_a_bad_request_fails_at_validate_and_creates_no_job(stack):
    arn, result, _ = run(stack, request(PrefixedTablename="demo_master.typo_table", DayPartitonKey="o_orderdate"))
    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidRequest"
    assert "DayPartitonKey" in result["cause"] and "did you mean DayPartitionKey" in result["cause"]
    assert entered_states(stack, arn) == ["Prepare", "Validate", "ReportFailure", "Failed"]
    glue = stack.queries.client("glue")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job(JobName="local_demo_master.typo_table_ExtractToDataLake")


def test_two_executions_for_one_table_queue_and_both_succeed(stack):
    results = {}

    def one(day):
        arn, result, _ = run(stack, request(DayPartitionValue=day), timeout=900)
        results[day] = (arn, result)

    threads = [threading.Thread(target=one, args=(day,)) for day in ("1992-01-10", "1992-01-11")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for day, (arn, result) in results.items():
        assert result["status"] == "SUCCEEDED", (day, result.get("cause"))
    retried = [e for arn, _ in results.values() for e in stack.queries.history(arn)
               if e["type"] in ("TaskFailed", "LambdaFunctionFailed") and "ConcurrentRunsExceeded" in json.dumps(e, default=str)]
    assert retried, "the second execution should have waited for the first (ConcurrentRunsExceeded)"
