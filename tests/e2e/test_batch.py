"""The batch workflow on the local stack: the real batch ASL on moto starting real child
executions of the unload workflow (startExecution.sync:2), the real plan and summarize binaries,
the unload engine (redshift-data-local) so each child takes seconds."""
import json
import uuid

from test_workflow import HOT_DAY

TABLES = [
    {"PrefixedTablename": "demo_master.orders", "DayPartitionKey": "o_orderdate"},
    {"PrefixedTablename": "demo_master.lineitem", "DayPartitionKey": "l_shipdate"},
    # Not in the warehouse: its UNLOAD fails in Redshift (here PostgreSQL) at run time.
    {"PrefixedTablename": "demo_master.missing", "DayPartitionKey": "m_day"},
]


def unload_executions(stack) -> dict[str, dict]:
    sfn = stack.queries.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=stack.queries.state_machine_arn)
    return {e["name"]: e for page in pages for e in page["executions"]}


def run_batch(stack, batch: dict) -> dict:
    arn = stack.queries.start_batch(batch)
    return stack.queries.wait(arn, timeout=300)


def failed_summary(result: dict) -> dict:
    assert (result["status"], result.get("error")) == ("FAILED", "BatchFailed"), result
    return json.loads(result["cause"])


def test_a_failing_table_fails_alone_and_a_rerun_starts_only_that_table(stack):
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    batch = {"Name": name, "Defaults": {"Engine": "unload", "SnapshotYN": "y", "DayPartitionValue": HOT_DAY}, "Tables": TABLES}
    before = set(unload_executions(stack))

    summary = failed_summary(run_batch(stack, batch))

    assert (summary["items"], summary["succeeded"], summary["failed"], summary["skipped"]) == (3, 2, 1, 0), summary
    expected_rows = (stack.queries.warehouse_rows("demo_master.orders", "o_orderdate", HOT_DAY)
                     + stack.queries.warehouse_rows("demo_master.lineitem", "l_shipdate", HOT_DAY))
    assert summary["rows"] == expected_rows > 0
    (failure,) = summary["failures"]
    assert (failure["table"], failure["scope"], failure["error"]) == ("demo_master.missing", HOT_DAY, "UnloadStatementFailed")
    # The failed table's child is an execution of its own, with its own Error and Cause.
    child = stack.queries.client("stepfunctions").describe_execution(executionArn=failure["execution_arn"])
    assert (child["status"], child["error"]) == ("FAILED", "UnloadStatementFailed")
    assert "demo_master.missing" in child["cause"]
    assert failure["cause"] == child["cause"][:500]
    started = set(unload_executions(stack)) - before
    assert started == {f"demo_master-{t}-{HOT_DAY}-{name}" for t in ("orders", "lineitem", "missing")}

    # The same batch again: the two tables that succeeded are skipped, the failed one gets attempt 2.
    summary = failed_summary(run_batch(stack, batch))

    assert (summary["succeeded"], summary["failed"], summary["skipped"]) == (0, 1, 2)
    assert set(unload_executions(stack)) - before - started == {f"demo_master-missing-{HOT_DAY}-{name}-a2"}


def test_an_invalid_entry_is_refused_before_anything_starts_and_the_tolerated_rest_succeeds(stack):
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    batch = {"Name": name, "Defaults": {"Engine": "unload", "SnapshotYN": "y", "DayPartitionValue": HOT_DAY},
             "Tables": [TABLES[1], {"PrefixedTablename": "demo_master.customer", "DayPartitionKey": "c_since",
                                    "FileFormat": "orc"}],
             "ToleratedFailureCount": 1}
    before = set(unload_executions(stack))

    result = run_batch(stack, batch)

    assert result["status"] == "SUCCEEDED", result
    summary = json.loads(result["output"])
    assert (summary["succeeded"], summary["failed"], summary["tolerated"]) == (1, 1, True)
    (failure,) = summary["failures"]
    assert failure["error"] == "InvalidRequest" and failure["execution_arn"] is None
    assert failure["cause"].startswith("Tables[1] (demo_master.customer)") and "orc" in failure["cause"].lower()
    assert set(unload_executions(stack)) - before == {f"demo_master-lineitem-{HOT_DAY}-{name}"}
    metrics = stack.queries.client("cloudwatch").list_metrics(
        Namespace="RedshiftUnload", Dimensions=[{"Name": "Batch", "Value": name}])["Metrics"]
    assert {m["MetricName"] for m in metrics} >= {"BatchTablesSucceeded", "BatchTablesFailed", "BatchRowsUnloaded"}
