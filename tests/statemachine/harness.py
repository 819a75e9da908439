"""Executes the real statemachine/unload.asl.json on moto's Step Functions engine.

The Lambda tasks are answered by `LambdaStub`, a threaded HTTP server on 127.0.0.1 that speaks
the Lambda Invoke wire format (the reply helpers below say what each answer looks like;
local/lambda_gateway.py gives the same answers in front of cargo lambda watch) and plays a
scenario: one Python callable per function, given the payload and the call number, returning
`ok(...)`, `function_error(...)`, `throttled()` or `service_error()`. Every payload it receives is
recorded.

Wait states, callback waits and Retry intervals do not sleep: `no_sleep()` patches them and
records the seconds the engine would have waited (`Sleeps.waits` for Wait states and for the
timeout of a `.waitForTaskToken` task such as WaitForRun, `Sleeps.retries` for retries), so a test
can check that the wait really took `$.run.next_poll_seconds`. A callback wait returns at once:
`Sleeps.on_callback(seconds)` (when set) says whether the task token was completed during it (it
returns the JSON that SendTaskSuccess would carry) or not (None: the wait timed out, States.Timeout,
as when no completion event comes); without the hook every callback wait times out, so the
workflow behaves exactly as with plain polling. The task tokens are recorded (`Sleeps.tokens`).

`Machine` also gives moto's S3 the bucket the callback wait writes its token to (`${WaitBucket}`).

`Machine` creates the state machine once (in-process moto, `execute_state_machine` on) and runs
executions on it. Two patches of moto 5.2.5 make it behave like AWS (`$$.Execution.StartTime` as
an ISO string) and run fast (JSONPath parsed once, one Lambda client); neither changes what the
engine does.

Used by tests/statemachine and by bench/orchestration_bench.py.
"""

from __future__ import annotations

import contextlib
import sys
import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import unquote

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "local"))
from asl import asl_text, placeholders, substitute  # noqa: E402,F401 (re-exported for the tests)
from moto_patches import fast_engine, iso_start_time, nested_executions, spent_task_tokens, unknown_lambda_errors  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_PATH = ROOT / "docs" / "CONTRACT.md"

REGION = "us-east-1"
ACCOUNT = "123456789012"
# "Handle Lambda service exceptions" (Step Functions developer guide): the recommended set, plus
# throttling. Every Lambda task of both workflows retries them.
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
]

# What the template substitutes, with local values: each function ARN names the binary, which is
# how the stub (and `cargo lambda watch`) tells the functions apart.
LOCAL_SUBSTITUTIONS = {
    "ValidateFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:validate",
    "EnsureJobFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ensure-job",
    "StartRunFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:start-run",
    "CheckStatusFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:check-status",
    "ReportFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:report",
    "RegisterFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:register",
    "Partition": "aws",
    "ExecutionTimeoutSeconds": "16200",
    # Where WaitForRun leaves its task token (the template: the lake bucket, <GlueTempPrefix>/waits).
    "WaitBucket": "artifacts",
    "WaitPrefix": "tmp/waits",
}

for _name in ("moto.stepfunctions", "moto", "botocore", "urllib3"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


def local_definition(**overrides: str) -> dict[str, Any]:
    return json.loads(substitute(asl_text(), {**LOCAL_SUBSTITUTIONS, **overrides}))


# --------------------------------------------------------------------------- Lambda responses


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def ok(body: Any) -> Reply:
    """The function returned `body`."""
    return Reply(200, body)


def function_error(error_type: str, message: str = "") -> Reply:
    """The function failed: Step Functions sees Error = error_type, Cause = the JSON body."""
    return Reply(
        200,
        {"errorType": error_type, "errorMessage": message or f"{error_type} (stub)"},
        {"X-Amz-Function-Error": "Unhandled"},
    )


def timed_out() -> Reply:
    """Lambda killed the function at its timeout: Unhandled, errorType Sandbox.Timedout (newer
    runtimes), which Step Functions passes on as the Error."""
    return Reply(
        200,
        {"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: 1 Error: Task timed out after 30.00 seconds"},
        {"X-Amz-Function-Error": "Unhandled"},
    )


def crashed() -> Reply:
    """Lambda killed the function (out of memory, runtime exit): Unhandled with no errorType, which
    Step Functions reports as Lambda.Unknown ("Handle Lambda service exceptions")."""
    return Reply(
        200,
        {"errorMessage": "RequestId: 1 Error: Runtime exited with error: signal: killed"},
        {"X-Amz-Function-Error": "Unhandled"},
    )


def throttled() -> Reply:
    """The Invoke API itself refused: Lambda.TooManyRequestsException."""
    return Reply(
        429,
        {"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"},
        {"x-amzn-ErrorType": "TooManyRequestsException"},
    )


def service_error() -> Reply:
    """A Lambda service fault (HTTP 500): Lambda.ServiceException."""
    return Reply(500, {"Type": "Service", "message": "Internal error (stub)"}, {"x-amzn-ErrorType": "ServiceException"})


Handler = Callable[[dict, int], Reply]


@dataclass
class Call:
    function: str
    payload: Any
    status: int


class LambdaStub:
    """A Lambda Invoke endpoint on 127.0.0.1 that plays a scenario and records every call.

    `handlers` maps a function name to `handler(payload, n)` where n counts that function's calls
    from 1. A function without a handler answers with a function error (an unexpected call fails
    the execution loudly rather than passing silently).
    """

    def __init__(self, handlers: dict[str, Handler]):
        self.handlers = dict(handlers)
        self.calls: list[Call] = []
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        stub = self

        class Handler_(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Lambda's endpoint
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                m = re.match(r"^/2015-03-31/functions/([^/]+)/invocations", self.path)
                if not m:
                    self._send(Reply(404, {"message": f"no route {self.path}"}))
                    return
                name = unquote(m.group(1)).rsplit(":", 1)[-1]
                payload = json.loads(raw) if raw else None
                self._send(stub._answer(name, payload))

            def _send(self, reply: Reply) -> None:
                body = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                if reply.status == 200:
                    self.send_header("X-Amz-Executed-Version", "$LATEST")
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler_)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="lambda-stub", daemon=True
        )

    def reset(self, handlers: dict[str, Handler]) -> None:
        with self._lock:
            self.handlers = dict(handlers)
            self.calls = []
            self._counts = {}

    def _answer(self, name: str, payload: Any) -> Reply:
        with self._lock:
            n = self._counts.get(name, 0) + 1
            self._counts[name] = n
        handler = self.handlers.get(name)
        try:
            reply = handler(payload, n) if handler else function_error("UnexpectedCall", f"no handler for {name}")
        except Exception as e:  # a bug in a scenario shows up as a failed execution, with its message
            reply = function_error("StubCrashed", f"{type(e).__name__}: {e}")
        with self._lock:
            self.calls.append(Call(name, payload, reply.status))
        return reply

    def __enter__(self) -> "LambdaStub":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sequence(self) -> list[str]:
        return [c.function for c in self.calls]


# --------------------------------------------------------------------------- sleeps


@dataclass
class Sleeps:
    waits: list[int] = field(default_factory=list)  # Wait states and callback timeouts, in seconds asked for
    retries: list[float] = field(default_factory=list)  # Retry intervals
    on_wait: Callable[[int], None] | None = None  # e.g. advance a simulated clock
    # Asked after on_wait at every callback wait: the SendTaskSuccess output (a JSON text) when the
    # completion event arrived during the wait, None when the wait timed out.
    on_callback: Callable[[int], str | None] | None = None
    callbacks: list[tuple[int, bool]] = field(default_factory=list)  # (seconds, woken by the token) per callback wait
    tokens: list[str] = field(default_factory=list)  # the task token of each callback wait

    @property
    def woken(self) -> int:
        """Callback waits ended by the token (an event), not by their timeout."""
        return sum(1 for _, w in self.callbacks if w)


@contextlib.contextmanager
def no_sleep() -> Iterator[Sleeps]:
    """Wait states, callback waits and Retry intervals return at once; what they would have slept
    is recorded, and a callback wait ends as `Sleeps.on_callback` says (default: timed out)."""
    from unittest import mock

    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeSuccess

    sleeps = Sleeps()

    def fake_wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        sleeps.waits.append(wait_seconds)
        if sleeps.on_wait:
            sleeps.on_wait(wait_seconds)

    original_wait = state_task_service_callback.StateTaskServiceCallback._wait_for_task_token_timeout

    def fake_wait_for_task_token_timeout(self: Any, timeout_seconds: int, callback_endpoint: Any) -> Any:
        # moto's own waits on the endpoint for timeout_seconds of real time; None means timed out
        # (moto then raises States.Timeout), a CallbackOutcomeSuccess is SendTaskSuccess. A `.sync`
        # task (the batch's children) listens on the same endpoint while it polls: left to moto.
        if self.resource.condition != ResourceCondition.WaitForTaskToken:
            return original_wait(self, timeout_seconds, callback_endpoint)
        sleeps.waits.append(timeout_seconds)
        sleeps.tokens.append(callback_endpoint.callback_id)
        if sleeps.on_wait:
            sleeps.on_wait(timeout_seconds)
        output = sleeps.on_callback(timeout_seconds) if sleeps.on_callback else None
        sleeps.callbacks.append((timeout_seconds, output is not None))
        if output is None:
            return None
        return CallbackOutcomeSuccess(callback_id=callback_endpoint.callback_id, output=output)

    class FakeTime:
        @staticmethod
        def sleep(seconds: float) -> None:
            sleeps.retries.append(seconds)

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

    with mock.patch.object(wait_function.WaitFunction, "_wait_interval", fake_wait_interval), mock.patch.object(
        state_task_service_callback.StateTaskServiceCallback,
        "_wait_for_task_token_timeout",
        fake_wait_for_task_token_timeout,
    ), mock.patch.object(retrier_decl, "time", FakeTime()), iso_start_time():
        yield sleeps


# --------------------------------------------------------------------------- executions


@dataclass
class Execution:
    arn: str
    name: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: list[dict]
    calls: list[Call]
    sleeps: Sleeps
    seconds: float

    @property
    def path(self) -> list[str]:
        """State names in the order they were entered (a retry stays inside its state)."""
        return [e["stateEnteredEventDetails"]["name"] for e in self.events if e["type"].endswith("StateEntered")]

    @property
    def state_transitions(self) -> int:
        """Billed state transitions: every state entered, and every retry."""
        return len(self.path) + len(self.sleeps.retries)

    def count(self, event_type: str) -> int:
        return sum(1 for e in self.events if e["type"] == event_type)

    def calls_to(self, function: str) -> list[Call]:
        return [c for c in self.calls if c.function == function]

    def payloads(self, function: str) -> list[Any]:
        return [c.payload for c in self.calls_to(function)]

    def sequence(self) -> list[str]:
        return [c.function for c in self.calls]


class Machine:
    """The state machine created once on moto (in-process, executing), with one Lambda stub.

    Parsing the definition costs a third of a second, so tests share one Machine and run many
    executions on it; each `run` gets fresh handlers, a fresh call record and fresh sleeps.
    """

    def __init__(self, definition: dict | None = None):
        self.definition = definition if definition is not None else local_definition()
        self._stack = contextlib.ExitStack()
        self._runs = 0

    def __enter__(self) -> "Machine":
        import boto3
        from moto import mock_aws

        try:
            self.stub = self._stack.enter_context(LambdaStub({}))
            for k, v in dict(
                AWS_ENDPOINT_URL_LAMBDA=self.stub.url,
                AWS_DEFAULT_REGION=REGION,
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
            ).items():
                self._stack.callback(_restore_env, k, os.environ.get(k))
                os.environ[k] = v
            self._stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
            self._stack.enter_context(fast_engine())
            self._stack.enter_context(unknown_lambda_errors())
            self._stack.enter_context(nested_executions())
            self._stack.enter_context(spent_task_tokens())
            self.sfn = boto3.client("stepfunctions", region_name=REGION)
            self.s3 = boto3.client("s3", region_name=REGION)
            self.s3.create_bucket(Bucket=LOCAL_SUBSTITUTIONS["WaitBucket"])  # WaitForRun's tokens
            self.arn = self._create(self.definition, "unload")
            self._variants: dict[str, str] = {json.dumps(self.definition, sort_keys=True): self.arn}
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def _create(self, definition: dict, name: str) -> str:
        return self.sfn.create_state_machine(
            name=name,
            definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/unload-state-machine",
        )["stateMachineArn"]

    def variant(self, definition: dict) -> str:
        """The ARN of a state machine with another definition (e.g. `local_definition(WaitBucket=
        "missing")`) on the same moto, created on first use."""
        key = json.dumps(definition, sort_keys=True)
        if key not in self._variants:
            self._variants[key] = self._create(definition, f"unload-variant-{len(self._variants)}")
        return self._variants[key]

    def run(
        self,
        handlers: dict[str, Handler],
        execution_input: Any,
        *,
        on_wait: Callable[[int], None] | None = None,
        on_callback: Callable[[int], str | None] | None = None,
        definition: dict | None = None,
        timeout: float = 120.0,
    ) -> Execution:
        """Runs one execution to its end and returns what happened. `on_wait` and `on_callback`
        are the `Sleeps` hooks; `definition` runs another definition (see `variant`)."""
        self._runs += 1
        name = f"run-{self._runs}"
        arn = self.arn if definition is None else self.variant(definition)
        self.stub.reset(handlers)
        with no_sleep() as sleeps:
            sleeps.on_wait = on_wait
            sleeps.on_callback = on_callback
            t0 = time.monotonic()
            ex_arn = self.sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(execution_input))[
                "executionArn"
            ]
            pause = 0.002  # growing: each describe_execution competes with the engine's thread
            while True:
                d = self.sfn.describe_execution(executionArn=ex_arn)
                if d["status"] != "RUNNING":
                    break
                if time.monotonic() - t0 > timeout:
                    self.sfn.stop_execution(executionArn=ex_arn, error="TestTimeout")
                    raise TimeoutError(f"{name} still RUNNING after {timeout}s; last calls {self.stub.sequence()[-5:]}")
                time.sleep(pause)
                pause = min(pause * 1.5, 0.1)
            seconds = time.monotonic() - t0
        events: list[dict] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(
            executionArn=ex_arn, PaginationConfig={"PageSize": 1000}
        ):
            events.extend(page["events"])
        return Execution(
            arn=ex_arn,
            name=name,
            status=d["status"],
            output=json.loads(d["output"]) if d.get("output") else None,
            error=d.get("error"),
            cause=d.get("cause"),
            events=events,
            calls=list(self.stub.calls),
            sleeps=sleeps,
            seconds=seconds,
        )


def _restore_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


# --------------------------------------------------------------------------- the contract's examples


def contract_fields(section: str) -> list[str]:
    """Top-level keys of the JSON example under `## <section>` in docs/CONTRACT.md.

    The examples are JSON with `//` comments and `a | b` alternatives, so they are scanned, not
    parsed: keys are the strings followed by `:` at brace depth 1.
    """
    text = CONTRACT_PATH.read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(section)}\b.*?$(.*?)(?=^## )", text, re.S | re.M)
    if not m:
        raise AssertionError(f"no section '## {section}' in {CONTRACT_PATH}")
    body = m.group(1)
    start = body.index("{")
    keys: list[str] = []
    depth, i = 0, start
    while i < len(body):
        c = body[i]
        if c == "/" and body.startswith("//", i):
            i = body.index("\n", i)
            continue
        if c == '"':
            j = body.index('"', i + 1)
            word = body[i + 1 : j]
            k = j + 1
            while k < len(body) and body[k] in " \t":
                k += 1
            if depth == 1 and k < len(body) and body[k] == ":":
                keys.append(word)
            i = j + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                break
        i += 1
    return keys
