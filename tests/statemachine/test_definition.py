"""Static checks of statemachine/unload.asl.json against docs/CONTRACT.md.

The executed scenarios (test_scenarios.py) show the machine behaves; these show it says what the
contract says: the same state table, the same field lists, the same retry policy per error kind.
"""

from __future__ import annotations

import re

import pytest

from harness import (CONTRACT_PATH, LAMBDA_SERVICE_ERRORS, LOCAL_SUBSTITUTIONS, asl_text, contract_fields,
                     local_definition, placeholders)

# What a function that timed out or crashed surfaces as.
FUNCTION_DIED = ["Lambda.Unknown", "Sandbox.Timedout"]
FUNCTION_ARN_PLACEHOLDER = {
    "validate": "ValidateFunctionArn",
    "ensure-job": "EnsureJobFunctionArn",
    "start-run": "StartRunFunctionArn",
    "check-status": "CheckStatusFunctionArn",
    "report": "ReportFunctionArn",
    "register": "RegisterFunctionArn",
}
CONTRACT = CONTRACT_PATH.read_text(encoding="utf-8")
ASL = local_definition()
STATES = ASL["States"]
TASKS = {name: s for name, s in STATES.items() if s["Type"] == "Task" and s["Resource"].endswith(":lambda:invoke")}
S3_TASKS = {"WaitForRun", "ForgetWait"}  # the callback wait's token object: no Lambda, never fails the execution


def raw_states() -> dict:
    """The unsubstituted definition's states (to see which placeholder each task names)."""
    import json

    text = re.sub(r":\s*\$\{ExecutionTimeoutSeconds\}", ": 1", asl_text())
    return json.loads(text)["States"]


def contract_table(heading: str) -> list[list[str]]:
    """Rows of the first markdown table after `heading` (cells stripped)."""
    start = CONTRACT.index(heading)
    rows = []
    for line in CONTRACT[start:].splitlines()[1:]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header row


def ticked(cell: str) -> str:
    """The first `code` span of a cell."""
    m = re.search(r"`([^`]*)`", cell)
    return m.group(1) if m else cell


STATE_TABLE = {row[0]: row for row in contract_table("## The state")}


# ------------------------------------------------------------------ the state table


def test_states_are_the_contracts_states():
    in_table = set(STATE_TABLE)
    # The table names the Succeed state only as ReportSuccess's target ("→ Succeeded").
    assert set(STATES) == in_table | {"Succeeded"}
    assert ASL["StartAt"] == "Prepare"


def test_the_lambda_tasks_and_the_s3_tasks_are_all_the_tasks():
    assert set(TASKS) | S3_TASKS == {n for n, s in STATES.items() if s["Type"] == "Task"}
    assert set(TASKS) == {n for n, row in STATE_TABLE.items() if row[1] == "Task" and row[2] != "-"}
    assert S3_TASKS == {n for n, row in STATE_TABLE.items() if row[1] == "Task" and row[2] == "-"}


@pytest.mark.parametrize("name", sorted(n for n, row in STATE_TABLE.items() if row[1] == "Task" and row[2] != "-"))
def test_task_calls_the_function_with_the_payload_and_result_path_of_the_table(name):
    _, kind, function, payload, result = STATE_TABLE[name]
    task = STATES[name]
    assert task["Type"] == "Task"
    assert task["Resource"] == "arn:aws:states:::lambda:invoke"
    assert raw_states()[name]["Resource"] == "arn:${Partition}:states:::lambda:invoke"
    assert raw_states()[name]["Parameters"]["FunctionName"] == "${%s}" % FUNCTION_ARN_PLACEHOLDER[function]
    assert task["Parameters"] == {"FunctionName": LOCAL_SUBSTITUTIONS[FUNCTION_ARN_PLACEHOLDER[function]],
                                  "Payload.$": ticked(payload)}
    assert task["ResultPath"] == ticked(result)
    if "→" in result:
        assert task["Next"] == result.split("→")[1].strip()


def test_prepare_keeps_the_input_and_names_the_execution():
    prepare = STATES["Prepare"]
    assert prepare["Type"] == "Pass"
    assert prepare["Parameters"] == {
        "input.$": "$",
        "execution": {"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "started_at.$": "$$.Execution.StartTime"},
    }


def test_the_wait_is_a_callback_with_the_poll_interval_as_its_timeout():
    wait = STATES["WaitForRun"]
    assert wait["Resource"] == "arn:aws:states:::aws-sdk:s3:putObject.waitForTaskToken"
    assert raw_states()["WaitForRun"]["Resource"] == "arn:${Partition}:states:::aws-sdk:s3:putObject.waitForTaskToken"
    assert wait["TimeoutSecondsPath"] == ticked(STATE_TABLE["WaitForRun"][4]) == "$.run.next_poll_seconds"
    assert "TimeoutSeconds" not in wait and "HeartbeatSeconds" not in wait
    # The token, as the body of <WaitPrefix>/<run id> in the wait bucket; the result is thrown away.
    assert raw_states()["WaitForRun"]["Parameters"] == {
        "Bucket": "${WaitBucket}",
        "Key.$": "States.Format('${WaitPrefix}/{}', $.run.id)",
        "Body.$": "$$.Task.Token",
        "ContentType": "text/plain",
    }
    assert wait["ResultPath"] is None and wait["Next"] == "CheckStatus" and "Retry" not in wait
    # Timed out (no event): poll now. Anything else (S3 refused the token): wait without the fast path.
    assert [(c["ErrorEquals"], c["ResultPath"], c["Next"]) for c in wait["Catch"]] == [
        (["States.Timeout"], None, "CheckStatus"),
        (["States.ALL"], None, "WaitByPolling"),
    ]
    plain = STATES["WaitByPolling"]
    assert (plain["Type"], plain["SecondsPath"], plain["Next"]) == ("Wait", "$.run.next_poll_seconds", "CheckStatus")
    assert ticked(STATE_TABLE["WaitByPolling"][4]) == "$.run.next_poll_seconds"


def test_the_token_object_is_deleted_once_the_run_has_ended_and_a_failure_there_is_ignored():
    forget = STATES["ForgetWait"]
    assert forget["Resource"] == "arn:aws:states:::aws-sdk:s3:deleteObject"
    assert raw_states()["ForgetWait"]["Parameters"] == {
        "Bucket": "${WaitBucket}",
        "Key.$": "States.Format('${WaitPrefix}/{}', $.run.id)",
    }
    assert (forget["ResultPath"], forget["Next"]) == (None, "RunOutcome?")
    assert [(c["ErrorEquals"], c["ResultPath"], c["Next"]) for c in forget["Catch"]] == [
        (["States.ALL"], None, "RunOutcome?")
    ]


def test_wait_choice_and_fail_follow_the_table():
    finished = STATES["RunFinished?"]
    assert [(c["Variable"], c["StringEquals"], c["Next"]) for c in finished["Choices"]] == [
        ("$.run.outcome", "running", "WaitForRun")
    ]
    assert finished["Default"] == "ForgetWait"
    choice = STATES["RunOutcome?"]
    routes = {c["StringEquals"]: c["Next"] for c in choice["Choices"]}
    assert all(c["Variable"] == "$.run.outcome" for c in choice["Choices"])
    assert routes == {"succeeded": "InCatalog?", "failed": "RecordGlueFailure"}
    assert choice["Default"] == "RecordUnknownOutcome"
    # The contract's table says the same.
    for name, state in (("RunFinished?", finished), ("RunOutcome?", choice)):
        cell = STATE_TABLE[name][4]
        assert dict(re.findall(r'"(\w+)" → ([\w?]+)', cell)) == {c["StringEquals"]: c["Next"] for c in state["Choices"]}
        assert re.search(r"else → ([\w?]+)", cell).group(1) == state["Default"]
    unknown = STATES["RecordUnknownOutcome"]
    assert unknown["Parameters"]["Error"] == "UnknownRunOutcome"
    assert (unknown["ResultPath"], unknown["Next"]) == ("$.error", "ReportFailure")
    record = STATES["RecordGlueFailure"]
    assert record["Parameters"] == {"Error.$": "$.run.failure.Error", "Cause.$": "$.run.failure.Cause"}
    assert (record["ResultPath"], record["Next"]) == ("$.error", "ReportFailure")
    fail = STATES["Failed"]
    assert (fail["Type"], fail["ErrorPath"], fail["CausePath"]) == ("Fail", "$.error.Error", "$.report.cause")
    bare = STATES["FailedReportIncomplete"]
    assert (bare["Type"], bare["ErrorPath"], bare["CausePath"]) == ("Fail", "$.error.Error", "$.error.Cause")
    assert STATES["Succeeded"]["Type"] == "Succeed"


def test_overall_timeout_is_a_substitution():
    assert re.search(r'"TimeoutSeconds":\s*\$\{ExecutionTimeoutSeconds\}', asl_text())
    assert ASL["TimeoutSeconds"] == int(LOCAL_SUBSTITUTIONS["ExecutionTimeoutSeconds"])
    assert placeholders(asl_text()) == set(LOCAL_SUBSTITUTIONS)


def test_every_state_has_a_comment_and_every_next_exists():
    for name, state in STATES.items():
        assert state.get("Comment"), f"{name} has no Comment"
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
        for t in filter(None, targets):
            assert t in STATES, f"{name} → {t} is not a state"


# ------------------------------------------------------------------ field lists


RESULTS = {
    "Validate": "NormalizedRequest",
    "EnsureJob": "job",
    "StartRun": "RunStatus",
    "CheckStatus": "RunStatus",
    "RegisterInCatalog": "CatalogReport",
    "ReportSuccess": "Report",
    "ReportFailure": "Report",
}


def contract_job_fields() -> list[str]:
    m = re.search(r'"job":\s*\{([^}]*)\}', CONTRACT)
    assert m, "no job example in CONTRACT.md"
    return re.findall(r'"(\w+)"\s*:', m.group(1))


def expected_fields(kind: str) -> list[str]:
    if kind == "job":
        return contract_job_fields()
    return contract_fields(f"{kind} (" if kind != "Report" else "Report (")


def test_contract_examples_are_read():
    # Guard the scanner: a silently empty list would make the next test pass vacuously.
    assert contract_fields("NormalizedRequest (")[:3] == ["table", "schema", "table_name"]
    assert "failure" in contract_fields("RunStatus (") and "Error" not in contract_fields("RunStatus (")
    assert contract_fields("Report (")[-1] == "metrics_published"
    assert contract_job_fields() == ["name", "action"]


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_result_selector_lists_exactly_the_contract_fields(name):
    selector = STATES[name]["ResultSelector"]
    fields = expected_fields(RESULTS[name])
    assert [k.removesuffix(".$") for k in selector] == fields
    assert selector == {f"{f}.$": f"$.Payload.{f}" for f in fields}


# ------------------------------------------------------------------ retry and catch


def retry_policy() -> dict[str, str]:
    """kind → the contract's 'retry in the ASL' cell. The kind column is the code's own list:
    unload-core's error.rs checks it against UnloadError::KINDS."""
    return {row[0]: row[2] for row in contract_table("## Error kinds")}


def raisers() -> dict[str, set[str]]:
    """kind → the functions that raise it, from the contract's 'raised by' column."""
    glue = {"ensure-job", "start-run", "check-status", "register"}
    out = {}
    for kind, raised_by, _ in contract_table("## Error kinds"):
        if raised_by.startswith("any Glue call"):
            out[kind] = glue
        elif raised_by.startswith("any"):
            out[kind] = set(FUNCTION_ARN_PLACEHOLDER)
        else:
            out[kind] = {f for f in FUNCTION_ARN_PLACEHOLDER if re.search(rf"(^|[ ,]){f}\b", raised_by)}
    return out


def function_of(task_name: str) -> str:
    return STATE_TABLE[task_name][2]


def test_error_kinds_table_is_read():
    policy = retry_policy()
    assert len(policy) == 21 and policy["InvalidRequest"] == "never"
    assert raisers()["ConcurrentRunsExceeded"] == {"start-run"}
    assert raisers()["StorageError"] == {"ensure-job", "report", "register", "check-status"}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_retries_lambda_service_errors_first(name):
    first = TASKS[name]["Retry"][0]
    assert first["ErrorEquals"] == LAMBDA_SERVICE_ERRORS
    assert first["MaxAttempts"] >= 3 and first["BackoffRate"] >= 2


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_retries_a_timed_out_or_crashed_function_a_bounded_number_of_times(name):
    # Every task is safe to repeat (docs/CONTRACT.md, "Error kinds"); the bound keeps a function
    # that always times out from looping.
    died = TASKS[name]["Retry"][1]
    assert died["ErrorEquals"] == FUNCTION_DIED
    assert 1 <= died["MaxAttempts"] <= 3


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_retries_exactly_its_retryable_kinds_as_the_contract_says(name):
    policy, raised = retry_policy(), raisers()
    retriers = {e: r for r in TASKS[name]["Retry"][2:] for e in r["ErrorEquals"]}
    for r in TASKS[name]["Retry"][2:]:
        assert len(r["ErrorEquals"]) == 1, "one kind per retrier: each keeps its own attempt count"
    wanted = {k for k, p in policy.items() if p.startswith("yes") and function_of(name) in raised[k]}
    assert set(retriers) == wanted
    for kind, r in retriers.items():
        cell = policy[kind]
        attempts = int(re.search(r"(\d+) attempts", cell).group(1))
        assert r["MaxAttempts"] == attempts, kind
        if m := re.search(r"\((\d+) s, x([\d.]+)", cell):
            assert (r["IntervalSeconds"], r["BackoffRate"]) == (int(m.group(1)), float(m.group(2))), kind
        assert r.get("JitterStrategy", "NONE") == ("FULL" if "jitter" in cell else "NONE"), kind


def test_never_retried_kinds_and_states_all_are_in_no_retrier():
    never = {k for k, p in retry_policy().items() if p == "never"}
    assert "InvalidRequest" in never
    for name, task in TASKS.items():
        for r in task["Retry"]:
            assert not never & set(r["ErrorEquals"]), name
            assert not {"States.ALL", "States.TaskFailed"} & set(r["ErrorEquals"]), name


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_catches_everything_into_the_failure_report(name):
    (catch,) = TASKS[name]["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    if name == "ReportFailure":
        assert (catch["Next"], catch["ResultPath"]) == ("FailedReportIncomplete", "$.report_error")
    else:
        assert (catch["Next"], catch["ResultPath"]) == ("ReportFailure", "$.error")
