#!/usr/bin/env python3
"""The whole workflow on one machine, no AWS, no Docker. This module owns the local stack's
lifecycle: every process binds to 127.0.0.1 on a free port, lives under one state folder, and is
stopped (with its children) at the end, on an error, or on Ctrl-C.

    PostgreSQL (local/pgcluster.py)       the warehouse stand-in, seeded with demo_master.orders
                                          (and lineitem, customer for the batch demo)
    s3-local   (local/s3-local)           S3 over <state>/s3: what Spark writes is what S3 serves
    moto (local/moto_server.py)           Step Functions (executes both real ASLs, the batch's
                                          child executions included), CloudWatch, the Glue Data
                                          Catalog, and the stack's outputs (CloudFormation)
    glue-local (local/glue-local)         the Glue job API; runs unload_table.py on local PySpark;
                                          forwards the Data Catalog's calls to moto
    redshift-data-local                   the Redshift Data API (the unload engine): runs the
      (local/redshift_data_local.py)      UNLOAD statements on PostgreSQL, writes into s3-local's folder
    cargo lambda watch                    the nine real Lambda binaries behind the Invoke API
    EventBridge (local/events_local.py)   the default bus: glue-local's and redshift-data-local's
                                          completion events, matched by the template's own rules,
                                          delivered to the complete function (or dropped,
                                          duplicated, delayed when a test asks)

moto's Step Functions engine sends its service calls to http://localhost:$MOTO_PORT, so moto
itself listens on another port and MOTO_PORT names the Lambda gateway's (local/lambda_gateway.py:
cargo lambda watch behind the Invoke API's exact answers; S3 calls passed on to s3-local, every
other call to moto).

Used by `make demo` (python local/stack.py demo) and by tests/e2e. What they ask the running
stack (executions, the lake, the warehouse, metrics) is local/stack_queries.py: `stack.queries`.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import events_local  # noqa: E402
import lambda_gateway  # noqa: E402
from asl import BATCH_ASL_PATH, asl_text, substitute  # noqa: E402
import pgcluster  # noqa: E402
from stack_queries import NAMESPACE, READABLE_FORMATS, REGION, StackError, StackQueries  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "debug"
ACCOUNT = "123456789012"
CONNECTION = "local-warehouse"
STACK_NAME = "local"  # the job name prefix and owner tag a deployed stack would use
CATALOG_DATABASE = f"{STACK_NAME}_lake"  # the template's default: <stack name>_lake
LAKE_BUCKET = "datalake"
ARTIFACTS_BUCKET = "artifacts"
SCRIPT_KEY = "glue-scripts/unload_table.py"
STATE_MACHINE = "redshift-unload"
BATCH_STATE_MACHINE = "redshift-unload-batch"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE}"
BATCH_MAX_CONCURRENCY = "4"  # the template's BatchMaxConcurrency default
# The three tables of the batch demo, one day each (local/seed_demo.sql).
BATCH_TABLES = [
    {"PrefixedTablename": "demo_master.orders", "DayPartitionKey": "o_orderdate"},
    {"PrefixedTablename": "demo_master.lineitem", "DayPartitionKey": "l_shipdate"},
    {"PrefixedTablename": "demo_master.customer", "DayPartitionKey": "c_since"},
]
BATCH_LIST_KEY = "batch/tables.json"  # where the schedule's table list lives (the stack's BatchTablesUri)
WAREHOUSE_CLUSTER = "local-warehouse"  # the cluster the unload engine's statements name
WAREHOUSE_DB_USER = "unload"
FUNCTIONS = {
    "ValidateFunctionArn": "validate",
    "EnsureJobFunctionArn": "ensure-job",
    "StartRunFunctionArn": "start-run",
    "CheckStatusFunctionArn": "check-status",
    "ReportFunctionArn": "report",
    "RegisterFunctionArn": "register",
    "PlanFunctionArn": "plan",
    "SummarizeFunctionArn": "summarize",
    "CompleteFunctionArn": "complete",  # not in the ASL: the local EventBridge bus invokes it
}
WAIT_PREFIX = "tmp/waits"  # the template's <GlueTempPrefix>/waits: where WaitForRun leaves its token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Process:
    """A child process in its own process group, with its output in a log file."""
    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(timeout=5)


@dataclass
class Stack:
    state_dir: Path
    rows: int = 1_000_000
    days: int = pgcluster.DEFAULT_DAYS
    hot_rows: int = pgcluster.DEFAULT_HOT_ROWS
    say: callable = print
    processes: list = field(default_factory=list)
    ports: dict = field(default_factory=dict)
    cluster: pgcluster.Cluster | None = None
    gateway: object = None
    bus_server: object = None  # local EventBridge (events_local); bus: what it delivered
    bus: object = None
    queries: StackQueries | None = None  # once every endpoint is up

    # ---- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "Stack":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        for sub in ("logs", "s3", "glue"):
            (self.state_dir / sub).mkdir(parents=True, exist_ok=True)
        self._build()
        t = time.monotonic()
        self.cluster = pgcluster.start(self.state_dir / "pg", rows=self.rows, hot_rows=self.hot_rows, days=self.days)
        self.say(f"  warehouse   PostgreSQL on 127.0.0.1:{self.cluster.port}, demo_master.orders "
                 f"({self.rows:,} rows) [{time.monotonic() - t:.1f} s]")
        connections = self.cluster.write_connections_file(self.state_dir / "connections.json", CONNECTION)

        self.ports["s3"] = self._spawn_ready("s3-local", [str(TARGET / "s3-local"), "--bind", "127.0.0.1:0",
                                                          "--root", str(self.state_dir / "s3")], self._aws_env())
        self.say(f"  s3          s3-local on 127.0.0.1:{self.ports['s3']} over {self.state_dir / 's3'}")

        self.ports["lambda"] = free_port()
        self.gateway = lambda_gateway.start(self.ports["lambda"])
        self.ports["gateway"] = self.gateway.server_address[1]
        self.ports["moto"] = free_port()
        moto_env = dict(self._aws_env(), MOTO_PORT=str(self.ports["gateway"]))
        self._spawn("moto", [str(VENV_BIN / "python"), str(ROOT / "local" / "moto_server.py"),
                            "-H", "127.0.0.1", "-p", str(self.ports["moto"])], moto_env)
        self._wait_for(lambda: port_open(self.ports["moto"]), "moto", 60)
        self.gateway.aws_upstream = self.moto_url
        self.gateway.s3_upstream = f"http://127.0.0.1:{self.ports['s3']}"
        self.bus_server, self.bus = events_local.start(STACK_NAME, f"http://127.0.0.1:{self.ports['gateway']}")
        self.ports["events"] = self.bus_server.server_address[1]
        self._post(f"{self.moto_url}/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        self.say(f"  aws         moto (Step Functions, CloudWatch, Glue Data Catalog) on 127.0.0.1:{self.ports['moto']}")

        glue_env = dict(self._aws_env(), UNLOAD_LOCAL_CONNECTIONS_FILE=str(connections), PYTHONUNBUFFERED="1")
        self.ports["glue"] = self._spawn_ready("glue-local", [
            str(TARGET / "glue-local"), "--bind", "127.0.0.1:0", "--s3-root", str(self.state_dir / "s3"),
            "--state-dir", str(self.state_dir / "glue"), "--python", str(VENV_BIN / "python"),
            "--catalog-endpoint", self.moto_url, "--events-endpoint", self.events_url], glue_env)
        self.say(f"  glue        glue-local on 127.0.0.1:{self.ports['glue']} (runs the job on local PySpark; "
                 f"the catalog's calls go to moto)")

        self.ports["redshift-data"] = self._spawn_ready("redshift-data-local", [
            str(VENV_BIN / "python"), str(ROOT / "local" / "redshift_data_local.py"), "--bind", "127.0.0.1:0",
            "--s3-root", str(self.state_dir / "s3"), "--dsn", self.cluster.dsn,
            "--events-endpoint", self.events_url], dict(self._aws_env(), PYTHONUNBUFFERED="1"))
        self.say(f"  warehouse   redshift-data-local on 127.0.0.1:{self.ports['redshift-data']} (the Data API: "
                 f"UNLOAD on PostgreSQL into s3-local's folder)")

        env_file = self.state_dir / "lambda.env"
        env_file.write_text("".join(f"{k}={dotenv_value(v)}\n" for k, v in self.lambda_env().items()))
        self._spawn("lambdas", [str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "--ignore-changes", "--quiet",
                                "-A", "127.0.0.1", "-P", str(self.ports["lambda"]), "--env-file", str(env_file)],
                    dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}"), cwd=ROOT)
        self._wait_for(lambda: port_open(self.ports["lambda"]), "cargo lambda watch", 120)
        self.say(f"  lambdas     cargo lambda watch on 127.0.0.1:{self.ports['lambda']} "
                 f"({', '.join(FUNCTIONS.values())})")
        self.queries = StackQueries(
            self.state_dir, {"s3": f"http://127.0.0.1:{self.ports['s3']}", "glue": f"http://127.0.0.1:{self.ports['glue']}",
                             "lambda": f"http://127.0.0.1:{self.ports['gateway']}",
                             "redshift-data": f"http://127.0.0.1:{self.ports['redshift-data']}"},
            self.moto_url, self.cluster.dsn, lambda: self._check_processes("died during the execution"))
        self.deploy()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        self.queries = None
        if self.bus_server is not None:
            self.bus_server.shutdown()
            self.bus_server.server_close()
            self.bus_server = None
        if self.gateway is not None:
            self.gateway.shutdown()
            self.gateway.server_close()
            self.gateway = None
        if self.cluster is not None:
            pgcluster.stop(self.state_dir / "pg")
            self.cluster = None

    def _build(self) -> None:
        """The binaries the stack runs (a no-op when they are fresh). Every build outside `cargo
        test` selects the whole workspace's binaries: cargo unifies dependency features over the
        packages a build selects, so another selection (`-p unloadctl`, `-p a -p b`) compiles the
        AWS SDK crates again with other features, minutes each on 2 cores. `cargo run --bin`, as
        cargo lambda watch runs a function, selects the same set."""
        cmd = ["cargo", "build", "--locked", "--quiet", "--workspace", "--bins"]
        if subprocess.run(cmd, cwd=ROOT).returncode != 0:
            raise StackError("cargo build of the stack's binaries failed")

    def _spawn(self, name: str, cmd: list[str], env: dict, cwd: Path | None = None) -> Process:
        log = self.state_dir / "logs" / f"{name}.log"
        out = open(log, "w")
        popen = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                 start_new_session=True, stdin=subprocess.DEVNULL)
        out.close()
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def _spawn_ready(self, name: str, cmd: list[str], env: dict) -> int:
        """Starts a server that prints `<name> listening on http://127.0.0.1:<port>`; its port."""
        process = self._spawn(name, cmd, env)
        marker = f"{name} listening on http://127.0.0.1:"
        found = {}

        def ready() -> bool:
            for line in process.log.read_text(errors="replace").splitlines():
                if line.startswith(marker):
                    found["port"] = int(line[len(marker):].strip().rstrip("/"))
                    return True
            if not process.alive():
                raise StackError(f"{name} exited at start:\n{process.tail()}")
            return False

        self._wait_for(ready, name, 60)
        return found["port"]

    def _wait_for(self, check, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            self._check_processes(f"exited while waiting for {what}")
            time.sleep(0.2)
        raise StackError(f"{what} was not ready within {timeout:.0f} s")

    def _check_processes(self, doing: str) -> None:
        """Raises StackError, with the end of its log, when one of the processes has ended."""
        for p in self.processes:
            if not p.alive():
                raise StackError(f"{p.name} {doing}:\n{p.tail()}")

    @staticmethod
    def _post(url: str, body: dict) -> None:
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    # ---- configuration -------------------------------------------------------------------------

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['events']}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['moto']}"

    @staticmethod
    def _aws_env() -> dict:
        """Dummy credentials: every endpoint here is local."""
        return dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                    AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION)

    def lambda_env(self) -> dict:
        """The functions' environment: the template's variables, pointed at the local stack."""
        return {
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_GLUE": f"http://127.0.0.1:{self.ports['glue']}",
            "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{self.ports['s3']}",
            "AWS_ENDPOINT_URL_CLOUDWATCH": self.moto_url,
            "AWS_ENDPOINT_URL_SFN": self.moto_url,
            # plan and summarize: the unload workflow whose executions the batch runs.
            "UNLOAD_STATE_MACHINE_ARN": STATE_MACHINE_ARN,
            "AWS_ENDPOINT_URL_REDSHIFT_DATA": f"http://127.0.0.1:{self.ports['redshift-data']}",
            # The unload engine's warehouse, as template.yaml sets it from the stack's parameters.
            "REDSHIFT_DATA_CLUSTER_IDENTIFIER": WAREHOUSE_CLUSTER,
            "REDSHIFT_DATA_DATABASE": self.cluster.dbname,
            "REDSHIFT_DATA_DB_USER": WAREHOUSE_DB_USER,
            # The smallest MAXFILESIZE UNLOAD takes, so the demo day shows its part files.
            "UNLOAD_MAX_FILE_SIZE_MB": "5",
            "RUST_LOG": "info",
            "UNLOAD_DEFAULT_S3_PATH": f"s3://{LAKE_BUCKET}/lake",
            "UNLOAD_DEFAULT_GLUE_CONNECTION": CONNECTION,
            "UNLOAD_DEFAULT_DAY_PARTITION_KEY": "o_orderdate",
            # What template.yaml gives validate: a stack's own job names and allowlists.
            "UNLOAD_JOB_NAME_PREFIX": f"{STACK_NAME}_",
            "UNLOAD_ALLOWED_S3_PATH": f"s3://{LAKE_BUCKET}/lake",
            "UNLOAD_ALLOWED_GLUE_CONNECTIONS": CONNECTION,
            "UNLOAD_DEFAULT_REDSHIFT_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/local-redshift-unload",
            "UNLOAD_ALLOWED_REDSHIFT_ROLE_ARNS": f"arn:aws:iam::{ACCOUNT}:role/local-redshift-unload",
            "UNLOAD_CATALOG_DATABASE": CATALOG_DATABASE,
            "GLUE_JOB_TAGS": json.dumps({"redshift-unload:stack": STACK_NAME}),
            "GLUE_JOB_ARN_PREFIX": f"arn:aws:glue:{REGION}:{ACCOUNT}:job/",
            "GLUE_SCRIPT_LOCATION": f"s3://{ARTIFACTS_BUCKET}/{SCRIPT_KEY}",
            "GLUE_JOB_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/local-glue-job",
            "GLUE_TEMP_DIR": f"s3://{ARTIFACTS_BUCKET}/tmp",
            "GLUE_JOB_TIMEOUT_MINUTES": "30",
            "SOURCE_KIND": "postgresql",
            # Local runs take seconds, not hours: poll often.
            "POLL_MIN_SECONDS": "2", "POLL_MAX_SECONDS": "10", "POLL_GROWTH_PERCENT": "20",
            "METRICS_NAMESPACE": NAMESPACE,
            # complete: where WaitForRun leaves its token, and this stack's run names.
            "WAIT_TOKEN_URI": f"s3://{ARTIFACTS_BUCKET}/{WAIT_PREFIX}",
            "RUN_NAME_PREFIX": f"{STACK_NAME}_",
        }

    # ---- "deployment" ------------------------------------------------------------------------

    def deploy(self) -> None:
        """What `sam deploy` does, locally: buckets, the script upload, the catalog database, the
        state machine."""
        s3 = self.queries.client("s3")
        for bucket in (LAKE_BUCKET, ARTIFACTS_BUCKET):
            if not (self.state_dir / "s3" / bucket).is_dir():
                s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=SCRIPT_KEY, Body=(ROOT / "glue-scripts" / "unload_table.py").read_bytes())
        self.queries.catalog().create_database(DatabaseInput={
            "Name": CATALOG_DATABASE, "Description": "Tables of the local unload stack (registered by its register function)."})
        s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=BATCH_LIST_KEY, Body=json.dumps({"Tables": BATCH_TABLES}).encode())
        sfn = self.queries.client("stepfunctions")
        role = f"arn:aws:iam::{ACCOUNT}:role/local-sfn"
        self.queries.state_machine_arn = sfn.create_state_machine(
            name=STATE_MACHINE, definition=local_definition(asl_text()), roleArn=role)["stateMachineArn"]
        self.queries.batch_state_machine_arn = sfn.create_state_machine(
            name=BATCH_STATE_MACHINE, definition=local_definition(asl_text(BATCH_ASL_PATH)), roleArn=role)["stateMachineArn"]
        self._register_outputs()
        self._warm_complete()
        self.say(f"  deployed    script s3://{ARTIFACTS_BUCKET}/{SCRIPT_KEY}, catalog database {CATALOG_DATABASE}, "
                 f"state machines {STATE_MACHINE} and {BATCH_STATE_MACHINE}, stack outputs of {STACK_NAME!r}")

    def _warm_complete(self) -> None:
        """cargo lambda watch starts a function with `cargo run` on its first invocation, seconds
        that would let a poll beat the first completion event; on AWS a Rust function starts in
        milliseconds. One event of another stack (ignored) starts it now."""
        event = json.loads((ROOT / "events" / "complete-glue.json").read_text())
        event["detail"]["jobName"] = "another-stack_warm-up"
        answer = self.queries.invoke("complete", event)
        if answer.get("action") != "ignored":
            raise StackError(f"the complete function answered a warm-up event with {answer}")

    def _register_outputs(self) -> None:
        """A CloudFormation stack named like the deployed one, holding only its outputs, so
        `unloadctl --stack local` finds the state machines through DescribeStacks as on AWS."""
        outputs = {"StateMachineArn": self.queries.state_machine_arn,
                   "BatchStateMachineArn": self.queries.batch_state_machine_arn,
                   "BatchTablesUri": f"s3://{ARTIFACTS_BUCKET}/{BATCH_LIST_KEY}"}
        template = {"Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                    "Outputs": {name: {"Value": value} for name, value in outputs.items()}}
        self.queries.client("cloudformation").create_stack(StackName=STACK_NAME, TemplateBody=json.dumps(template))

    @property
    def state_machine_arn(self) -> str:
        return self.queries.state_machine_arn


def dotenv_value(value: str) -> str:
    """A value as a dotenv file (cargo lambda watch --env-file) reads it back unchanged: plain when
    it is, else single-quoted (literal; our values never hold a single quote)."""
    if value and all(c.isalnum() or c in "_-.:/@=,+" for c in value):
        return value
    if "'" in value or "\n" in value:
        raise StackError(f"cannot write {value!r} to a dotenv file")
    return f"'{value}'"


def local_definition(asl: str) -> str:
    """The real ASL with local substitutions: bare function names (cargo lambda watch serves
    /functions/<binary name>/invocations) and a one-hour execution timeout."""
    try:
        return substitute(asl, dict(FUNCTIONS, Partition="aws", ExecutionTimeoutSeconds="3600",
                                    UnloadStateMachineArn=STATE_MACHINE_ARN, BatchMaxConcurrency=BATCH_MAX_CONCURRENCY,
                                    WaitBucket=ARTIFACTS_BUCKET, WaitPrefix=WAIT_PREFIX))
    except KeyError as err:
        raise StackError(f"the ASL has a substitution the local stack does not fill: {err.args[0]}") from None


# ---- the demo ------------------------------------------------------------------------------------

def describe_event(event: dict) -> str | None:
    """A progress line for the events a person watching the console would look at."""
    kind = event["type"]
    if kind.endswith("StateEntered"):
        return event["stateEnteredEventDetails"]["name"]
    if kind == "TaskStateExited" or kind.endswith("StateExited"):
        details = event["stateExitedEventDetails"]
        if details["name"] in ("StartRun", "CheckStatus"):
            state = json.loads(details.get("output") or "{}")
            run = state.get("run") or {}
            what = "UNLOAD statement" if (state.get("request") or {}).get("engine") == "unload" else "Glue run"
            return (f"  └ {what} {run.get('id', '?')[:12]}… {run.get('state')} "
                    f"(poll {run.get('polls')}, next look in {run.get('next_poll_seconds')} s)")
        if details["name"] == "RegisterInCatalog":
            c = json.loads(details.get("output") or "{}").get("catalog") or {}
            return f"  └ catalog {c.get('database')}.{c.get('table')}: {catalog_summary(c)}"
    if kind == "TaskSucceeded" and "woken_by" in (event["taskSucceededEventDetails"].get("output") or ""):
        wake = json.loads(event["taskSucceededEventDetails"]["output"])
        return f"  └ woken by the completion event {wake.get('detail_type')} ({wake.get('state')})"
    if kind == "ExecutionFailed":
        d = event.get("executionFailedEventDetails", {})
        return f"FAILED: {d.get('error')}: {d.get('cause')}"
    return None


def run_demo(args: argparse.Namespace) -> int:
    if args.batch:
        return run_batch_demo(args)
    request = {"PrefixedTablename": args.table, "SnapshotYN": "n" if args.full else "y",
               "FileFormat": args.format, "WriteMode": "overwrite",
               "s3FilePath": f"s3://{LAKE_BUCKET}/lake", "GlueRSConnection": CONNECTION,
               "DayPartitionKey": args.key, "Engine": args.engine}
    if not args.full:
        request["DayPartitionValue"] = args.day
    wall = time.monotonic()
    print(f"== Starting the local stack in {args.state_dir}")
    with Stack(Path(args.state_dir), rows=args.rows) as stack:
        print(f"   ready in {time.monotonic() - wall:.1f} s\n")
        print("== Request (the original sample's keys):")
        print("   " + json.dumps(request))
        arn = stack.queries.start_execution(request)
        print(f"\n== Execution {arn.rsplit(':', 1)[-1]}")
        result = follow(stack, arn, describe_event)
        output = json.loads(result.get("output") or "{}")
        if result["status"] != "SUCCEEDED":
            print(f"   error: {result.get('error')}\n   cause: {result.get('cause')}")
            print(f"   logs:  {stack.state_dir / 'logs'}")
            return 1
        print_outcome(stack.queries, output, query_day=args.day)
        if args.keep:
            keep_running(stack)
    print(f"\n== Stack stopped. Wall time {time.monotonic() - wall:.1f} s.")
    return 0


def follow(stack: Stack, arn: str, describe) -> dict:
    """Waits for the execution, printing each event `describe` has a line for with the seconds
    since it started, then its status; returns DescribeExecution's answer."""
    began = time.monotonic()

    def show(event: dict) -> None:
        line = describe(event)
        if line:
            print(f"   {time.monotonic() - began:6.1f} s  {line}", flush=True)

    result = stack.queries.wait(arn, on_event=show)
    print(f"\n== Status: {result['status']}  ({time.monotonic() - began:.1f} s)")
    return result


def run_batch_demo(args: argparse.Namespace) -> int:
    """The batch workflow over the schedule's table list (three tables), one day each."""
    batch = {"Name": "demo", "TablesUri": f"s3://{ARTIFACTS_BUCKET}/{BATCH_LIST_KEY}",
             "Defaults": {"SnapshotYN": "y", "DayPartitionValue": args.day, "Engine": args.engine,
                          "FileFormat": args.format}}
    wall = time.monotonic()
    print(f"== Starting the local stack in {args.state_dir}")
    with Stack(Path(args.state_dir), rows=args.rows) as stack:
        print(f"   ready in {time.monotonic() - wall:.1f} s\n")
        print(f"== Table list s3://{ARTIFACTS_BUCKET}/{BATCH_LIST_KEY} (the stack's BatchTablesUri):")
        for entry in BATCH_TABLES:
            print("   " + json.dumps(entry))
        print("== Batch input:\n   " + json.dumps(batch))
        arn = stack.queries.start_batch(batch, name=f"demo-{uuid.uuid4().hex[:8]}")
        print(f"\n== Batch execution {arn.rsplit(':', 1)[-1]} (children run at most {BATCH_MAX_CONCURRENCY} at once)")
        result = follow(stack, arn, describe_batch_event)
        summary = json.loads(result.get("output") or result.get("cause") or "{}")
        print(f"   {summary.get('message')}")
        sfn = stack.queries.client("stepfunctions")
        print("\n== Children (each its own execution of the unload workflow):")
        for entry in BATCH_TABLES:
            table, key = entry["PrefixedTablename"], entry["DayPartitionKey"]
            name = "-".join([table.replace(".", "-"), args.day, "demo"])
            child = sfn.describe_execution(executionArn=f"{stack.queries.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}")
            report = (json.loads(child.get("output") or "{}").get("report") or {})
            warehouse = stack.queries.warehouse_rows(table, key, args.day)
            print(f"   {table:<22} {child['status']:<10} {report.get('rows', 0):>7,} rows landed, "
                  f"{warehouse:>7,} in the warehouse, {report.get('files', 0)} files   {name}")
        print(f"\n== CloudWatch metrics ({NAMESPACE}), Batch=demo:")
        cloudwatch = stack.queries.client("cloudwatch")
        for metric in ("BatchTablesSucceeded", "BatchTablesFailed", "BatchTablesSkipped", "BatchRowsUnloaded"):
            stats = cloudwatch.get_metric_statistics(
                Namespace=NAMESPACE, MetricName=metric, Dimensions=[{"Name": "Batch", "Value": "demo"}],
                StartTime=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1),
                EndTime=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5),
                Period=3600, Statistics=["Sum"])["Datapoints"]
            print(f"   {metric:<22} {sum(d['Sum'] for d in stats):g}")
        if args.keep:
            keep_running(stack)
        if result["status"] != "SUCCEEDED":
            print(f"   logs:  {stack.state_dir / 'logs'}")
            return 1
    print(f"\n== Stack stopped. Wall time {time.monotonic() - wall:.1f} s.")
    return 0


def describe_batch_event(event: dict) -> str | None:
    """A progress line per child started and ended."""
    kind = event["type"]
    if kind == "TaskStateEntered" and event["stateEnteredEventDetails"]["name"] in ("Plan", "Summarize"):
        return event["stateEnteredEventDetails"]["name"]
    if kind == "TaskSubmitted" and event["taskSubmittedEventDetails"].get("resourceType") == "states":
        child = json.loads(event["taskSubmittedEventDetails"].get("output") or "{}").get("ExecutionArn", "?")
        return f"  child started   {child.rsplit(':', 1)[-1]}"
    if kind in ("TaskSucceeded", "TaskFailed"):
        details = event.get("taskSucceededEventDetails") or event.get("taskFailedEventDetails") or {}
        if details.get("resourceType") == "states":
            if kind == "TaskSucceeded":
                child = json.loads(details.get("output") or "{}")
                return f"  child SUCCEEDED {child.get('Name')}"
            return f"  child ended     {details.get('error')}"
    return None


def catalog_summary(report: dict) -> str:
    """register's answer (the execution's `catalog`) in one line."""
    counts = ", ".join(f"{report.get('partitions_' + what)} {what}"
                       for what in ("created", "updated", "unchanged", "deleted"))
    return f"table {report.get('action')}, partitions {counts}"


def print_outcome(queries: StackQueries, output: dict, query_day: str | None = None) -> None:
    request, report = output["request"], output["report"]
    target = queries.lake_path(request["target_uri"])
    print(f"\n== Files in {request['target_uri']}")
    total = 0
    for path in sorted(p for p in target.rglob("*") if p.is_file()):
        size = path.stat().st_size
        total += size
        print(f"   {size:>12,}  {path.relative_to(target)}")
    print(f"   {total:>12,}  bytes in all")
    key, day = request.get("partition_key"), request.get("partition_value")
    warehouse = queries.warehouse_rows(request["table"], key, day)
    where = f" where {key} = {day}" if day else ""
    print(f"\n== Rows: {report['rows']:,} landed, {warehouse:,} in the warehouse{where} "
          f"({'equal' if report['rows'] == warehouse else 'DIFFERENT'})")
    manifest = target / "_manifest.json"
    print(f"\n== Manifest ({manifest.name}):")
    print("   " + json.dumps(json.loads(manifest.read_text()), indent=2).replace("\n", "\n   "))
    print(f"\n== CloudWatch metrics ({NAMESPACE}):")
    for table in (request["table"], None):
        sums = queries.metric_sums(table)
        label = f"TableName={table}" if table else "all tables"
        print(f"   {label:<32} " + ", ".join(f"{k}={v:g}" for k, v in sorted(sums.items())))
    print_catalog(queries, output, query_day)


def print_catalog(queries: StackQueries, output: dict, query_day: str | None) -> None:
    """The catalog table the run registered, read back from moto, and a query through it: the
    rows at a partition's catalog Location against the warehouse's for that day (the run's day;
    for a whole table, query_day when it has a partition, else the last one)."""
    registered = output.get("catalog")
    if not registered:
        print("\n== Glue Data Catalog: this run was not registered")
        return
    database, name = registered["database"], registered["table"]
    table = queries.catalog_table(database, name)
    if table is None:
        raise StackError(f"register reported {database}.{name}, but the catalog has no such table")
    sd = table["StorageDescriptor"]
    print(f"\n== Glue Data Catalog (moto): {database}.{name}, {catalog_summary(registered)}")
    print(f"   location     {sd['Location']}")
    print(f"   format       {table['Parameters'].get('classification')} ({sd['SerdeInfo']['SerializationLibrary']})")
    columns = ", ".join(f"{c['Name']} {c['Type']}" for c in sd["Columns"])
    print("\n".join(textwrap.wrap(columns, 96, initial_indent="   columns      ", subsequent_indent=" " * 16)))
    keys = table.get("PartitionKeys") or []
    print("   partitioned  " + (", ".join(f"{k['Name']} {k['Type']}" for k in keys) or "no (a flat table)"))
    partitions = queries.catalog_partitions(database, name)
    for p in partitions if len(partitions) <= 3 else []:
        print(f"   partition    {p['Values'][0]}  {p['StorageDescriptor']['Location']}")
    if len(partitions) > 3:
        print(f"   partitions   {len(partitions):,}, {partitions[0]['Values'][0]} to {partitions[-1]['Values'][0]}")
    if not partitions:
        return
    request = output["request"]
    days = [p["Values"][0] for p in partitions]
    day = request.get("partition_value") or (query_day if query_day in days else days[-1])
    partition = partitions[days.index(day)]
    location, classification = partition["StorageDescriptor"]["Location"], table["Parameters"].get("classification")
    print(f"\n== A query through the catalog: the rows at partition {day}'s Location")
    if classification not in READABLE_FORMATS:
        print(f"   pyarrow cannot read {classification} files: not queried here (Athena or Spark can)")
        return
    rows = queries.rows_at(location, classification)
    warehouse = queries.warehouse_rows(request["table"], request["partition_key"], day)
    print(f"   {rows:,} rows read with pyarrow from {location}")
    print(f"   {warehouse:,} rows in the warehouse where {request['partition_key']} = {day} "
          f"({'equal' if rows == warehouse else 'DIFFERENT'})")


def keep_running(stack: Stack) -> None:
    print("\n== The stack stays up until Ctrl-C. Point the AWS CLI or unloadctl at it:")
    print(f"   export AWS_ENDPOINT_URL={stack.moto_url} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION={REGION}")
    print(f"   state machine: {stack.state_machine_arn}")
    print(f"   S3 endpoint:   http://127.0.0.1:{stack.ports['s3']} (folder {stack.state_dir / 's3'})")
    print(f"   Glue endpoint: http://127.0.0.1:{stack.ports['glue']} (catalog database {CATALOG_DATABASE}, held by moto)")
    print(f"   Data API:      http://127.0.0.1:{stack.ports['redshift-data']} (cluster {WAREHOUSE_CLUSTER})")
    try:
        while all(p.alive() for p in stack.processes):
            time.sleep(1)
    except KeyboardInterrupt:
        print()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="local/stack.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="start the stack, unload one day (or the whole table), report, stop")
    demo.add_argument("--table", default="demo_master.orders")
    demo.add_argument("--key", default="o_orderdate", help="the day partition key column")
    demo.add_argument("--day", default="1998-07-21", help="the day to unload (YYYY-MM-DD)")
    demo.add_argument("--full", action="store_true", help="unload the whole table, one folder per day")
    demo.add_argument("--format", default="parquet", choices=["parquet", "orc", "json", "csv", "avro"])
    demo.add_argument("--engine", default="glue", choices=["glue", "unload"],
                      help="glue: a Glue job run on local PySpark; unload: Redshift UNLOAD through the Data API "
                           "(redshift-data-local)")
    demo.add_argument("--rows", type=int, default=1_000_000, help="rows in the demo warehouse table")
    demo.add_argument("--batch", action="store_true",
                      help="run the batch workflow over the stack's table list (three tables, the --day of each)")
    demo.add_argument("--keep", action="store_true", help="keep the stack up after the run, until Ctrl-C")
    demo.add_argument("--state-dir", default=str(ROOT / ".state" / "demo"))
    args = parser.parse_args(argv)
    # Ctrl-C and SIGTERM unwind through the Stack's context manager, which stops everything.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run_demo(args)
    except StackError as err:
        print(f"\nlocal stack: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; the stack was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
