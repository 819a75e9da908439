"""The workflow when AWS misbehaves the way AWS does: a Lambda that times out or is killed after
doing its work, a Glue API that throttles, a failure while the Glue run still writes. The faults
come from the local stack's twins (local/lambda_gateway.py, glue-local), the rest is real: the
Lambda binaries, the ASL on moto, the Glue script on Spark."""
import contextlib

import pytest

from test_workflow import HOT_DAY, TABLE, request, run

DAY = "1992-01-20"


@pytest.fixture(autouse=True)
def no_leftover_faults(stack):
    stack.gateway.clear_faults()
    yield
    stack.gateway.clear_faults()


def runs_of(stack, job_name, execution_arn):
    """The Glue runs of the job that this execution started (its --execution_id argument)."""
    runs = stack.queries.client("glue").get_job_runs(JobName=job_name, MaxResults=200)["JobRuns"]
    return [r for r in runs if r.get("Arguments", {}).get("--execution_id") == execution_arn]


def task_errors(stack, arn):
    return [e["taskFailedEventDetails"]["error"] for e in stack.queries.history(arn) if e["type"] == "TaskFailed"]


def test_start_run_timing_out_after_the_glue_run_started_still_succeeds_with_one_run(stack):
    # Lambda runs start-run (StartJobRun goes through), then kills it at its timeout.
    stack.gateway.inject("start-run", "timeout")
    arn, result, out = run(stack, request(DayPartitionValue=DAY))

    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert task_errors(stack, arn) == ["Sandbox.Timedout"]
    assert stack.gateway.invocations["start-run"] >= 2
    (glue_run,) = runs_of(stack, out["job"]["name"], arn)  # the retry found it; no second run
    assert glue_run["Id"] == out["run"]["id"] and glue_run["JobRunState"] == "SUCCEEDED"


def test_a_report_killed_before_publishing_is_retried_and_counts_the_unload_once(stack):
    before = stack.queries.metric_sums(TABLE).get("UnloadSucceeded", 0)
    stack.gateway.inject("report", "timeout-early")
    arn, result, _ = run(stack, request(DayPartitionValue=DAY))

    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert task_errors(stack, arn) == ["Sandbox.Timedout"]
    assert stack.queries.metric_sums(TABLE).get("UnloadSucceeded", 0) == before + 1


def test_a_crashed_check_status_is_lambda_unknown_and_is_retried(stack):
    stack.gateway.inject("check-status", "crash")
    arn, result, _ = run(stack, request(DayPartitionValue=DAY))

    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert task_errors(stack, arn) == ["Lambda.Unknown"]


def test_a_failure_while_the_glue_run_writes_stops_the_run_and_says_so(stack):
    # check-status fails at its first look while the Glue run is still reading: a transaction
    # holding the table's ACCESS EXCLUSIVE lock (as a concurrent ALTER or VACUUM would) keeps the
    # run's read waiting, however fast Spark starts on this machine, until report has stopped it.
    stack.gateway.inject("check-status", "error:GlueRunNotFound")
    with table_locked(stack, TABLE):
        arn, result, out = run(stack, request(DayPartitionValue=HOT_DAY))

        assert (result["status"], result["error"]) == ("FAILED", "GlueRunNotFound")
        job = f"local_{TABLE}_ExtractToDataLake"
        (glue_run,) = runs_of(stack, job, arn)
        assert "has been asked to stop (BatchStopJobRun)" in result["cause"], result["cause"]
        assert glue_run["Id"] in result["cause"]
        assert final_state(stack, job, glue_run["Id"]) == "STOPPED"


@contextlib.contextmanager
def table_locked(stack, table):
    """Holds an ACCESS EXCLUSIVE lock on the warehouse table until the block ends."""
    import psycopg
    with psycopg.connect(stack.queries.dsn) as conn:
        conn.execute("SET lock_timeout = '30s'")
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def final_state(stack, job, run_id, timeout=60):
    """The Glue run's state once it has ended."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        state = stack.queries.client("glue").get_job_run(JobName=job, RunId=run_id)["JobRun"]["JobRunState"]
        if state not in ("STARTING", "RUNNING", "STOPPING", "WAITING") or time.monotonic() > deadline:
            return state
        time.sleep(0.5)


def arm_glue_fault(stack, operation, error, count):
    """Arms glue-local's fault injection (local/glue-local/README.md, "Faults")."""
    import json
    import urllib.request
    body = json.dumps({"operation": operation, "error": error, "count": count}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{stack.ports['glue']}/_twin/faults", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def test_glue_throttling_past_the_sdks_own_retries_is_retried_by_the_state_machine(stack):
    # Three throttled StartJobRun calls exhaust the SDK's three attempts: start-run fails with
    # GlueThrottled, and the ASL's GlueThrottled retrier starts the run on the next try.
    arm_glue_fault(stack, "StartJobRun", "ThrottlingException", 3)
    arn, result, out = run(stack, request(DayPartitionValue=DAY))

    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert task_errors(stack, arn) == ["GlueThrottled"]
    assert len(runs_of(stack, out["job"]["name"], arn)) == 1


def create_job(stack, name, *, max_retries, owner):
    glue = stack.queries.client("glue")
    glue.delete_job(JobName=name)
    glue.create_job(Name=name, Role="arn:aws:iam::123456789012:role/someone", MaxRetries=max_retries,
                    Command={"Name": "glueetl", "ScriptLocation": "s3://artifacts/glue-scripts/unload_table.py"},
                    Tags={"redshift-unload:stack": owner})


def test_a_drifted_job_with_glue_retries_is_pinned_back_and_a_failed_run_has_one_attempt(stack):
    # Glue retries a failed run as a new JobRun (Attempt + 1) that the workflow would not follow;
    # ensure-job pins MaxRetries to 0, so the failure the workflow reports is the run's only one.
    table = "demo_master.no_such_table"
    job = f"local_{table}_ExtractToDataLake"
    create_job(stack, job, max_retries=2, owner="local")
    arn, result, out = run(stack, request(PrefixedTablename=table))

    assert (result["status"], result["error"]) == ("FAILED", "GlueRunFailed")
    assert stack.queries.client("glue").get_job(JobName=job)["Job"]["MaxRetries"] == 0
    (only,) = runs_of(stack, job, arn)
    assert only["Attempt"] == 0 and only["JobRunState"] == "FAILED"


def test_a_job_another_stack_owns_is_refused_and_left_as_it_was(stack):
    table = "demo_master.orders_other_stack"
    job = f"local_{table}_ExtractToDataLake"
    create_job(stack, job, max_retries=1, owner="prod")
    arn, result, _ = run(stack, request(PrefixedTablename=table))

    assert (result["status"], result["error"]) == ("FAILED", "JobOwnedElsewhere")
    assert "redshift-unload:stack=prod" in result["cause"]
    stored = stack.queries.client("glue").get_job(JobName=job)["Job"]
    assert stored["MaxRetries"] == 1 and stored["Role"].endswith("role/someone")
