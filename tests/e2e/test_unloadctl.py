"""unloadctl against the local stack: start (idempotent by name), backfill (lands every day,
resumes, retries only the failed day), watch (exit codes, the failure's cause), status.

The 5-day backfill runs on the unload engine: with Glue, one table's executions queue on its job
(MaxConcurrentRuns 1) through the workflow's 60 s ConcurrentRunsExceeded retry, which the state
machine tests and glue-local's own tests cover at a fraction of the cost; here it is the command's
behaviour that is under test. The failing-day backfill runs on Glue (its empty-source refusal)
with --concurrency 1 to stay quick."""
import json
import os
import subprocess

import pytest

from conftest import ROOT
from stack import TARGET  # honours CARGO_TARGET_DIR, as the cargo build below does

TABLE = "demo_master.orders"
KEY = "o_orderdate"
BINARY = TARGET / "unloadctl"
# The e2e warehouse holds 60 days from 1992-01-01 (1992 is a leap year: up to 1992-02-29), plus
# the hot day. test_workflow.py uses 1992-01-05, -10, -11 and 1998-07-21; these are ours.
START_DAY = "1992-02-20"
BACKFILL = ("1992-02-01", "1992-02-05")
FAILING = ("1992-02-28", "1992-03-01")  # 1992-02-29 is the last day with rows; 1992-03-01 has none
EMPTY_DAY = "1992-03-01"


@pytest.fixture(scope="session")
def unloadctl(stack):
    # The stack's selection (local/stack.py `_build`), so the SDK crates are not compiled again.
    subprocess.run(["cargo", "build", "-q", "--locked", "--workspace", "--bins"], cwd=ROOT, check=True)
    env = dict(os.environ, AWS_ENDPOINT_URL=stack.moto_url, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1",
               UNLOADCTL_STATE_MACHINE_ARN=stack.state_machine_arn)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    for name in [n for n in env if n.startswith("UNLOAD_")]:
        env.pop(name)  # the local check must not need the Lambda-only defaults

    def run(*args, timeout=600, without=()):
        call_env = {k: v for k, v in env.items() if k not in without}
        return subprocess.run([str(BINARY), *args], env=call_env, capture_output=True, text=True, timeout=timeout)
    return run


def executions(stack, prefix):
    sfn = stack.queries.client("stepfunctions")
    names, token = [], None
    while True:
        page = sfn.list_executions(stateMachineArn=stack.state_machine_arn, maxResults=1000,
                                   **({"nextToken": token} if token else {}))
        names += [e["name"] for e in page["executions"] if e["name"].startswith(prefix)]
        token = page.get("nextToken")
        if not token:
            return sorted(names)


def day_folder(stack, day, fmt="parquet"):
    return stack.queries.lake_path(f"s3://datalake/lake/demo_master/{fmt}/orders/{KEY}_key={day}/")


def test_start_is_idempotent_by_name_and_watch_follows_it_to_success(stack, unloadctl):
    args = ["start", "--table", TABLE, "--day", START_DAY, "--key", KEY, "--run-tag", "e2e"]
    first = unloadctl(*args)
    assert first.returncode == 0, first.stderr
    second = unloadctl(*args)
    assert second.returncode == 0, second.stderr
    arn = first.stdout.strip()
    assert arn.endswith(":demo_master-orders-1992-02-20-e2e")
    assert second.stdout.strip() == arn
    assert "not started again" in second.stderr
    assert executions(stack, "demo_master-orders-1992-02-20-") == ["demo_master-orders-1992-02-20-e2e"]

    watched = unloadctl("watch", arn, "--poll-seconds", "1")
    assert watched.returncode == 0, watched.stderr
    lines = watched.stdout.splitlines()
    assert any("enter     Validate" in l for l in lines)
    assert any("CheckStatus  glue run" in l for l in lines)
    assert "SUCCEEDED" in lines[-1]
    assert (day_folder(stack, START_DAY) / "_manifest.json").exists()

    # Finished: the name is taken, and the message says what to do.
    again = unloadctl(*args)
    assert again.returncode == 1
    assert again.stderr.startswith("unloadctl: ExecutionAlreadyExists") and "--run-tag" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_a_backfill_lands_every_day_and_a_rerun_starts_nothing(stack, unloadctl):
    first, last = BACKFILL
    args = ["backfill", "--table", TABLE, "--key", KEY, "--from", first, "--to", last, "--engine", "unload",
            "--concurrency", "2", "--poll-seconds", "2", "--run-tag", "e2e"]
    run = unloadctl(*args, "--output", "json")
    assert run.returncode == 0, run.stderr
    days = json.loads(run.stdout)
    assert [d["day"] for d in days] == [f"1992-02-0{i}" for i in range(1, 6)]
    assert all(d["status"] == "SUCCEEDED" and d["action"] == "started" for d in days), days
    for d in days:
        folder = day_folder(stack, d["day"])
        assert (folder / "_manifest.json").exists(), folder
        assert json.loads((folder / "_manifest.json").read_text())["rows"] == \
            stack.queries.warehouse_rows(TABLE, KEY, d["day"])
    names = executions(stack, "demo_master-orders-1992-02-0")
    assert len(names) == 5

    rerun = unloadctl(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert executions(stack, "demo_master-orders-1992-02-0") == names, "the rerun started something"
    table = rerun.stdout.splitlines()
    assert table[0].split()[:2] == ["DAY", "STATUS"]
    assert len(table) == 6 and all("SUCCEEDED (earlier run)" in row for row in table[1:])


def test_a_failed_day_is_reported_watched_and_alone_retried(stack, unloadctl):
    # An empty source day whose lake folder already holds data: the Glue job refuses to wipe it.
    planted = day_folder(stack, EMPTY_DAY) / "part-00000-planted.snappy.parquet"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(b"not really parquet")
    first, last = FAILING
    args = ["backfill", "--table", TABLE, "--key", KEY, "--from", first, "--to", last,
            "--concurrency", "1", "--poll-seconds", "2", "--run-tag", "e2e", "--output", "json"]
    run = unloadctl(*args)
    assert run.returncode == 1
    assert "1 of 3 day(s) failed: 1992-03-01" in run.stderr
    days = {d["day"]: d for d in json.loads(run.stdout)}
    assert [days[d]["status"] for d in ("1992-02-28", "1992-02-29", EMPTY_DAY)] == ["SUCCEEDED", "SUCCEEDED", "FAILED"]
    assert "refusing to wipe" in days[EMPTY_DAY]["error"]

    watched = unloadctl("watch", days[EMPTY_DAY]["execution_name"])
    assert watched.returncode == 1
    assert "FAILED  GlueRunFailed" in watched.stdout and "refusing to wipe" in watched.stdout
    assert watched.stderr.startswith("unloadctl: demo_master-orders-1992-03-01-e2e FAILED")

    planted.unlink()  # the operator fixes the cause; the rerun retries that day only
    rerun = unloadctl(*args)
    assert rerun.returncode == 0, rerun.stderr
    days = {d["day"]: d for d in json.loads(rerun.stdout)}
    assert {d: (v["action"], v["attempt"]) for d, v in days.items()} == {
        "1992-02-28": ("skip", 1), "1992-02-29": ("skip", 1), EMPTY_DAY: ("started", 2)}
    assert days[EMPTY_DAY]["execution_name"] == "demo_master-orders-1992-03-01-e2e-a2"
    assert days[EMPTY_DAY]["status"] == "SUCCEEDED"
    assert executions(stack, "demo_master-orders-1992-03-01-") == [
        "demo_master-orders-1992-03-01-e2e", "demo_master-orders-1992-03-01-e2e-a2"]


def test_status_lists_recent_executions_with_rows_and_bytes(stack, unloadctl):
    listed = unloadctl("status", "--table", TABLE, "--limit", "50", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    ours = rows.get("demo_master-orders-1992-02-20-e2e")
    if ours is None:  # this test also runs alone
        pytest.skip("run with the start test")
    assert ours["status"] == "SUCCEEDED" and ours["day"] == START_DAY
    assert ours["rows"] == stack.queries.warehouse_rows(TABLE, KEY, START_DAY) and ours["bytes"] > 0
    text = unloadctl("status", "--since", "1d")
    assert text.returncode == 0 and text.stdout.startswith("STARTED")


def test_errors_are_one_line(unloadctl):
    bad = unloadctl("start", "--table", "demo_master.orders", "--day", "1992-02-30")
    assert bad.returncode == 2 and "1992-02-30" in bad.stderr
    refused = unloadctl("start", "--table", "demo_master.orders", "--day", "1992-02-03", "--format", "parquet",
                        "--write-mode", "overwrite", "--key", "bad key")
    assert refused.returncode == 2
    assert refused.stderr.startswith("unloadctl: InvalidRequest: DayPartitionKey")
    assert len(refused.stderr.strip().splitlines()) == 1
    missing = unloadctl("watch", "no-such-execution")
    assert missing.returncode == 1 and "no execution" in missing.stderr


SERVER_BACKFILL = [f"1992-01-{d}" for d in range(25, 30)]  # test_faults.py uses 1992-01-20


def server_children(stack):
    return [n for n in executions(stack, "demo_master-orders-1992-01-") if n.endswith("-srv")]


def test_a_server_side_backfill_lands_every_day_and_is_found_through_the_stacks_outputs(stack, unloadctl):
    # No ARN given: unloadctl reads both state machines from the stack's outputs (DescribeStacks,
    # which the local stack answers for its stack "local"). The unload engine keeps it quick.
    args = ("--stack", "local", "backfill", "--server", "--table", TABLE, "--key", KEY, "--engine", "unload",
            "--from", SERVER_BACKFILL[0], "--to", SERVER_BACKFILL[-1], "--run-tag", "srv", "--poll-seconds", "1")
    result = unloadctl(*args, without=("UNLOADCTL_STATE_MACHINE_ARN",))

    assert result.returncode == 0, result.stderr
    assert "5 of 5 succeeded" in result.stdout, result.stdout
    assert server_children(stack) == [f"demo_master-orders-{d}-srv" for d in SERVER_BACKFILL]
    for day in SERVER_BACKFILL:
        manifest = json.loads((day_folder(stack, day) / "_manifest.json").read_text())
        assert manifest["rows"] == stack.queries.warehouse_rows(TABLE, KEY, day) > 0, day

    # Started again: the batch already ran, so it is reported, not run again.
    again = unloadctl(*args, without=("UNLOADCTL_STATE_MACHINE_ARN",))
    assert again.returncode == 0, again.stderr
    assert server_children(stack) == [f"demo_master-orders-{d}-srv" for d in SERVER_BACKFILL]
