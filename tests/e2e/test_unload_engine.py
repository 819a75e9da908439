"""The unload engine end to end: the real workflow on the local stack, with redshift-data-local
standing in for the Redshift Data API (UNLOAD on PostgreSQL, files into s3-local's folder), and
the commit run by the real check-status binary."""
import json
import urllib.request
import time
import uuid

import pyarrow.parquet as pq

from test_workflow import CATALOG_DATABASE, TABLE, columns, entered_states, folder_snapshot, request, run

DAY = "1992-02-10"  # a day no other test unloads as Parquet


def emulator(stack, path: str, body: dict | None = None) -> dict:
    """The emulator's test hooks (/_emulator/stats, /_emulator/faults): not part of the AWS API."""
    url = stack.queries.endpoints["redshift-data"] + path
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


def sorted_rows(folder):
    """Every row of the folder's Parquet files, as Python values, in o_orderkey order."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("_"))
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: r["o_orderkey"])


def test_both_engines_land_the_demo_day_with_identical_rows(stack):
    _, glue, glue_out = run(stack, request(DayPartitionValue=DAY))
    assert glue["status"] == "SUCCEEDED", glue.get("cause")
    folder = stack.queries.lake_path(glue_out["request"]["target_uri"])
    by_glue = sorted_rows(folder)
    assert len(by_glue) == stack.queries.warehouse_rows(TABLE, "o_orderdate", DAY) > 0

    arn, unload, out = run(stack, request(DayPartitionValue=DAY, Engine="unload"))
    assert unload["status"] == "SUCCEEDED", unload.get("cause")
    assert out["request"]["engine"] == "unload" and out["job"]["action"] == "skipped"
    assert out["run"]["outcome"] == "succeeded" and out["report"]["rows"] == len(by_glue)
    # Only UNLOAD's files are left in the day folder: Glue's were replaced, UNLOAD's manifest
    # was read and removed, the project's manifest names the files.
    names = sorted(p.name for p in folder.iterdir())
    data = [n for n in names if not n.startswith("_")]
    assert data and all(n.startswith("run-") and "_part_" in n and n.endswith(".parquet") for n in data), names
    manifest = json.loads((folder / "_manifest.json").read_text())
    assert (manifest["engine"], manifest["state"], manifest["execution_id"]) == ("unload", "complete", arn)
    assert sorted(f["path"] for f in manifest["files"]) == data
    assert manifest["replaced_files"] > 0

    by_unload = sorted_rows(folder)
    assert by_unload == by_glue  # row for row, value for value (Decimal, date, text)

    # The catalog takes the unload engine's columns as the same table: nothing drifts.
    table = stack.queries.catalog_table(CATALOG_DATABASE, "demo_master__orders__parquet")
    assert out["catalog"]["action"] == "unchanged"
    assert columns(table)[:3] == [("o_orderkey", "bigint"), ("o_custkey", "bigint"), ("o_orderstatus", "string")]
    assert "UnloadStatementFailed" not in json.dumps(stack.queries.history(arn), default=str)
    assert entered_states(stack, arn)[-2:] == ["ReportSuccess", "Succeeded"]

    # And back: a Glue run replaces the unload engine's files.
    _, again, _ = run(stack, request(DayPartitionValue=DAY))
    assert again["status"] == "SUCCEEDED", again.get("cause")
    assert not [p for p in folder.iterdir() if p.name.startswith("run-")]
    assert sorted_rows(folder) == by_glue


def test_a_retried_start_never_issues_a_second_statement(stack):
    """start-run twice for one execution (a retried task): one statement. Then check-status
    commits its files."""
    body = request(DayPartitionValue="1992-01-07", Engine="unload")
    validated = stack.queries.invoke("validate", body)
    execution = {"id": f"arn:aws:states:us-east-1:123456789012:execution:redshift-unload:{uuid.uuid4().hex}",
                 "name": "retried-start", "started_at": "2026-12-03T00:00:00Z"}
    state = {"input": body, "execution": execution, "request": validated,
             "job": {"name": validated["job_name"], "action": "skipped"}}
    before = emulator(stack, "/_emulator/stats")
    first = stack.queries.invoke("start-run", state)
    second = stack.queries.invoke("start-run", state)
    after = emulator(stack, "/_emulator/stats")
    assert first["id"] == second["id"]
    assert after["execute_calls"] == before["execute_calls"] + 2
    assert after["statements_executed"] == before["statements_executed"] + 1

    status = {"outcome": "running"}
    for _ in range(120):
        status = stack.queries.invoke("check-status", dict(state, run=first))
        if status["outcome"] != "running":
            break
        time.sleep(0.5)
    assert status["outcome"] == "succeeded", status
    folder = stack.queries.lake_path(validated["target_uri"])
    manifest = json.loads((folder / "_manifest.json").read_text())
    assert manifest["execution_id"] == execution["id"]
    assert manifest["rows"] == stack.queries.warehouse_rows(TABLE, "o_orderdate", "1992-01-07")
    # A check-status repeated after the commit changes nothing.
    snapshot = folder_snapshot(folder)
    assert stack.queries.invoke("check-status", dict(state, run=first))["outcome"] == "succeeded"
    assert folder_snapshot(folder) == snapshot


def test_a_failed_statement_leaves_the_previous_data_and_manifest(stack):
    day = "1992-01-09"
    _, first, out = run(stack, request(DayPartitionValue=day, Engine="unload"))
    assert first["status"] == "SUCCEEDED", first.get("cause")
    folder = stack.queries.lake_path(out["request"]["target_uri"])
    data_before = folder_snapshot(folder)
    manifest_before = (folder / "_manifest.json").read_bytes()

    # A half-done UNLOAD: its files written, no manifest, then FAILED.
    emulator(stack, "/_emulator/faults", {"fail_after_files": "ERROR: S3ServiceException: Slow Down"})
    arn, failed, _ = run(stack, request(DayPartitionValue=day, Engine="unload"))
    assert failed["status"] == "FAILED"
    assert failed["error"] == "UnloadStatementFailed"
    assert "Slow Down" in failed["cause"] and "ended FAILED" in failed["cause"]
    assert entered_states(stack, arn)[-2:] == ["ReportFailure", "Failed"]
    assert folder_snapshot(folder) == data_before
    assert (folder / "_manifest.json").read_bytes() == manifest_before
    assert stack.queries.metric_sums(TABLE).get("UnloadFailed", 0) >= 1


def test_what_unload_cannot_write_is_refused_before_anything_runs(stack):
    before = emulator(stack, "/_emulator/stats")["execute_calls"]
    arn, orc, _ = run(stack, request(Engine="unload", FileFormat="orc"))
    assert (orc["status"], orc["error"]) == ("FAILED", "InvalidRequest")
    assert "use Engine glue" in orc["cause"]
    assert entered_states(stack, arn) == ["Prepare", "Validate", "ReportFailure", "Failed"]
    # The stack has a default DayPartitionKey: a whole table would be one folder per day.
    _, full, _ = run(stack, request(Engine="unload", SnapshotYN="n", DayPartitionValue=None))
    assert (full["status"], full["error"]) == ("FAILED", "InvalidRequest")
    assert emulator(stack, "/_emulator/stats")["execute_calls"] == before
