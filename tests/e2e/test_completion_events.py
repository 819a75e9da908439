"""Completion events end to end: glue-local (and redshift-data-local) announce a run's end as AWS
does, the local EventBridge bus (local/events_local.py) matches the template's rules and invokes
the real complete binary, which wakes the execution waiting in WaitForRun (SendTaskSuccess on
moto). The bus can drop or duplicate events, which is how these tests prove the safety net (the
wait's timeout, then a poll) and the idempotence (a spent token completes nothing)."""
import json
import time
import urllib.request

import pytest

from test_faults import table_locked
from test_unload_engine import emulator
from test_workflow import TABLE, request, run

LONG_RUN_DAY = "1992-03-02"  # days no other test unloads
DROPPED_DAY = "1992-03-03"
DUPLICATED_DAY = "1992-03-04"
UNLOAD_DAY = "1992-03-05"
LOCK_SECONDS = 15  # how long the warehouse table stays locked: the run lasts at least this long


def bus(stack, path: str, body: dict | None = None) -> dict:
    """The local bus's test hooks (/_bus/faults, /_bus/reset, /_bus/stats)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(stack.events_url + path, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


@pytest.fixture(autouse=True)
def clean_bus(stack):
    bus(stack, "/_bus/reset", {})
    yield
    bus(stack, "/_bus/reset", {})


def run_slowly(stack, body, hold_seconds=LOCK_SECONDS):
    """Runs the unload while the table stays locked for `hold_seconds` (so the run lasts longer
    than the first poll intervals); returns (arn, description, output)."""
    with table_locked(stack, TABLE):
        arn = stack.queries.start_execution(body)
        time.sleep(hold_seconds)
    result = stack.queries.wait(arn, timeout=600)
    return arn, result, json.loads(result.get("output") or "{}")


def waits(history):
    """Each WaitForRun: (entered event, the event that ended it, the input's next_poll_seconds)."""
    out, current = [], None
    for e in history:
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "WaitForRun":
            current = e
        elif current is not None and e["type"] in ("TaskSucceeded", "TaskTimedOut", "TaskFailed"):
            poll = json.loads(current["stateEnteredEventDetails"]["input"])["run"]["next_poll_seconds"]
            out.append((current, e, poll))
            current = None
    return out


def entered(history, state):
    return [e for e in history if e["type"].endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] == state]


def deliveries_for(stack, run_id):
    return [d for d in bus(stack, "/_bus/stats")["deliveries"] if isinstance(d["answer"], dict)
            and d["answer"].get("run_id") == run_id]


def glue_completed_on(stack, job, run_id):
    run = stack.queries.client("glue").get_job_run(JobName=job, RunId=run_id)["JobRun"]
    return run["CompletedOn"].timestamp()


def test_a_runs_end_is_noticed_within_seconds_of_glues_event(stack):
    # (The stack started complete already: local/stack.py _warm_complete.)
    arn, result, out = run_slowly(stack, request(DayPartitionValue=LONG_RUN_DAY))
    assert result["status"] == "SUCCEEDED", result.get("cause")

    history = stack.queries.history(arn)
    *earlier, (last_entered, last_end, interval) = waits(history)
    # The run outlived the first waits (they timed out and polled), and the last wait was ended by
    # the event, with a wake record, well before its own timeout.
    assert earlier and all(end["type"] == "TaskTimedOut" for _, end, _ in earlier)
    assert last_end["type"] == "TaskSucceeded", last_end
    wake = json.loads(last_end["taskSucceededEventDetails"]["output"])
    assert (wake["woken_by"], wake["source"], wake["state"], wake["run_id"]) == (
        "event", "aws.glue", "SUCCEEDED", out["run"]["id"])
    waited = (last_end["timestamp"] - last_entered["timestamp"]).total_seconds()
    assert waited < interval, (waited, interval)

    # Noticed: the poll right after the wake saw the end, seconds after Glue's run completed.
    check = next(e for e in entered(history, "CheckStatus") if e["timestamp"] > last_end["timestamp"])
    latency = check["timestamp"].timestamp() - glue_completed_on(stack, out["job"]["name"], out["run"]["id"])
    assert 0 <= latency < 5, latency
    assert out["run"]["state"] == "SUCCEEDED"
    (delivery,) = deliveries_for(stack, out["run"]["id"])
    assert delivery["answer"]["action"] == "woke"
    print(f"\nevent-driven detection: {latency:.2f} s after the run completed "
          f"(the wait it cut short would have lasted {interval} s)")


def test_with_the_event_dropped_the_run_still_finishes_by_polling(stack):
    bus(stack, "/_bus/faults", {"drop": 1})
    arn, result, out = run(stack, request(DayPartitionValue=DROPPED_DAY))
    assert result["status"] == "SUCCEEDED", result.get("cause")

    history = stack.queries.history(arn)
    ended_by = [end["type"] for _, end, _ in waits(history)]
    # Every wait ran to its timeout and was followed by exactly one poll: polling's cost.
    assert ended_by and set(ended_by) == {"TaskTimedOut"}, ended_by
    assert len(entered(history, "CheckStatus")) == len(ended_by)
    assert bus(stack, "/_bus/stats")["dropped"] == 1
    assert deliveries_for(stack, out["run"]["id"]) == []
    assert entered(history, "ForgetWait"), "the token object is deleted once the run has ended"
    token = stack.queries.lake_path(f"s3://artifacts/tmp/waits/{out['run']['id']}")
    assert not token.exists()


def test_a_duplicated_event_completes_nothing_twice(stack):
    before = stack.queries.metric_sums(TABLE).get("UnloadSucceeded", 0)
    bus(stack, "/_bus/faults", {"duplicate": 1})
    arn, result, out = run(stack, request(DayPartitionValue=DUPLICATED_DAY))
    assert result["status"] == "SUCCEEDED", result.get("cause")

    deliveries = []
    for _ in range(40):  # the second copy may still be on its way
        deliveries = deliveries_for(stack, out["run"]["id"])
        if len(deliveries) == 2:
            break
        time.sleep(0.25)
    actions = sorted(d["answer"]["action"] for d in deliveries)
    assert actions == ["ignored", "woke"], deliveries
    history = stack.queries.history(arn)
    assert [end["type"] for _, end, _ in waits(history)].count("TaskSucceeded") == 1
    assert len(entered(history, "ReportSuccess")) == 1
    assert stack.queries.metric_sums(TABLE).get("UnloadSucceeded", 0) == before + 1


def test_the_data_apis_statement_event_wakes_the_unload_engine(stack):
    # The statement stays STARTED 12 s, longer than the first waits.
    emulator(stack, "/_emulator/faults", {"delay_seconds": 12})
    arn = stack.queries.start_execution(request(DayPartitionValue=UNLOAD_DAY, Engine="unload"))
    result = stack.queries.wait(arn, timeout=300)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    out = json.loads(result["output"])

    *_, (_, last_end, interval) = waits(stack.queries.history(arn))
    assert last_end["type"] == "TaskSucceeded", last_end
    wake = json.loads(last_end["taskSucceededEventDetails"]["output"])
    assert (wake["source"], wake["state"], wake["run_id"]) == ("aws.redshift-data", "FINISHED", out["run"]["id"])
