"""The real statemachine/unload.asl.json executed by moto, Lambda tasks played by a stub.

Each scenario asserts the final status, the path taken (state names from the execution history)
and what the report function received.
"""

from __future__ import annotations

import json

import pytest

import fakes
from fakes import REQUEST_INPUT, failing, glue_run, happy, normalized_request, sequence
from harness import crashed, function_error, ok, service_error, throttled, timed_out

HEAD = ["Prepare", "Validate", "EnsureJob", "StartRun"]
POLL = ["WaitForRun", "CheckStatus", "RunFinished?"]
END = ["ForgetWait", "RunOutcome?"]  # the run has ended: its wait token is deleted, then the outcome decides
HAPPY_PATH = HEAD + POLL + END + ["InCatalog?", "ReportSuccess", "Succeeded"]


def glue(final_state: str = "SUCCEEDED", polls: int = 1, **kw) -> dict:
    start_run, check_status = glue_run(final_state, polls, **kw)
    return {"start-run": start_run, "check-status": check_status}


def only_report(ex) -> dict:
    (payload,) = ex.payloads("report")
    return payload


def cause_of(error_type: str, message: str) -> str:
    """The Cause Step Functions gives a Lambda function error: the error JSON, compact."""
    return json.dumps({"errorType": error_type, "errorMessage": message}, separators=(",", ":"))


# ------------------------------------------------------------------ happy path


def test_happy_path_runs_every_step_once_and_reports_success(machine):
    ex = machine.run(happy(), REQUEST_INPUT)

    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.path == HAPPY_PATH
    assert ex.sequence() == ["validate", "ensure-job", "start-run", "check-status", "report"]
    # validate sees only the execution input; everyone else the whole state.
    assert ex.payloads("validate") == [REQUEST_INPUT]
    (ensure,) = ex.payloads("ensure-job")
    assert ensure["input"] == REQUEST_INPUT and ensure["request"] == normalized_request(REQUEST_INPUT)
    assert ensure["execution"]["id"] == ex.arn and ensure["execution"]["name"] == ex.name
    assert ensure["execution"]["started_at"].endswith("Z")
    (check,) = ex.payloads("check-status")
    assert check["run"]["outcome"] == "running" and check["job"]["action"] == "created"
    report = only_report(ex)
    assert set(report) == {"input", "execution", "request", "job", "run"}  # no error on success
    assert report["run"]["state"] == "SUCCEEDED"
    # The Wait took check-status's next_poll_seconds (start-run said 60); nothing was retried.
    assert ex.sleeps.waits == [60] and ex.sleeps.retries == []
    # The output is the whole state, with the report placed by ResultPath.
    assert ex.output["report"]["outcome"] == "succeeded" and ex.output["report"]["rows"] == 415
    assert set(ex.output) == {"input", "execution", "request", "job", "run", "report"}


# ------------------------------------------------------------------ the catalog


def catalog_request(inp: dict) -> dict:
    return {**normalized_request(inp), "catalog": {"database": "lake", "table": "demo_master__orders__parquet"}}


def test_a_request_with_a_catalog_table_is_registered_before_the_report(machine):
    ex = machine.run(happy(validate=lambda inp, n: ok(catalog_request(inp))), REQUEST_INPUT)

    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.path == HEAD + POLL + END + ["InCatalog?", "RegisterInCatalog", "ReportSuccess", "Succeeded"]
    (register,) = ex.payloads("register")
    assert register["request"]["catalog"]["table"] == "demo_master__orders__parquet"
    assert register["run"]["outcome"] == "succeeded"
    assert only_report(ex)["catalog"]["partitions_created"] == 1
    assert ex.output["catalog"]["action"] == "created"


def test_schema_drift_is_not_retried_and_fails_the_execution_after_the_failure_report(machine):
    drift = "catalog table lake.demo_master__orders__parquet no longer matches the unloaded data"
    ex = machine.run(happy(validate=lambda inp, n: ok(catalog_request(inp)),
                           register=failing("SchemaDrift", drift)), REQUEST_INPUT)

    assert (ex.status, ex.error) == ("FAILED", "SchemaDrift")
    assert ex.path == HEAD + POLL + END + ["InCatalog?", "RegisterInCatalog", "ReportFailure", "Failed"]
    assert len(ex.calls_to("register")) == 1 and ex.sleeps.retries == []
    assert only_report(ex)["error"]["Error"] == "SchemaDrift"


def test_a_request_without_a_catalog_table_is_never_registered(machine):
    ex = machine.run(happy(), REQUEST_INPUT)

    assert ex.status == "SUCCEEDED" and ex.calls_to("register") == []


def test_a_state_that_is_not_final_keeps_polling_with_the_returned_waits(machine):
    states = iter(["STARTING", "RUNNING", "STOPPING", "WAITING"])
    waits = {0: 30, 1: 45, 2: 90, 3: 120, 4: 7}

    def check_status(state, n):
        prev = state["run"]
        if n <= 4:
            return ok(fakes.run_status(state=next(states), polls=n, next_poll=waits[n]))
        return ok(fakes.run_status(state="SUCCEEDED", polls=n))

    ex = machine.run(happy(**{"start-run": lambda s, n: ok(fakes.run_status(next_poll=30)),
                                "check-status": check_status}), REQUEST_INPUT)
    assert ex.status == "SUCCEEDED"
    assert ex.path == HEAD + POLL * 5 + END + ["InCatalog?", "ReportSuccess", "Succeeded"]
    assert ex.sleeps.waits == [30, 45, 90, 120, 7]
    assert [p["run"]["polls"] for p in ex.payloads("check-status")] == [0, 1, 2, 3, 4]


# ------------------------------------------------------------------ Glue run failures


@pytest.mark.parametrize(
    "glue_state,kind",
    [("FAILED", "GlueRunFailed"), ("ERROR", "GlueRunError"), ("TIMEOUT", "GlueRunTimeout"),
     ("STOPPED", "GlueRunStopped"), ("EXPIRED", "GlueRunExpired")],
)
def test_a_failed_glue_run_is_reported_and_fails_the_execution(machine, glue_state, kind):
    message = f"Glue said {glue_state}: An error occurred while calling o92.pyWriteDynamicFrame"
    ex = machine.run(happy(**glue(glue_state, polls=2, error_message=message)), REQUEST_INPUT)

    assert (ex.status, ex.error, ex.cause) == ("FAILED", kind, message)
    assert ex.path == HEAD + POLL * 2 + END + ["RecordGlueFailure", "ReportFailure", "Failed"]
    report = only_report(ex)
    assert report["error"] == {"Error": kind, "Cause": message}
    assert report["run"]["state"] == glue_state and report["request"]["table"] == "demo_master.orders"
    assert ex.count("ExecutionFailed") == 1


# ------------------------------------------------------------------ retries


def test_concurrent_runs_exceeded_twice_then_the_run_starts(machine):
    start_run, check_status = glue_run()
    busy = function_error("ConcurrentRunsExceeded", "demo_master.orders_ExtractToDataLake: 1 run already")
    ex = machine.run(happy(**{"start-run": sequence(busy, busy, start_run), "check-status": check_status}),
                       REQUEST_INPUT)

    assert ex.status == "SUCCEEDED"
    assert ex.path == HAPPY_PATH  # a retry stays inside StartRun
    assert len(ex.calls_to("start-run")) == 3
    assert ex.sleeps.retries == [60, 90]  # the long backoff: 60 s, then x1.5
    assert "error" not in only_report(ex)


RETRYABLE = [
    # (function, kind, MaxAttempts from docs/CONTRACT.md)
    ("ensure-job", "GlueThrottled", 6),
    ("ensure-job", "GlueApiError", 3),
    ("ensure-job", "StorageError", 3),
    ("start-run", "ConcurrentRunsExceeded", 10),
    ("start-run", "GlueThrottled", 6),
    ("check-status", "GlueThrottled", 6),
    ("check-status", "GlueApiError", 3),
]


@pytest.mark.parametrize("function,kind,retries", RETRYABLE)
def test_retries_exhausted_end_in_the_failure_report(machine, function, kind, retries):
    ex = machine.run(happy(**{function: failing(kind, f"{kind} from {function}")}), REQUEST_INPUT)

    assert (ex.status, ex.error) == ("FAILED", kind)
    assert ex.cause == cause_of(kind, f"{kind} from {function}")
    assert len(ex.calls_to(function)) == 1 + retries
    assert len(ex.sleeps.retries) == retries
    task = {"ensure-job": "EnsureJob", "start-run": "StartRun", "check-status": "CheckStatus"}[function]
    assert ex.path[-3:] == [task, "ReportFailure", "Failed"]
    assert only_report(ex)["error"] == {"Error": kind, "Cause": cause_of(kind, f"{kind} from {function}")}
    if kind == "GlueThrottled":  # full jitter: anywhere between 0 and 2 s x 2^k
        assert all(0 <= s <= 2 * 2**k for k, s in enumerate(ex.sleeps.retries))
    if kind == "ConcurrentRunsExceeded":
        assert ex.sleeps.retries == pytest.approx([60 * 1.5**k for k in range(10)])


def test_lambda_throttled_then_success(machine):
    validate = sequence(throttled(), throttled(), lambda inp, n: ok(normalized_request(inp)))
    ex = machine.run(happy(validate=validate), REQUEST_INPUT)

    assert ex.status == "SUCCEEDED"
    assert ex.path == HAPPY_PATH
    assert [c.status for c in ex.calls_to("validate")] == [429, 429, 200]
    assert len(ex.sleeps.retries) == 2
    failed = [e["taskFailedEventDetails"]["error"] for e in ex.events if e["type"] == "TaskFailed"]
    assert failed == ["Lambda.TooManyRequestsException"] * 2


def test_lambda_5xx_is_retried_then_succeeds(machine):
    _, check_status = glue_run()
    ex = machine.run(happy(**{"check-status": sequence(service_error(), check_status)}), REQUEST_INPUT)

    assert ex.status == "SUCCEEDED"
    assert ex.path == HAPPY_PATH
    assert [c.status for c in ex.calls_to("check-status")] == [500, 200]
    failed = [e["taskFailedEventDetails"]["error"] for e in ex.events if e["type"] == "TaskFailed"]
    assert failed == ["Lambda.ServiceException"]


def test_lambda_5xx_every_time_gives_up_after_six_retries(machine):
    ex = machine.run(happy(**{"ensure-job": lambda s, n: service_error()}), REQUEST_INPUT)

    assert (ex.status, ex.error) == ("FAILED", "Lambda.ServiceException")
    assert len(ex.calls_to("ensure-job")) == 7
    assert ex.path == ["Prepare", "Validate", "EnsureJob", "ReportFailure", "Failed"]
    assert only_report(ex)["error"]["Error"] == "Lambda.ServiceException"


# ------------------------------------------------------------------ no retry


def test_invalid_request_is_not_retried_and_goes_straight_to_the_failure_report(machine):
    message = "PrefixedTablename: 'orders' is not <schema>.<table>"
    ex = machine.run(happy(validate=failing("InvalidRequest", message)), {"PrefixedTablename": "orders"})

    assert (ex.status, ex.error, ex.cause) == ("FAILED", "InvalidRequest", cause_of("InvalidRequest", message))
    assert ex.path == ["Prepare", "Validate", "ReportFailure", "Failed"]
    assert ex.sequence() == ["validate", "report"]
    assert ex.sleeps.retries == []
    report = only_report(ex)
    assert set(report) == {"input", "execution", "error"}  # the input and the error; no request
    assert report["input"] == {"PrefixedTablename": "orders"}
    assert report["error"] == {"Error": "InvalidRequest", "Cause": cause_of("InvalidRequest", message)}


@pytest.mark.parametrize(
    "function,kind",
    [("validate", "ConfigurationError"), ("ensure-job", "GlueScriptMissing"), ("ensure-job", "InvalidState"),
     ("start-run", "GlueJobNotFound"), ("check-status", "GlueRunNotFound")],
)
def test_other_permanent_errors_are_not_retried(machine, function, kind):
    ex = machine.run(happy(**{function: failing(kind)}), REQUEST_INPUT)

    assert (ex.status, ex.error) == ("FAILED", kind)
    assert len(ex.calls_to(function)) == 1 and ex.sleeps.retries == []
    assert ex.path[-2:] == ["ReportFailure", "Failed"]
    assert only_report(ex)["error"]["Error"] == kind


# ------------------------------------------------------------------ the report itself failing


def test_report_failing_after_a_glue_failure_still_fails_with_the_glue_error(machine):
    handlers = happy(**glue("FAILED", error_message="disk full"),
                     report=failing("MetricsPublishFailed", "PutMetricData: 503"))
    ex = machine.run(handlers, REQUEST_INPUT)

    # The execution's error is still what went wrong first, not the report's trouble.
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "GlueRunFailed", "disk full")
    assert ex.path == HEAD + POLL + END + ["RecordGlueFailure", "ReportFailure", "FailedReportIncomplete"]
    reports = ex.payloads("report")
    assert len(reports) == 4  # MetricsPublishFailed: 3 retries
    assert all(r["error"] == {"Error": "GlueRunFailed", "Cause": "disk full"} for r in reports)
    failed = [e for e in ex.events if e["type"] == "TaskFailed"]
    assert {e["taskFailedEventDetails"]["error"] for e in failed} == {"MetricsPublishFailed"}


def test_report_failing_on_the_success_path_becomes_a_failure_report(machine):
    def report(state, n):
        if "error" not in state:
            return function_error("ManifestMissing", "no _manifest.json under the target")
        return ok(fakes.report_of(state))

    ex = machine.run(happy(report=report), REQUEST_INPUT)

    assert (ex.status, ex.error) == ("FAILED", "ManifestMissing")
    assert ex.path == HEAD + POLL + END + ["InCatalog?", "ReportSuccess", "ReportFailure", "Failed"]
    first, second = ex.payloads("report")  # ManifestMissing is not retried
    assert "error" not in first
    assert second["error"]["Error"] == "ManifestMissing" and second["run"]["state"] == "SUCCEEDED"


def test_report_failing_twice_keeps_both_errors(machine):
    ex = machine.run(happy(report=failing("ManifestInvalid", "execution_id differs")), REQUEST_INPUT)

    assert (ex.status, ex.error) == ("FAILED", "ManifestInvalid")
    assert ex.path == HEAD + POLL + END + ["InCatalog?", "ReportSuccess", "ReportFailure", "FailedReportIncomplete"]
    assert len(ex.calls_to("report")) == 2


# ------------------------------------------------------------------ a function that times out or crashes


@pytest.mark.parametrize("died,error", [(timed_out, "Sandbox.Timedout"), (crashed, "Lambda.Unknown")])
@pytest.mark.parametrize("function", ["validate", "ensure-job", "start-run", "check-status", "report"])
def test_a_function_that_timed_out_or_crashed_once_is_run_again(machine, function, died, error):
    handlers = happy()
    handlers[function] = sequence(died(), handlers[function])
    ex = machine.run(handlers, REQUEST_INPUT)

    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.path == HAPPY_PATH
    assert len(ex.calls_to(function)) == 2
    failed = [e["taskFailedEventDetails"]["error"] for e in ex.events if e["type"] == "TaskFailed"]
    assert failed == [error]


def test_a_function_that_always_times_out_gives_up_after_two_retries(machine):
    ex = machine.run(happy(**{"check-status": lambda s, n: timed_out()}), REQUEST_INPUT)

    assert (ex.status, ex.error) == ("FAILED", "Sandbox.Timedout")
    assert len(ex.calls_to("check-status")) == 3
    assert ex.path == HEAD + ["WaitForRun", "CheckStatus", "ReportFailure", "Failed"]


def test_report_out_of_time_is_retried_and_an_uncertain_publish_is_not(machine):
    def report(state, n):
        return function_error("ReportOutOfTime", "3 ms left") if n == 1 else ok(fakes.report_of(state))

    ex = machine.run(happy(report=report), REQUEST_INPUT)
    assert ex.status == "SUCCEEDED" and len(ex.calls_to("report")) == 2

    uncertain = failing("MetricsPublishUncertain", "PutMetricData: no answer")
    ex = machine.run(happy(report=uncertain), REQUEST_INPUT)
    assert (ex.status, ex.error) == ("FAILED", "MetricsPublishUncertain")
    assert len(ex.calls_to("report")) == 2  # ReportSuccess once, ReportFailure once: never repeated


def test_an_unknown_outcome_fails_loudly_instead_of_polling(machine):
    def check_status(state, n):
        return ok(dict(fakes.run_status(polls=n), outcome="paused"))

    ex = machine.run(happy(**{"check-status": check_status}), REQUEST_INPUT)

    assert (ex.status, ex.error) == ("FAILED", "UnknownRunOutcome")
    assert "paused" in ex.cause and "jr_0123456789abcdef" in ex.cause
    assert ex.path == HEAD + POLL + END + ["RecordUnknownOutcome", "ReportFailure", "Failed"]
    assert len(ex.calls_to("check-status")) == 1


def test_the_cause_is_the_one_report_returns(machine):
    def report(state, n):
        body = fakes.report_of(state)
        if "error" in state:
            body.update(cause="boom; the Glue run jr_1 was still going and has been asked to stop", stopped_run="jr_1")
        return ok(body)

    ex = machine.run(happy(**{"check-status": failing("GlueApiError", "boom")}, report=report), REQUEST_INPUT)
    assert (ex.status, ex.error) == ("FAILED", "GlueApiError")
    assert ex.cause == "boom; the Glue run jr_1 was still going and has been asked to stop"


# ------------------------------------------------------------------ a long run


def test_a_long_run_of_300_polls(machine):
    def waits(k):  # a growing wait, capped, as check-status's policy does
        return min(30 + 12 * k, 900)

    ex = machine.run(happy(**glue(polls=300, waits=waits)), REQUEST_INPUT)

    assert ex.status == "SUCCEEDED"
    assert ex.path == HEAD + POLL * 300 + END + ["InCatalog?", "ReportSuccess", "Succeeded"]
    assert len(ex.calls_to("check-status")) == 300
    assert ex.sleeps.waits == [waits(k) for k in range(300)]
    report = only_report(ex)
    assert report["run"]["polls"] == 300 and report["run"]["elapsed_seconds"] == sum(ex.sleeps.waits)
    # Each poll costs 13 history events (the callback wait 6: entered, scheduled, started, submitted,
    # timed out, exited; CheckStatus 5; the Choice 2), and ForgetWait and RunOutcome? 7 once: far
    # below the 25,000 limit.
    assert len(ex.events) == 13 * 300 + 35


# ------------------------------------------------------------------ the callback wait (events + polling)

RUN_ID = "jr_0123456789abcdef"  # fakes.run_status's run id
TOKEN_KEY = f"tmp/waits/{RUN_ID}"  # LOCAL_SUBSTITUTIONS' WaitPrefix / the run id
WAKE = json.dumps({"wake": "Glue Job State Change", "state": "SUCCEEDED"})


class Clocked:
    """A run that ends at `run_seconds` on a simulated clock, which every wait advances.

    check-status answers RUNNING (next wait `waits(k)`) until the clock reaches the end, then
    SUCCEEDED. With `event_delay` set, the completion event arrives that long after the end: a
    callback wait that spans the arrival is woken then (the clock stops there), any other times out.
    """

    def __init__(self, run_seconds: int, waits=lambda k: 60, event_delay: int | None = None):
        self.run_seconds, self.waits, self.event_delay = run_seconds, waits, event_delay
        self.now = 0
        self.seen_at: int | None = None  # the clock when a poll first saw the run ended

    def on_wait(self, seconds: int) -> None:
        self.now += seconds

    def on_callback(self, seconds: int) -> str | None:
        if self.event_delay is None:
            return None
        began, arrival = self.now - seconds, self.run_seconds + self.event_delay
        if began < arrival <= self.now:  # the event lands inside this wait: it ends the wait then
            self.now = arrival
            return WAKE
        return None

    def handlers(self, **overrides) -> dict:
        def start_run(state, n):
            return ok(fakes.run_status(next_poll=self.waits(0)))

        def check_status(state, n):
            if self.now >= self.run_seconds:
                if self.seen_at is None:
                    self.seen_at = self.now
                return ok(fakes.run_status(state="SUCCEEDED", polls=n, next_poll=1, elapsed=self.now))
            return ok(fakes.run_status(polls=n, next_poll=self.waits(n), elapsed=self.now))

        return happy(**{"start-run": start_run, "check-status": check_status}, **overrides)

    def run(self, machine, **kw):
        return machine.run(self.handlers(), REQUEST_INPUT, on_wait=self.on_wait,
                           on_callback=self.on_callback if self.event_delay is not None else None, **kw)


def wait_outcomes(ex) -> list[str]:
    """How each WaitForRun ended: TaskSucceeded (woken), TaskTimedOut, TaskFailed."""
    out, inside = [], False
    for e in ex.events:
        if e["type"] == "TaskStateEntered":
            inside = e["stateEnteredEventDetails"]["name"] == "WaitForRun"
        elif inside and e["type"] in ("TaskSucceeded", "TaskTimedOut", "TaskFailed"):
            out.append(e["type"])
            inside = False
    return out


def test_the_completion_event_ends_the_wait_and_the_next_poll_sees_the_run_ended(machine):
    # Polls every 10 minutes; the run ends 25 minutes in, the event 2 s later, inside the third wait.
    events = Clocked(1500, waits=lambda k: 600, event_delay=2)
    ex = events.run(machine)

    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.path == HEAD + POLL * 3 + END + ["InCatalog?", "ReportSuccess", "Succeeded"]
    assert wait_outcomes(ex) == ["TaskTimedOut", "TaskTimedOut", "TaskSucceeded"]
    assert ex.sleeps.callbacks == [(600, False), (600, False), (600, True)] and ex.sleeps.woken == 1
    # Noticed at the poll the event triggered, 2 s after the end instead of at the wait's end.
    assert events.seen_at == 1502
    assert len(ex.calls_to("check-status")) == 3
    # The wake message is thrown away (ResultPath null): CheckStatus gets the state as it was.
    last = ex.payloads("check-status")[-1]
    assert "wake" not in json.dumps(last) and last["run"]["polls"] == 2

    polling = Clocked(1500, waits=lambda k: 600).run(machine)
    assert polling.status == "SUCCEEDED"
    assert wait_outcomes(polling) == ["TaskTimedOut"] * 3
    # The same polls (the event only ends the wait that spans the end), noticed 5 minutes later.
    assert len(polling.calls_to("check-status")) == 3 and polling.sleeps.woken == 0
    assert polling.sleeps.waits == ex.sleeps.waits == [600, 600, 600]


def test_an_event_due_after_the_wait_times_out_changes_nothing(machine):
    # The run ends 1 s before the second wait's end: the timeout comes first, the poll sees it.
    clocked = Clocked(1199, waits=lambda k: 600, event_delay=2)
    ex = clocked.run(machine)

    assert ex.status == "SUCCEEDED"
    assert wait_outcomes(ex) == ["TaskTimedOut", "TaskTimedOut"] and ex.sleeps.woken == 0
    assert clocked.seen_at == 1200 and len(ex.calls_to("check-status")) == 2


def test_without_an_event_every_wait_times_out_and_the_workflow_polls_as_before(machine):
    ex = machine.run(happy(**glue(polls=4, waits=lambda k: [30, 45, 90, 120][k])), REQUEST_INPUT,
                     on_callback=lambda seconds: None)

    assert ex.status == "SUCCEEDED"
    assert ex.path == HEAD + POLL * 4 + END + ["InCatalog?", "ReportSuccess", "Succeeded"]
    # Each wait's timeout is check-status's next_poll_seconds, and each ended in States.Timeout.
    assert ex.sleeps.waits == [30, 45, 90, 120]
    assert ex.sleeps.callbacks == [(30, False), (45, False), (90, False), (120, False)]
    assert wait_outcomes(ex) == ["TaskTimedOut"] * 4
    timed_out_errors = {e["taskTimedOutEventDetails"]["error"] for e in ex.events if e["type"] == "TaskTimedOut"}
    assert timed_out_errors == {"States.Timeout"}
    assert ex.count("TaskFailed") == 0 and ex.sleeps.retries == []


def test_the_token_is_left_beside_the_run_while_waiting_and_deleted_when_the_run_ends(machine):
    seen: list[tuple[str, str | None]] = []

    def on_callback(seconds):  # runs while the execution is inside WaitForRun
        obj = machine.s3.get_object(Bucket="artifacts", Key=TOKEN_KEY)
        seen.append((obj["Body"].read().decode(), obj.get("ContentType")))
        return WAKE if len(seen) == 3 else None

    ex = machine.run(happy(**glue(polls=3)), REQUEST_INPUT, on_callback=on_callback)

    assert ex.status == "SUCCEEDED"
    # Each wait wrote its own task token ($$.Task.Token) as the body, at <WaitPrefix>/<run id>.
    assert [body for body, _ in seen] == ex.sleeps.tokens and len(set(ex.sleeps.tokens)) == 3
    assert all(ct == "text/plain" for _, ct in seen)
    submitted = [json.loads(e["taskSubmittedEventDetails"]["output"]) for e in ex.events if e["type"] == "TaskSubmitted"]
    assert len(submitted) == 3  # the putObject answered each time
    # ForgetWait deleted it once the run had ended; nothing else is left under the prefix.
    assert "ForgetWait" in ex.path
    assert machine.s3.list_objects_v2(Bucket="artifacts", Prefix="tmp/waits/").get("KeyCount") == 0
    forget = [e for e in ex.events if e["type"] == "TaskSucceeded"
              and e["taskSucceededEventDetails"]["resource"] == "deleteObject"]
    assert len(forget) == 1


def test_when_the_token_cannot_be_stored_the_workflow_waits_by_polling_and_succeeds(machine):
    from harness import local_definition

    ex = machine.run(happy(**glue(polls=2, waits=lambda k: [40, 70][k])), REQUEST_INPUT,
                     on_callback=lambda seconds: WAKE,  # never asked: no wait was registered
                     definition=local_definition(WaitBucket="no-such-bucket"))

    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.path == HEAD + ["WaitForRun", "WaitByPolling", "CheckStatus", "RunFinished?"] * 2 + END + [
        "InCatalog?", "ReportSuccess", "Succeeded"]
    assert ex.sleeps.waits == [40, 70] and ex.sleeps.callbacks == []  # plain Waits of the same seconds
    failed = [(e["taskFailedEventDetails"]["resource"], e["taskFailedEventDetails"]["error"])
              for e in ex.events if e["type"] == "TaskFailed"]
    # The puts failed, and so did ForgetWait's delete, which is caught as well.
    assert failed == [("putObject.waitForTaskToken", "s3.NoSuchBucketException")] * 2 + [
        ("deleteObject", "s3.NoSuchBucketException")]
    assert only_report(ex)["run"]["state"] == "SUCCEEDED" and "error" not in only_report(ex)


def test_a_48_hour_run_whose_events_are_all_dropped_stays_far_below_the_history_limit(machine):
    # The event never comes: every wait times out (the safety net), with a growing wait capped at
    # 15 minutes, as check-status's policy does.
    clocked = Clocked(48 * 3600, waits=lambda k: min(30 + 12 * k, 900), event_delay=None)
    ex = clocked.run(machine, timeout=600)

    assert ex.status == "SUCCEEDED"
    polls = len(ex.calls_to("check-status"))
    assert ex.sleeps.woken == 0 and len(ex.sleeps.callbacks) == polls
    assert clocked.seen_at - 48 * 3600 < 900
    assert len(ex.events) == 13 * polls + 35
    assert len(ex.events) < 5_000 < 25_000


def test_a_token_is_spent_once_its_wait_has_ended_as_aws_answers(machine):
    # A duplicated or late event must not complete anything: AWS answers SendTaskSuccess for a
    # closed task with TaskTimedOut (the twin is taught so: local/moto_patches.py spent_task_tokens).
    tokens: list[str] = []
    answers: list[str] = []

    def on_callback(seconds):  # inside WaitForRun: its token is the object's body
        tokens.append(machine.s3.get_object(Bucket="artifacts", Key=TOKEN_KEY)["Body"].read().decode())
        if len(tokens) == 1:
            return WAKE  # the first wait is woken by its event (the poll still finds the run going)
        for spent in tokens[:-1]:  # the woken first token, then the timed-out second one
            try:
                machine.sfn.send_task_success(taskToken=spent, output="{}")
                answers.append("accepted")
            except machine.sfn.exceptions.TaskTimedOut:
                answers.append("TaskTimedOut")
            except Exception as err:  # noqa: BLE001 (recorded for the assertion below)
                answers.append(repr(err))
        return None

    ex = machine.run(happy(**glue(polls=3)), REQUEST_INPUT, on_callback=on_callback)

    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert wait_outcomes(ex) == ["TaskSucceeded", "TaskTimedOut", "TaskTimedOut"]
    assert answers == ["TaskTimedOut", "TaskTimedOut", "TaskTimedOut"]
