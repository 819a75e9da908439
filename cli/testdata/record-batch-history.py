#!/usr/bin/env python3
"""Records batch-history-moto-5.2.5.json, the history batch_watch.rs's tests count from.

moto 5.2.5 (in-process, the project's .venv) runs a batch-shaped state machine: a `Plan` state
whose output holds `plan.counts`, then an inline Map (MaxConcurrency 2) whose iterations start a
child by `arn:aws:states:::states:startExecution.sync:2`, or pass a skip / invalid item. Child `a`
succeeds, child `b` fails, and the last item's name is already taken by an execution with another
input, so its StartExecution is refused (ExecutionAlreadyExists: TaskFailed, no TaskSubmitted).

moto 5.2.5 does not turn the task's `StateMachineArn` / `Name` / `Input` parameters into boto's
names (`StateTaskService._normalise_parameters` is a no-op there), so unpatched every
startExecution task fails with States.Runtime (KeyError 'StateMachineArn') and no resourceType.
This script patches that normalization as AWS (and LocalStack) behave; the events are otherwise
moto's own. The file keeps each event's id, previousEventId, type and the details watch reads.
The iterations run on threads, so another recording interleaves them differently: the tests name
this recording's event ids.

    .venv/bin/python cli/testdata/record-batch-history.py
"""
import json
import time
from pathlib import Path

import boto3
import botocore.session
from botocore import xform_name
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)

OUT = Path(__file__).resolve().parent / "batch-history-moto-5.2.5.json"
_session = botocore.session.get_session()


def _operation(task, service_name, action_name):
    service = task._get_boto_service_name(boto_service_name=service_name)
    action = task._get_boto_service_action(service_action_name=action_name)
    model = _session.get_service_model(service)
    return model.operation_model(next(n for n in model.operation_names if xform_name(n) == action))


def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
    shape = _operation(self, boto_service_name, service_action_name).input_shape
    if shape is not None:
        self._to_boto_request(parameters, shape)


def _normalise_response(self, response, boto_service_name=None, service_action_name=None):
    shape = _operation(self, boto_service_name, service_action_name).output_shape
    if shape is not None:
        self._from_boto_response(response, shape)


StateTaskService._normalise_parameters = _normalise_parameters
StateTaskService._normalise_response = _normalise_response

CHILD = {"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": 1, "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "F"}],
          "Default": "OK"},
    "F": {"Type": "Fail", "Error": "UnloadStatementFailed", "Cause": "boom"},
    "OK": {"Type": "Pass", "Result": {"report": {"rows": 7}}, "End": True}}}


def batch(child_arn):
    counts = {"items": 5, "start": 3, "follow": 0, "skip": 1, "invalid": 1}
    return {"StartAt": "Plan", "States": {
        "Plan": {"Type": "Pass", "Parameters": {"items.$": "$.items", "counts": counts},
                 "ResultPath": "$.plan", "Next": "Run"},
        "Run": {"Type": "Map", "ItemsPath": "$.plan.items", "MaxConcurrency": 2, "ResultPath": "$.results",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "What", "States": {
                    "What": {"Type": "Choice", "Choices": [
                        {"Variable": "$.action", "StringEquals": "skip", "Next": "Skipped"},
                        {"Variable": "$.action", "StringEquals": "invalid", "Next": "Invalid"}],
                        "Default": "Child"},
                    "Skipped": {"Type": "Pass", "Result": {"status": "SKIPPED"}, "End": True},
                    "Invalid": {"Type": "Pass", "Result": {"status": "INVALID"}, "End": True},
                    "Child": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                              "Parameters": {"StateMachineArn": child_arn, "Name.$": "$.name",
                                             "Input.$": "$.input"},
                              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "ChildFailed"}],
                              "ResultSelector": {"status": "SUCCEEDED"}, "End": True},
                    "ChildFailed": {"Type": "Pass", "Result": {"status": "FAILED"}, "End": True}}},
                "Next": "Done"},
        "Done": {"Type": "Pass", "End": True}}}


def kept(event):
    details_key = next((k for k in event if k.endswith("EventDetails")), None)
    details = event.get(details_key, {}) if details_key else {}
    keep = {k: details[k] for k in ("name", "index", "resourceType", "resource", "error") if k in details}
    if event["type"] == "PassStateExited" and details.get("name") == "Plan":
        plan = json.loads(details["output"])["plan"]
        keep["output"] = json.dumps({"plan": {"counts": plan["counts"]}}, separators=(",", ":"))
    if event["type"] in ("TaskSubmitted", "TaskSucceeded"):
        out = json.loads(details["output"])
        keep["output"] = json.dumps({"ExecutionArn": out["ExecutionArn"]}, separators=(",", ":"))
    row = {"id": event["id"], "previousEventId": event["previousEventId"], "type": event["type"]}
    if details_key:
        row[details_key] = keep
    return row


def main():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        role = "arn:aws:iam::123456789012:role/r"
        child = sfn.create_state_machine(name="u", definition=json.dumps(CHILD), roleArn=role)
        machine = sfn.create_state_machine(name="u-batch", definition=json.dumps(batch(child["stateMachineArn"])),
                                           roleArn=role)
        sfn.start_execution(stateMachineArn=child["stateMachineArn"], name="taken", input=json.dumps({"other": 1}))
        items = [
            {"action": "start", "name": "a", "input": {"fail": False}},
            {"action": "start", "name": "b", "input": {"fail": True}},
            {"action": "skip"},
            {"action": "invalid"},
            {"action": "start", "name": "taken", "input": {"fail": False}},
        ]
        arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="backfill-x",
                                  input=json.dumps({"items": items}))["executionArn"]
        for _ in range(120):
            if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                break
            time.sleep(0.5)
        events = sfn.get_execution_history(executionArn=arn)["events"]
    OUT.write_text("[\n" + ",\n".join(json.dumps(kept(e), separators=(", ", ": ")) for e in events) + "\n]\n")
    print(f"{OUT}: {len(events)} events")


if __name__ == "__main__":
    main()
