"""A minimal Lambda runtime-interface client for the Python baseline (bench/lambda_bench.py).

What AWS's Python runtime does, reduced to its loop: import the handler module (which imports
boto3 and creates its clients at init), then GET /next, call the handler, POST the response or
the error. Run as `python runtime.py <module>.<function>` with AWS_LAMBDA_RUNTIME_API set.
Deliberately leaner than the real runtime (awslambdaric): whatever it costs, the real one costs
more, so the comparison favours Python.
"""
import http.client
import importlib
import json
import os
import sys
import time
import traceback

API = "/2018-06-01/runtime"


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def _error(exc):
    return {"errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__)}


def main():
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    module_name, function_name = (os.environ.get("_HANDLER") or sys.argv[1]).rsplit(".", 1)
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # noqa: BLE001 (reported to the Runtime API, as AWS's runtime does)
        conn.request("POST", f"{API}/init/error", json.dumps(_error(exc)),
                     {"Content-Type": "application/json"})
        conn.getresponse().read()
        sys.exit(1)
    while True:
        conn.request("GET", f"{API}/invocation/next")
        resp = conn.getresponse()
        event = json.loads(resp.read())
        context = Context(resp.headers)
        if resp.headers.get("Lambda-Runtime-Trace-Id"):
            os.environ["_X_AMZN_TRACE_ID"] = resp.headers["Lambda-Runtime-Trace-Id"]
        try:
            body, outcome = json.dumps(handler(event, context), default=str), "response"
        except Exception as exc:  # noqa: BLE001
            body, outcome = json.dumps(_error(exc)), "error"
        conn.request("POST", f"{API}/invocation/{context.aws_request_id}/{outcome}", body.encode(),
                     {"Content-Type": "application/json"})
        conn.getresponse().read()


if __name__ == "__main__":
    main()
