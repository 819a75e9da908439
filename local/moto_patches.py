"""Patches that make moto 5.2.5's Step Functions engine behave like AWS and run faster.
Shared by the state machine tests (in-process moto) and the local stack (local/moto_server.py)."""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator


def iso_start_time() -> Any:
    """moto 5.2.5 puts a datetime in $$.Execution.StartTime, where AWS has an ISO-8601 string
    ("2026-11-25T22:00:00.123Z"); the datetime then breaks describe_execution's JSON output.
    This makes the context object look like AWS's."""
    from unittest import mock

    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original = ExecutionWorker._get_evaluation_environment

    def environment(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        start = execution.get("StartTime")
        if hasattr(start, "strftime"):
            execution["StartTime"] = start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"
        return env

    return mock.patch.object(ExecutionWorker, "_get_evaluation_environment", environment)


@contextlib.contextmanager
def fast_engine() -> Iterator[None]:
    """Speed-ups of moto's engine that change nothing it does: JSONPath expressions are parsed
    once (moto re-runs the ply parser generator on every path evaluation, about 15 per poll), and
    the Lambda client is built once per region instead of once per task."""
    import functools
    from unittest import mock

    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import json_path

    parse = functools.lru_cache(maxsize=1024)(json_path.parse)
    make_client = lambda_eval_utils.boto_client_for
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = make_client(region=region, service=service)
            return clients[(region, service)]

    with mock.patch.object(json_path, "parse", parse), mock.patch.object(
        lambda_eval_utils, "boto_client_for", client_for
    ):
        yield


def unknown_lambda_errors() -> Any:
    """AWS Step Functions reports a Lambda function error that names no errorType (a timeout or an
    out-of-memory kill on older runtimes: Lambda writes only errorMessage) as `Lambda.Unknown`
    (Step Functions developer guide, "Handle Lambda service exceptions"); moto 5.2.5 calls it
    `Exception`, which no Retry of ours would match. This renames it as AWS does."""
    import json
    from unittest import mock

    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )

    original = StateTaskServiceLambda._from_error

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, lambda_eval_utils.LambdaFunctionErrorException):
            try:
                named = "errorType" in json.loads(ex.payload)
            except (ValueError, TypeError):
                named = False
            if not named:
                failure = original(self, env, ex)
                failure.error_name = CustomErrorName("Lambda.Unknown")
                failure.event_details["taskFailedEventDetails"]["error"] = "Lambda.Unknown"
                return failure
        return original(self, env, ex)

    return mock.patch.object(StateTaskServiceLambda, "_from_error", from_error)


@contextlib.contextmanager
def nested_executions() -> Iterator[None]:
    """moto 5.2.5 stubs out the service integrations' request and response normalisation (its
    source, LocalStack's engine, maps the ASL's Parameters onto the boto operation's members and
    the answer back onto Step Functions' casing). Without it `states:startExecution.sync:2` hands
    boto `StateMachineArn` where it takes `stateMachineArn` and fails with States.Runtime, and the
    sync poller reads `ExecutionArn` from an answer that has `executionArn`. AWS takes the
    documented PascalCase Parameters ("Start workflow executions from a task state") and answers
    with DescribeExecution's fields PascalCased (`Status`, `Output`, `ExecutionArn`), which is what
    this restores for the Step Functions integration."""
    from unittest import mock

    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    model = botocore.session.get_session().get_service_model("stepfunctions")
    operations = {camel_to_snake_case(name): name for name in model.operation_names}
    original_parameters = StateTaskServiceSfn._normalise_parameters

    def operation(self: Any, service_action_name: str | None) -> Any:
        return model.operation_model(operations[self._get_boto_service_action(service_action_name)])

    def normalise_parameters(self: Any, parameters: dict, boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:
        original_parameters(self, parameters, boto_service_name, service_action_name)  # Input as JSON text
        self._to_boto_request(parameters, operation(self, service_action_name).input_shape)

    def normalise_response(self: Any, response: Any, boto_service_name: str | None = None,
                           service_action_name: str | None = None) -> None:
        self._from_boto_response(response, operation(self, service_action_name).output_shape)

    with mock.patch.object(StateTaskServiceSfn, "_normalise_parameters", normalise_parameters), \
            mock.patch.object(StateTaskServiceSfn, "_normalise_response", normalise_response):
        yield


def spent_task_tokens() -> Any:
    """AWS answers SendTaskSuccess (and SendTaskFailure) for a task that has already closed —
    completed by an earlier callback, or timed out — with TaskTimedOut ("the task token has
    either expired or the task associated with the token has already been closed", Step
    Functions API reference). moto 5.2.5 accepts the second callback silently, and a callback
    after a timeout as well. This makes a closed task's token answer TaskTimedOut: the task is
    closed once its endpoint has been notified or interrupted (moto interrupts it when the task
    ends, whatever ended it)."""
    from unittest import mock

    from moto.core.exceptions import AWSError
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager

    class TaskTimedOut(AWSError):  # moto's own (parser.api) has no wire code: answers "()"
        TYPE = "TaskTimedOut"
        STATUS = 400

    original = CallbackPoolManager.notify

    def notify(self: Any, callback_id: str, outcome: Any) -> bool:
        endpoint = self.get(callback_id)
        if endpoint is not None and endpoint._notify_event.is_set():
            raise TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'")
        return original(self, callback_id, outcome)

    return mock.patch.object(CallbackPoolManager, "notify", notify)
