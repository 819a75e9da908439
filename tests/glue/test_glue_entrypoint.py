"""The real entry point, run the way the local Glue emulator runs it: a subprocess
`python glue-scripts/unload_table.py --arg value ...` with Glue's own arguments mixed in."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pyarrow.parquet as pq

from unload_support import HOT_DAY, HOT_ROWS, ROOT, data_files, job_args

SCRIPT = ROOT / "glue-scripts" / "unload_table.py"
GLUE_EXTRAS = ["--JOB_ID", "j_0123", "--JOB_RUN_ID", "jr_0123", "--JOB_NAME", "demo_master.orders_ExtractToDataLake",
               "--job-bookmark-option", "job-bookmark-disable", "--TempDir", "s3://tmp-bucket/temporary/"]
PASSWORD = "pw-that-must-never-be-printed"


def run_script(argv: list[str], env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UNLOAD_")}
    return subprocess.run([sys.executable, str(SCRIPT), *GLUE_EXTRAS, *argv], env={**clean, **env},
                          capture_output=True, text=True, timeout=300)


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_a_day_run_succeeds_with_a_connections_file_and_prints_no_secret(pg, tmp_path):
    connections = tmp_path / "connections.json"
    # Trust authentication ignores the password, so a fake one shows whether it would leak.
    connections.write_text(json.dumps({"tpc-rs": {**pg.connection(), "password": PASSWORD}}))
    root = tmp_path / "s3"
    proc = run_script(job_args(), {"UNLOAD_LOCAL_S3_ROOT": str(root), "UNLOAD_LOCAL_CONNECTIONS_FILE": str(connections)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = root / f"lake/dl/demo_master/parquet/orders/o_orderdate_key={HOT_DAY}"
    manifest = json.loads((folder / "_manifest.json").read_text())
    assert manifest["rows"] == manifest["source_rows"] == HOT_ROWS
    assert set(data_files(folder)) == {f["path"] for f in manifest["files"]}
    assert sum(pq.read_metadata(folder / f["path"]).num_rows for f in manifest["files"]) == HOT_ROWS
    assert f"unload_table: source: {HOT_ROWS} rows" in proc.stdout
    assert f"s3://lake/dl/demo_master/parquet/orders/o_orderdate_key={HOT_DAY}/_manifest.json" in proc.stdout
    assert PASSWORD not in proc.stdout + proc.stderr
    assert str(root) not in proc.stdout  # logs speak in s3:// URIs, not the local mapping


def test_a_failing_run_exits_non_zero_with_the_error_as_last_stderr_line(pg, tmp_path):
    proc = run_script(job_args(prefixed_table_name="demo_master.nope"),
                      {"UNLOAD_LOCAL_S3_ROOT": str(tmp_path), **pg.job_env(), "UNLOAD_LOCAL_JDBC_PASSWORD": PASSWORD})
    assert proc.returncode == 1
    assert last_line(proc.stderr).startswith("UnloadError: counting the source rows of demo_master.nope")
    assert 'relation "demo_master.nope" does not exist' in last_line(proc.stderr)
    assert PASSWORD not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_arguments_fail_fast_without_starting_spark(tmp_path):
    started = time.monotonic()
    proc = run_script(job_args(day_partition_value="2023-02-29"), {"UNLOAD_LOCAL_S3_ROOT": str(tmp_path)})
    assert proc.returncode == 1
    assert last_line(proc.stderr) == "UnloadError: --day_partition_value '2023-02-29' is not a real calendar date"
    assert time.monotonic() - started < 3  # no JVM was started
    assert not any(tmp_path.iterdir())
