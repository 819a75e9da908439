"""The Lambda Invoke API in front of `cargo lambda watch`, answering the way AWS Lambda does.

cargo lambda watch answers a function error with HTTP 500 and the error body; AWS answers 200
with `X-Amz-Function-Error: Unhandled`, and Step Functions only maps the latter to the
function's errorType (what Retry and Catch match). An HTTP error without `x-amzn-RequestId` even
kills a moto execution with an uncatchable States.Runtime. This gateway rewrites the answers:

    function result           → 200, body as is
    function error (500+JSON) → 200, X-Amz-Function-Error: Unhandled, {"errorType", "errorMessage"}
    unknown function (404)    → 404, x-amzn-ErrorType: ResourceNotFoundException
    upstream unreachable      → 502, x-amzn-ErrorType: ServiceException (Step Functions retries it)

Every answer carries x-amzn-RequestId. Runs as a thread of the process that owns the stack.
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Gateway(BaseHTTPRequestHandler):
    upstream = ""  # set per server class

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = urllib.request.Request(self.upstream + self.path, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=900) as resp:
                self._answer(200, resp.read(), {"X-Amz-Executed-Version": "$LATEST"})
        except urllib.error.HTTPError as err:
            payload = err.read()
            if err.code >= 500 and _is_function_error(payload):
                self._answer(200, payload, {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"})
            elif err.code == 404:
                self._api_error(404, "ResourceNotFoundException", f"Function not found: {self.path}")
            else:
                self._api_error(err.code, "ServiceException", payload.decode(errors="replace")[:500])
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            self._api_error(502, "ServiceException", f"cargo lambda watch is unreachable: {err}")

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


def _is_function_error(payload: bytes) -> bool:
    try:
        return "errorType" in json.loads(payload)
    except (ValueError, TypeError):
        return False


def start(upstream_port: int, port: int = 0) -> ThreadingHTTPServer:
    """Serves on 127.0.0.1:<port> (0 = any free port) until `server.shutdown()`."""
    handler = type("Gateway", (_Gateway,), {"upstream": f"http://127.0.0.1:{upstream_port}"})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="lambda-gateway", daemon=True).start()
    return server
