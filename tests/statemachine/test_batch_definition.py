"""statemachine/batch.asl.json: its shape, and its wiring executed on moto (in-process) with
stubbed plan and summarize functions and a small child state machine standing in for the unload
workflow. The real functions and the real unload workflow run in tests/e2e/test_batch.py."""
from __future__ import annotations

import json
import time
import uuid

import pytest

from harness import ACCOUNT, LAMBDA_SERVICE_ERRORS, REGION, ROOT, ok, placeholders, substitute

BATCH_ASL = (ROOT / "statemachine" / "batch.asl.json").read_text(encoding="utf-8")
# A child that fails when its input says so, and succeeds with the unload workflow's report shape.
CHILD = {
    "StartAt": "Fails?",
    "States": {
        "Fails?": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Failed"}],
                   "Default": "Done"},
        "Done": {"Type": "Pass", "Result": {"report": {"rows": 7}}, "End": True},
        "Failed": {"Type": "Fail", "Error": "UnloadStatementFailed", "Cause": "relation does not exist"},
    },
}


def definition(child_arn: str) -> dict:
    return json.loads(substitute(BATCH_ASL, {
        "Partition": "aws", "BatchMaxConcurrency": "2", "UnloadStateMachineArn": child_arn,
        "PlanFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:plan",
        "SummarizeFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:summarize"}))


STATES = definition("arn:child")["States"]
TASKS = {n: s for n, s in STATES.items() if s["Type"] == "Task"}
ITERATION = STATES["RunItems"]["ItemProcessor"]["States"]


def test_placeholders_are_the_templates_substitutions():
    assert placeholders(BATCH_ASL) == {"Partition", "BatchMaxConcurrency", "UnloadStateMachineArn",
                                       "PlanFunctionArn", "SummarizeFunctionArn"}


def test_every_state_has_a_comment_and_every_next_exists():
    for states in (STATES, ITERATION):
        for name, state in states.items():
            assert state.get("Comment"), name
            targets = [state.get("Next"), state.get("Default")] + [c["Next"] for c in state.get("Choices", [])]
            targets += [c["Next"] for c in state.get("Catch", [])]
            assert all(t in states for t in targets if t), name


@pytest.mark.parametrize("name", sorted(TASKS))
def test_the_functions_retry_lambda_service_errors_then_a_died_function(name):
    retry = TASKS[name]["Retry"]
    assert retry[0]["ErrorEquals"] == LAMBDA_SERVICE_ERRORS
    assert retry[1]["ErrorEquals"] == ["Lambda.Unknown", "Sandbox.Timedout"] and retry[1]["MaxAttempts"] <= 2
    for retrier in retry[2:]:
        assert len(retrier["ErrorEquals"]) == 1, "one kind per retrier: each keeps its own attempt count"
        assert retrier["ErrorEquals"][0] in {"StorageError", "StepFunctionsError", "MetricsPublishFailed"}


def test_a_child_is_started_under_the_plans_name_and_never_fails_its_iteration():
    run = ITERATION["RunChild"]
    assert run["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert run["Parameters"] == {"StateMachineArn": "arn:child", "Name.$": "$.name", "Input.$": "$.input"}
    # States.TaskFailed would also catch StartExecution's own errors (in a Catch it matches every
    # error but States.Timeout), so everything is caught and told apart by the error's name.
    assert run["Catch"] == [{"Comment": run["Catch"][0]["Comment"], "ErrorEquals": ["States.ALL"],
                             "ResultPath": "$.failure", "Next": "ChildRan?"}]
    retried = {e for r in run["Retry"] for e in r["ErrorEquals"]}
    assert "StepFunctions.ExecutionLimitExceeded" in retried and not {"States.ALL", "States.TaskFailed"} & retried
    assert all(ITERATION[s].get("End") for s in ("Ran", "NotStarted", "Skipped", "Invalid"))
    assert STATES["RunItems"]["MaxConcurrency"] == 2


# --------------------------------------------------------------------------- executed on moto


@pytest.fixture(scope="module")
def batch(machine):
    sfn, role = machine.sfn, f"arn:aws:iam::{ACCOUNT}:role/batch"
    child = sfn.create_state_machine(name="child", definition=json.dumps(CHILD), roleArn=role)["stateMachineArn"]
    arn = sfn.create_state_machine(name="batch", definition=json.dumps(definition(child)), roleArn=role)["stateMachineArn"]
    return machine, child, arn


def run_batch(machine, arn: str, handlers: dict) -> dict:
    machine.stub.reset(handlers)
    execution = machine.sfn.start_execution(stateMachineArn=arn, name=f"batch-{uuid.uuid4().hex[:8]}",
                                            input=json.dumps({"Tables": []}))["executionArn"]
    deadline = time.monotonic() + 60
    while (d := machine.sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the batch did not end"
        time.sleep(0.05)
    return d


def item(index: int, action: str, name: str | None = None, child_input: dict | None = None) -> dict:
    return {"index": index, "table": f"s.t{index}", "scope": "2026-12-01", "action": action, "name": name,
            "input": child_input, "error": None}


def test_each_item_ends_in_a_small_result_and_a_start_that_fails_is_not_a_child(batch):
    machine, child, arn = batch
    # An execution with the name the plan gives item 4, started earlier with another input:
    # StartExecution answers ExecutionAlreadyExists, so no child of item 4 runs in this batch.
    machine.sfn.start_execution(stateMachineArn=child, name="taken", input=json.dumps({"fail": False, "other": 1}))
    plan = {"name": "b", "day": "2026-12-01", "counts": {}, "tolerance": {},
            "items": [
        item(0, "start", "ok-0", {"fail": False}), item(1, "start", "bad-1", {"fail": True}),
        item(2, "skip", "done-2"), item(3, "invalid"), item(4, "start", "taken", {"fail": False})]}
    seen = {}

    def summarize(payload, n):
        seen["payload"] = payload
        return ok({"summary": {"tolerated": False}, "cause": "{\"failed\": 3}"})

    result = run_batch(machine, arn, {"plan": lambda p, n: ok(plan), "summarize": summarize})

    assert (result["status"], result["error"], result["cause"]) == ("FAILED", "BatchFailed", "{\"failed\": 3}")
    results = seen["payload"]["results"]
    assert [(r["index"], r["status"]) for r in results] == [
        (0, "RAN"), (1, "RAN"), (2, "SKIPPED"), (3, "INVALID"), (4, "NOT_STARTED")]
    assert results[4]["error"].startswith("StepFunctions.ExecutionAlreadyExists"), results[4]
    assert all(set(r) <= {"index", "status", "error", "cause"} for r in results), "results stay small"
    children = {e["name"]: e["status"] for e in machine.sfn.list_executions(stateMachineArn=child)["executions"]}
    assert children == {"ok-0": "SUCCEEDED", "bad-1": "FAILED", "taken": "SUCCEEDED"}


def test_a_tolerated_batch_succeeds_with_the_summary_as_its_output(batch):
    machine, _, arn = batch
    plan = {"name": "b", "day": "2026-12-01", "counts": {}, "tolerance": {},
            "items": [item(0, "skip", "x")]}
    summary = {"tolerated": True, "succeeded": 0, "skipped": 1}
    result = run_batch(machine, arn, {"plan": lambda p, n: ok(plan),
                                      "summarize": lambda p, n: ok({"summary": summary, "cause": "{}"})})
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == summary
