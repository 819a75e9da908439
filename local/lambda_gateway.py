"""The Lambda Invoke API in front of `cargo lambda watch`, answering the way AWS Lambda does, and
failing the way AWS Lambda fails when a test asks it to.

cargo lambda watch answers a function error with HTTP 500 and the error body; AWS answers 200
with `X-Amz-Function-Error: Unhandled`, and Step Functions only maps the latter to the
function's errorType (what Retry and Catch match). An HTTP error without `x-amzn-RequestId` even
kills a moto execution with an uncatchable States.Runtime. This gateway rewrites the answers:

    function result           → 200, body as is
    function error (500+JSON) → 200, X-Amz-Function-Error: Unhandled, {"errorType", "errorMessage"}
    unknown function (404)    → 404, x-amzn-ErrorType: ResourceNotFoundException
    upstream unreachable      → 502, x-amzn-ErrorType: ServiceException (Step Functions retries it)

Every answer carries x-amzn-RequestId. Runs as a thread of the process that owns the stack.

moto's Step Functions engine sends every service call of a state machine to this one address
(MOTO_PORT), so a request that is not a Lambda Invoke (e.g. the batch workflow's
`states:startExecution.sync:2` and its DescribeExecution polls) is passed to moto unchanged
(`server.aws_upstream`), except S3's (signed for service `s3`: the wait's token object, written
by `aws-sdk:s3:putObject.waitForTaskToken` and deleted by `aws-sdk:s3:deleteObject`), which go to
s3-local (`server.s3_upstream`), the S3 the functions read. moto signs them with its own dummy
keys for the gateway's host, and s3-local checks SigV4 against the stack's keys and its own host,
so the gateway signs them again as the state machine's role would be (the stack's credentials);
an S3 answer without a request id gets one, as every AWS answer has (moto's error mapping reads it).

Faults (`server.inject(function, *faults)`): the function's next invocations, one fault each, in
order, answer as AWS answers when

    "timeout"        the function ran (its side effects happened) past its timeout: Lambda kills it
                     and answers Unhandled with errorType Sandbox.Timedout (newer runtimes; the
                     Lambda troubleshooting guide) — Step Functions' Error is then Sandbox.Timedout
    "timeout-early"  the same, but killed before it did anything
    "crash"          the function ran and was then killed (out of memory, a runtime exit): Lambda
                     answers Unhandled with only an errorMessage, which Step Functions reports as
                     Lambda.Unknown ("Handle Lambda service exceptions")
    "throttle"       Lambda refused the invocation: 429 TooManyRequestsException, nothing ran
    "error:<Kind>"   the function failed at once with errorType <Kind>, nothing ran (e.g.
                     "error:GlueRunNotFound", to fail an execution at a chosen step)

`server.invocations` counts, per function, the invocations that reached the function.
"""
from __future__ import annotations

import collections
import json
import os
import threading
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("timeout", "timeout-early", "crash", "throttle")
INVOKE_PATH = "/2015-03-31/functions/"
STACK_ACCESS_KEY, STACK_SECRET_KEY = "test", "test"  # what s3-local accepts (local/stack.py)


class GatewayServer(ThreadingHTTPServer):
    """The HTTP server, plus the faults queued per function and the invocation counts."""

    daemon_threads = True

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self._lock = threading.Lock()
        self._faults: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.invocations: collections.Counter = collections.Counter()
        # Where calls to the other services go (moto); set once moto's port is known.
        self.aws_upstream: str | None = None
        self.s3_upstream: str | None = None  # s3-local, for the state machine's aws-sdk:s3 calls

    def inject(self, function: str, *faults: str) -> None:
        """Queues faults for the function's next invocations (None lets one through)."""
        for fault in faults:
            if fault is not None and fault not in FAULTS and not fault.startswith("error:"):
                raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults[function].extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def next_fault(self, function: str) -> str | None:
        with self._lock:
            queue = self._faults.get(function)
            return queue.popleft() if queue else None

    def count(self, function: str) -> None:
        with self._lock:
            self.invocations[function] += 1


class _Gateway(BaseHTTPRequestHandler):
    upstream = ""  # set per server class
    server: GatewayServer

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.startswith(INVOKE_PATH):
            self._forward("POST", body)
            return
        function = _function_name(self.path)
        fault = self.server.next_fault(function)
        if fault == "throttle":
            self._api_error(429, "TooManyRequestsException", "Rate Exceeded.")
            return
        if fault and fault.startswith("error:"):
            kind = fault.removeprefix("error:")
            self._unhandled({"errorType": kind, "errorMessage": f"{kind} (injected by the local Lambda gateway)"})
            return
        if fault == "timeout-early":
            self._unhandled({"errorType": "Sandbox.Timedout", "errorMessage": _timed_out()})
            return
        self.server.count(function)
        answer = self._invoke(body)
        if fault == "timeout":
            self._unhandled({"errorType": "Sandbox.Timedout", "errorMessage": _timed_out()})
        elif fault == "crash":
            self._unhandled({"errorMessage": f"RequestId: {uuid.uuid4()} Error: Runtime exited with error: signal: killed"})
        else:
            answer()

    def do_PUT(self) -> None:  # noqa: N802
        self._forward("PUT", self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def do_DELETE(self) -> None:  # noqa: N802
        self._forward("DELETE", b"")

    def do_GET(self) -> None:  # noqa: N802
        self._forward("GET", b"")

    def _forward(self, method: str, body: bytes) -> None:
        """Another service's call, passed on as it came (signature headers included): S3's to
        s3-local, the rest to moto."""
        to_s3 = _signed_for_s3(self.headers)
        upstream = self.server.s3_upstream if to_s3 else self.server.aws_upstream
        if not upstream:
            self._api_error(502, "ServiceException", f"no service behind the gateway for {method} {self.path}")
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection", "expect")}
        if to_s3:
            headers = _signed_again(method, upstream + self.path, headers, body)
        request = urllib.request.Request(upstream + self.path, data=body if method in ("POST", "PUT") else None,
                                         method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as resp:
                status, payload, answer_headers = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as err:
            status, payload, answer_headers = err.code, err.read(), err.headers
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            self._api_error(502, "ServiceException", f"{upstream} is unreachable: {err}")
            return
        self.send_response(status)
        for name, value in answer_headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(name, value)
        if to_s3 and "x-amz-request-id" not in {k.lower() for k in answer_headers.keys()}:
            self.send_header("x-amz-request-id", uuid.uuid4().hex[:16].upper())
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _invoke(self, body: bytes):
        """Runs the function; returns how to answer with its result."""
        request = urllib.request.Request(self.upstream + self.path, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=900) as resp:
                payload = resp.read()
                return lambda: self._answer(200, payload, {"X-Amz-Executed-Version": "$LATEST"})
        except urllib.error.HTTPError as err:
            payload = err.read()
            if err.code >= 500 and _is_function_error(payload):
                return lambda: self._unhandled_raw(payload)
            if err.code == 404:
                return lambda: self._api_error(404, "ResourceNotFoundException", f"Function not found: {self.path}")
            code = err.code  # `err` is unbound once the except block ends
            return lambda: self._api_error(code, "ServiceException", payload.decode(errors="replace")[:500])
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            message = f"cargo lambda watch is unreachable: {err}"
            return lambda: self._api_error(502, "ServiceException", message)

    def _unhandled(self, error: dict) -> None:
        self._unhandled_raw(json.dumps(error).encode())

    def _unhandled_raw(self, payload: bytes) -> None:
        self._answer(200, payload, {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"})

    def _answer(self, status: int, body: bytes, headers: dict) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _api_error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"Type": "Service", "Message": message, "message": message}).encode()
        self._answer(status, body, {"x-amzn-ErrorType": code})

    def log_message(self, *args) -> None:  # quiet: cargo lambda watch logs the invocations
        pass


def _function_name(path: str) -> str:
    """`/2015-03-31/functions/<name or ARN>/invocations` → the function's name."""
    parts = path.split("/")
    name = parts[3] if len(parts) > 3 else ""
    return urllib.request.unquote(name).rsplit(":", 1)[-1]


def _signed_for_s3(headers) -> bool:
    """SigV4's credential scope names the service: `Credential=<key>/<date>/<region>/s3/aws4_request`."""
    return "/s3/aws4_request" in (headers.get("Authorization") or "")


def _signed_again(method: str, url: str, headers: dict, body: bytes) -> dict:
    """The S3 request's headers signed (SigV4, service s3) with the stack's keys for `url`'s host."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    unsigned = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "x-amz-date",
                                                                       "x-amz-security-token")}
    request = AWSRequest(method=method, url=url, data=body or None, headers=unsigned)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    S3SigV4Auth(Credentials(STACK_ACCESS_KEY, STACK_SECRET_KEY), "s3", region).add_auth(request)
    return dict(request.headers.items())


def _timed_out() -> str:
    return f"RequestId: {uuid.uuid4()} Error: Task timed out after 30.00 seconds"


def _is_function_error(payload: bytes) -> bool:
    try:
        return "errorType" in json.loads(payload)
    except (ValueError, TypeError):
        return False


def start(upstream_port: int, port: int = 0) -> GatewayServer:
    """Serves on 127.0.0.1:<port> (0 = any free port) until `server.shutdown()`."""
    handler = type("Gateway", (_Gateway,), {"upstream": f"http://127.0.0.1:{upstream_port}"})
    server = GatewayServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, name="lambda-gateway", daemon=True).start()
    return server
