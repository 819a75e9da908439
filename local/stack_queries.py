"""What tests, benchmarks and the demo ask a running local stack: start an execution and follow it,
read its history, find the lake's files, count the warehouse's rows, sum the CloudWatch metrics,
read the Glue Data Catalog and count the rows a catalog location holds.

local/stack.py starts and stops the processes and hands out one `StackQueries` as `stack.queries`.
This module does not import stack.py: run as `python local/stack.py`, that file is `__main__`, and
importing it again as `stack` would make a second StackError the demo's `except` does not catch.
So the names both need (StackError, REGION, NAMESPACE) live here.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REGION = "us-east-1"
NAMESPACE = "RedshiftUnload"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
# The catalog classifications pyarrow reads (it has no Avro reader).
READABLE_FORMATS = ("parquet", "orc", "json", "csv")


class StackError(RuntimeError):
    pass


@dataclass
class StackQueries:
    """Clients of one running stack, reached through its endpoints and folders only."""
    state_dir: Path
    endpoints: dict[str, str]  # service name → URL; any other service is moto's
    moto_url: str
    dsn: str  # the warehouse
    check_processes: Callable[[], None]  # raises StackError when one of the stack's processes died
    state_machine_arn: str = ""
    batch_state_machine_arn: str = ""
    _clients: dict = field(default_factory=dict)
    _clients_lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, service: str, endpoint: str | None = None):
        """A boto3 client for one of the stack's services (at `endpoint` if given), built once:
        building one costs tens of milliseconds, and `wait` polls twice a second."""
        endpoint = endpoint or self.endpoints.get(service, self.moto_url)
        with self._clients_lock:
            if (service, endpoint) not in self._clients:
                import boto3
                from botocore.config import Config
                self._clients[service, endpoint] = boto3.client(
                    service, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test",
                    endpoint_url=endpoint,
                    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))
            return self._clients[service, endpoint]

    def catalog(self):
        """A Glue client of the Data Catalog itself, moto, where glue-local forwards the catalog's
        calls: what is read here is what the functions wrote, not a view of glue-local's."""
        return self.client("glue", self.moto_url)

    def invoke(self, function: str, payload: dict) -> dict:
        """One function's answer through the stack's Lambda Invoke API (the gateway in front of
        cargo lambda watch); a function error is a StackError with its type and message."""
        out = self.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
        answer = json.loads(out["Payload"].read() or b"null")
        if out.get("FunctionError"):
            raise StackError(f"{function}: {answer.get('errorType')}: {answer.get('errorMessage')}")
        return answer

    # ---- running executions ------------------------------------------------------------------

    def start_execution(self, request: dict, name: str | None = None) -> str:
        """Starts an execution; the default name says what it unloads, as a schedule's would."""
        if name is None:
            what = f"{request.get('PrefixedTablename', 'request')}-{request.get('DayPartitionValue') or 'full'}"
            name = "".join(c if c.isalnum() or c in "-_" else "-" for c in what)[:60] + "-" + uuid.uuid4().hex[:8]
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(request))["executionArn"]

    def start_batch(self, batch: dict, name: str | None = None) -> str:
        """Starts a batch workflow execution (docs/CONTRACT.md, "Batch input")."""
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.batch_state_machine_arn, name=name or f"batch-{uuid.uuid4().hex[:12]}",
            input=json.dumps(batch))["executionArn"]

    def wait(self, arn: str, timeout: float = 600, on_event=None) -> dict:
        """Polls the execution until it ends; `on_event(event)` sees each new history event."""
        sfn = self.client("stepfunctions")
        seen = 0
        deadline = time.monotonic() + timeout
        while True:
            description = sfn.describe_execution(executionArn=arn)
            events = self.history(arn)
            for event in events[seen:]:
                if on_event:
                    on_event(event)
            seen = len(events)
            if description["status"] in TERMINAL:
                return description
            if time.monotonic() > deadline:
                raise StackError(f"execution {arn} still {description['status']} after {timeout:.0f} s")
            self.check_processes()
            time.sleep(0.5)

    def history(self, arn: str) -> list[dict]:
        sfn = self.client("stepfunctions")
        events, token = [], None
        while True:
            kwargs = {"executionArn": arn, "maxResults": 1000}
            if token:
                kwargs["nextToken"] = token
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    # ---- what an execution left behind ---------------------------------------------------------

    def lake_path(self, uri: str) -> Path:
        """The folder behind an s3:// URI of the local S3."""
        return self.state_dir / "s3" / uri.removeprefix("s3://")

    def warehouse_rows(self, table: str, key: str | None = None, day: str | None = None) -> int:
        import psycopg
        schema, name = table.split(".")
        query = f'select count(*) from "{schema}"."{name}"'
        params: tuple = ()
        if key and day:
            query += f' where "{key}" = %s::date'
            params = (day,)
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(query, params).fetchone()[0]

    def catalog_table(self, database: str, table: str) -> dict | None:
        """GetTable's Table, or None when the catalog has no such table."""
        glue = self.catalog()
        try:
            return glue.get_table(DatabaseName=database, Name=table)["Table"]
        except glue.exceptions.EntityNotFoundException:
            return None

    def catalog_partitions(self, database: str, table: str) -> list[dict]:
        """Every partition of a catalog table (GetPartitions, all pages), by value."""
        pages = self.catalog().get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
        return sorted((p for page in pages for p in page["Partitions"]), key=lambda p: p["Values"])

    def rows_at(self, location: str, classification: str) -> int:
        """The rows of the files under an s3:// location, read through the local S3 with pyarrow
        as a query engine reads a catalog partition (files named _* or .* are not data)."""
        import pyarrow.csv
        import pyarrow.dataset as ds
        import pyarrow.fs
        if classification not in READABLE_FORMATS:
            raise StackError(f"pyarrow cannot read {classification} files")
        s3 = pyarrow.fs.S3FileSystem(
            endpoint_override=self.endpoints["s3"].removeprefix("http://"), scheme="http",
            access_key="test", secret_key="test", region=REGION)
        file_format = classification
        if classification == "csv":  # the job's RFC 4180 quoting, values may hold newlines
            file_format = ds.CsvFileFormat(parse_options=pyarrow.csv.ParseOptions(newlines_in_values=True))
        return ds.dataset(location.removeprefix("s3://"), filesystem=s3, format=file_format).count_rows()

    def metric_sums(self, table: str | None) -> dict[str, float]:
        """Sum of every metric in our namespace, for one table or for the all-tables series."""
        cw = self.client("cloudwatch")
        listed = cw.list_metrics(Namespace=NAMESPACE)["Metrics"]

        def total(name: str, dims: list) -> float:
            stats = cw.get_metric_statistics(
                Namespace=NAMESPACE, MetricName=name, Dimensions=dims,
                StartTime=time.time() - 86_400, EndTime=time.time() + 3600, Period=86_400, Statistics=["Sum"])
            return sum(p["Sum"] for p in stats["Datapoints"])

        names = sorted({m["MetricName"] for m in listed})
        if table:
            dims = [{"Name": "TableName", "Value": table}]
            return {n: total(n, dims) for n in names if any(m["MetricName"] == n and m.get("Dimensions") == dims for m in listed)}
        # moto ignores an empty dimension filter (AWS matches only dimensionless data), so the
        # all-tables series is everything minus the per-table series.
        tables = {d["Value"] for m in listed for d in m.get("Dimensions", []) if d["Name"] == "TableName"}
        return {n: total(n, []) - sum(total(n, [{"Name": "TableName", "Value": t}]) for t in tables) for n in names}
