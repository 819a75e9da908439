#!/usr/bin/env python3
"""moto's server for the local stack, with what it lacks for our functions:

- local/moto_patches.py: `$$.Execution.StartTime` as AWS's ISO string, a function error without an
  errorType named Lambda.Unknown as AWS names it, cached JSONPath parsing, nested executions
  (`states:startExecution.sync:2`) with AWS's parameter and answer casing;
- CloudWatch PutMetricData over the Smithy RPC v2 CBOR protocol, which the AWS SDK for Rust's
  CloudWatch client speaks and moto 5.2.5 does not (it answers 404): decoded here and handed to
  moto's own CloudWatch backend, so ListMetrics / GetMetricStatistics see the data.

    python local/moto_server.py -H 127.0.0.1 -p PORT      (MOTO_PORT: where Lambda calls go)
"""
import argparse
import logging
import re
import sys
from datetime import timezone
from pathlib import Path

import cbor2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from moto_patches import fast_engine, iso_start_time, nested_executions, spent_task_tokens, unknown_lambda_errors  # noqa: E402

CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"
ACCOUNT = "123456789012"  # moto's default account


def _region(environ) -> str:
    """The region from the SigV4 Authorization header's credential scope."""
    m = re.search(r"Credential=[^/]+/\d+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1) if m else "us-east-1"


def _datum(item: dict) -> dict:
    """A CBOR-decoded MetricDatum in the shape moto's backend takes (naive UTC timestamps)."""
    datum = dict(item)
    stamp = datum.get("Timestamp")
    if hasattr(stamp, "astimezone"):
        datum["Timestamp"] = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    return datum


def cloudwatch_cbor(app):
    """WSGI middleware: serves PutMetricData over RPC v2 CBOR, passes everything else to moto."""
    from moto.cloudwatch.models import cloudwatch_backends

    def respond(start_response, status: str, body: dict):
        payload = cbor2.dumps(body)
        start_response(status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                                ("Content-Length", str(len(payload))), ("x-amzn-RequestId", "local")])
        return [payload]

    def wrapped(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CBOR_PATH):
            return app(environ, start_response)
        operation = path[len(CBOR_PATH):]
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = cbor2.loads(raw) if raw else {}
        if operation != "PutMetricData":
            return respond(start_response, "400 Bad Request",
                           {"__type": "UnknownOperationException", "message": f"{operation} is not served over CBOR here"})
        backend = cloudwatch_backends[ACCOUNT][_region(environ)]
        try:
            backend.put_metric_data(request["Namespace"], [_datum(d) for d in request.get("MetricData", [])])
        except Exception as err:  # moto's validation errors → the protocol's error shape
            return respond(start_response, "400 Bad Request", {"__type": type(err).__name__, "message": str(err)})
        return respond(start_response, "200 OK", {})

    return wrapped


def main(argv: list[str]) -> int:
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(prog="moto_server.py")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    # moto logs a large stack trace on every Fail state; the execution history has the error.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    app = cloudwatch_cbor(DomainDispatcherApplication(create_backend_app))
    with iso_start_time(), fast_engine(), unknown_lambda_errors(), nested_executions(), spent_task_tokens():
        run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
