"""Scenario building blocks: the five functions as the contract (docs/CONTRACT.md) describes them.

Each fake returns exactly the fields of its contract type, so the ASL's ResultSelectors are
exercised on realistic payloads; a scenario overrides one function's behaviour at a time.
"""

from __future__ import annotations

from typing import Any, Callable

from harness import Handler, Reply, function_error, ok

FAILURE_KINDS = {
    "FAILED": "GlueRunFailed",
    "ERROR": "GlueRunError",
    "TIMEOUT": "GlueRunTimeout",
    "STOPPED": "GlueRunStopped",
    "EXPIRED": "GlueRunExpired",
}

REQUEST_INPUT = {
    "PrefixedTablename": "demo_master.orders",
    "SnapshotYN": "y",
    "DayPartitionKey": "o_orderdate",
    "DayPartitionValue": "1998-07-21",
}


def normalized_request(inp: dict) -> dict:
    schema, table = inp["PrefixedTablename"].lower().split(".")
    day = inp.get("SnapshotYN", "n").lower() == "y"
    key, value = inp.get("DayPartitionKey"), inp.get("DayPartitionValue")
    base = f"s3://lake-bucket/datalake/{schema}/parquet/{table}/"
    return {
        "table": f"{schema}.{table}",
        "schema": schema,
        "table_name": table,
        "scope": "day" if day else "full",
        "partition_key": key,
        "partition_value": value if day else None,
        "file_format": "parquet",
        "write_mode": "overwrite",
        "s3_path": "s3://lake-bucket/datalake",
        "target_uri": f"{base}{key}_key={value}/" if day else base,
        "glue_connection": "tpc-rs",
        "redshift_role_arn": None,
        "allow_empty_source": False,
        "job_name": f"{schema}.{table}_ExtractToDataLake",
        "engine": "glue",
        "catalog": None,
    }


def catalog_report(state: dict) -> dict:
    """register's answer for a first registration of the state's request."""
    return {**state["request"]["catalog"], "action": "created", "partitions_created": 1,
            "partitions_updated": 0, "partitions_unchanged": 0, "partitions_deleted": 0}


def run_status(
    *,
    state: str = "RUNNING",
    polls: int = 0,
    next_poll: int = 60,
    elapsed: int = 0,
    error_message: str | None = None,
) -> dict:
    outcome = "succeeded" if state == "SUCCEEDED" else "failed" if state in FAILURE_KINDS else "running"
    failure = None
    if state in FAILURE_KINDS:
        failure = {"Error": FAILURE_KINDS[state], "Cause": error_message or f"Glue run ended {state}"}
    return {
        "id": "jr_0123456789abcdef",
        "state": state,
        "outcome": outcome,
        "polls": polls,
        "next_poll_seconds": next_poll,
        "elapsed_seconds": elapsed,
        "execution_seconds": elapsed if outcome != "running" else 0,
        "attempt": 0,
        "started_on": "2026-11-25T22:00:00Z",
        "error_message": error_message,
        "failure": failure,
    }


def report_of(state: dict) -> dict:
    failed = "error" in state
    request = state.get("request") or {}
    run = state.get("run") or {}
    return {
        "outcome": "failed" if failed else "succeeded",
        "table": request.get("table"),
        "partition": (
            f"{request['partition_key']}={request['partition_value']}" if request.get("scope") == "day" else None
        ),
        "rows": None if failed else 415,
        "bytes": None if failed else 12345,
        "files": None if failed else 1,
        "duration_seconds": float(run["elapsed_seconds"]) if run else None,
        "run_id": run.get("id"),
        "error_type": state["error"]["Error"] if failed else None,
        "cause": state["error"]["Cause"] if failed else None,
        "stopped_run": None,
        "warnings": [],
        "metrics_published": 2 if failed else 12,
    }


def glue_run(final_state: str = "SUCCEEDED", polls: int = 1, waits: Callable[[int], int] | None = None,
             error_message: str | None = None) -> tuple[Handler, Handler]:
    """start-run and check-status for a run that is seen finished (final_state) at poll `polls`.

    `waits(k)` is the next_poll_seconds returned after poll k (k = 0 is start-run's answer).
    """
    waits = waits or (lambda k: 60)

    def start_run(state: dict, n: int) -> Reply:
        assert "request" in state and "job" in state, "start-run needs request and job"
        return ok(run_status(next_poll=waits(0)))

    def check_status(state: dict, n: int) -> Reply:
        prev = state["run"]
        k = prev["polls"] + 1
        elapsed = prev["elapsed_seconds"] + prev["next_poll_seconds"]
        if k >= polls:
            return ok(run_status(state=final_state, polls=k, next_poll=1, elapsed=elapsed,
                                 error_message=error_message))
        return ok(run_status(polls=k, next_poll=waits(k), elapsed=elapsed))

    return start_run, check_status


def happy(**overrides: Handler) -> dict[str, Handler]:
    """All six functions succeeding (the Glue run finishes at the first poll); override any."""
    start_run, check_status = glue_run()
    handlers: dict[str, Handler] = {
        "validate": lambda inp, n: ok(normalized_request(inp)),
        "ensure-job": lambda st, n: ok({"name": st["request"]["job_name"], "action": "created"}),
        "start-run": start_run,
        "check-status": check_status,
        "register": lambda st, n: ok(catalog_report(st)),
        "report": lambda st, n: ok(report_of(st)),
    }
    handlers.update(overrides)
    return handlers


def sequence(*replies: Reply | Callable[[Any, int], Reply]) -> Handler:
    """Answers call n with replies[n-1]; the last one repeats (callables get (payload, n))."""

    def handler(payload: Any, n: int) -> Reply:
        r = replies[min(n, len(replies)) - 1]
        return r(payload, n) if callable(r) else r

    return handler


def always(reply: Reply) -> Handler:
    return lambda payload, n: reply


def failing(kind: str, message: str = "") -> Handler:
    return always(function_error(kind, message))
