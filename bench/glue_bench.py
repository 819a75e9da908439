#!/usr/bin/env python3
"""Data-path benchmark (`make bench-glue`): the Glue job on local Spark against PostgreSQL.

Seeds 1,000,000 TPC-H-like orders (2,406 days, one day of exactly 10,000 rows), then for each
scenario measures in the same run:
  * the job: `python glue-scripts/unload_table.py ...` as a subprocess, the way the local Glue
    emulator runs it (wall time includes the JVM/Spark start);
  * the raw read limit: PostgreSQL `COPY (<the job's own query>) TO STDOUT` into /dev/null.
Then it measures the overwrite protocol (issue 11) against the one it replaced, in the same run:
each scenario's lake, as the data-path run left it, is copied once per protocol and overwritten by the
current script and by the script as of OLD_PROTOCOL_COMMIT (Spark's own static/dynamic overwrite): wall time, rows/s, files listed, files deleted (from the lake before and after), and the
bytes an S3 commit would copy (the files written times the renames their committer makes on S3;
docs/ARCHITECTURE.md "What the commit costs on S3").
Prints Markdown; `--update-docs` also rewrites the "## Data path" and "## Overwrite protocol"
sections of docs/BENCHMARKS.md. Takes about five minutes on 2 idle cores.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "glue-scripts"))
sys.path.insert(0, str(ROOT / "local"))
sys.path.insert(0, str(ROOT / "bench"))

import benchdoc  # noqa: E402
import pgcluster  # noqa: E402
import unload_table  # noqa: E402

ROWS, HOT_ROWS, DAYS = 1_000_000, 10_000, 2_405
HOT_DAY = "1998-07-21"
DOC = benchdoc.DOC
SECTION = "## Data path"
PROTOCOL_SECTION = "## Overwrite protocol"
# The last commit whose script overwrote with Spark's own overwrite (before issue 11).
OLD_PROTOCOL_COMMIT = "754a584ed7c1aa267d8166c9af878b8556f09733"
# Copies an S3 commit makes of each written byte (docs/ARCHITECTURE.md): the old dynamic
# partition overwrite stages files and renames them in (the S3-optimized committer does not apply
# to it); its static overwrite (flat) and the new protocol's append use Glue's S3-optimized
# Parquet committer, which writes each file to its final key at task commit.
S3_COPIES = {("old", "partitioned"): 2, ("old", "flat"): 0, ("new", "partitioned"): 0, ("new", "flat"): 0}

SCENARIOS = [
    ("whole table, one folder per day", {"snapshot_yn": "n", "day_partition_key": "o_orderdate"}),
    ("whole table, flat", {"snapshot_yn": "n"}),
    ("one day (hot day)", {"snapshot_yn": "y", "day_partition_key": "o_orderdate", "day_partition_value": HOT_DAY}),
]


def job_argv(scope_args: dict) -> list[str]:
    args = {"prefixed_table_name": "demo_master.orders", "file_format": "parquet", "write_mode": "overwrite",
            "s3path_datalake": "s3://lake/bench", "glue_connection": "bench", "execution_id": "bench",
            "source_kind": "postgresql", **scope_args}
    return [token for name, value in args.items() for token in (f"--{name}", value)]


def raw_copy_seconds(cluster, query: str) -> float:
    """The read limit: the same query streamed by COPY into /dev/null, no parsing, no writing."""
    with psycopg.connect(cluster.dsn) as conn, open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        with conn.cursor().copy(f"COPY ({query}) TO STDOUT") as copy:
            for chunk in copy:
                sink.write(chunk)
        return time.perf_counter() - started


def run_job(argv: list[str], env: dict, script: Path = ROOT / "glue-scripts" / "unload_table.py",
            ) -> tuple[float, dict, str]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script), *argv], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"glue_bench: the job failed: {proc.stderr.strip().splitlines()[-1:]}")
    plan = unload_table.build_plan(unload_table.parse_args(argv))
    manifest_path = unload_table.io_location(plan.target_uri, env)[len("file://"):] + unload_table.MANIFEST_NAME
    return seconds, json.loads(Path(manifest_path).read_text()), proc.stdout


def lake_files(root: Path) -> set[str]:
    """Data files (Spark's hidden-file rule) below root."""
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and not any(unload_table.is_hidden(part) for part in p.relative_to(root).parts)}


def old_script(work: Path) -> Path | None:
    """The script as of OLD_PROTOCOL_COMMIT, from git (None outside a git checkout)."""
    proc = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD_PROTOCOL_COMMIT}:glue-scripts/unload_table.py"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    path = work / "old" / "unload_table.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(proc.stdout)
    return path


def protocol_runs(argv: list[str], env: dict, filled: Path, name: str, old: Path | None) -> list[dict]:
    """The overwrite by each protocol, each on its own copy of the lake the data-path run filled."""
    figures = []
    scripts = [("new", ROOT / "glue-scripts" / "unload_table.py")] + ([("old", old)] if old else [])
    for protocol, script in scripts:
        root = filled.with_name(f"{filled.name}-{protocol}")
        shutil.copytree(filled, root)
        run_env = {**env, "UNLOAD_LOCAL_S3_ROOT": str(root)}
        before = lake_files(root)
        seconds, manifest, stdout = run_job(argv, run_env, script)
        after = lake_files(root)
        listed = next((int(line.split("listed: ")[1].split()[0]) for line in stdout.splitlines()
                       if "listed: " in line), len(before))
        shape = "partitioned" if "--day_partition_key" in argv else "flat"
        figures.append({"protocol": protocol, "seconds": seconds, "rows": manifest["rows"],
                        "written": len(manifest["files"]), "bytes": manifest["bytes"],
                        # The job's own listings: both list the target before and after the write
                        # (the new one lists only the folders it replaces, the old one the target).
                        "listed": (2 * listed + len(manifest["files"]) if protocol == "new"
                                   else len(before) + len(after)),
                        "deleted": len(before - after),
                        "copied": S3_COPIES[(protocol, shape)] * manifest["bytes"]})
        shutil.rmtree(root, ignore_errors=True)
        print(f"glue_bench: overwrite {name} ({protocol}): {seconds:.1f} s, {len(before - after)} files deleted",
              flush=True)
    return figures


def spark_start_seconds(env: dict) -> float:
    """What every run pays before any data moves: Python + JVM + a local Spark session."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'glue-scripts')!r}); import unload_table; "
            "unload_table.local_spark_session().stop()")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
    return time.perf_counter() - started


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    pg = subprocess.run([pgcluster._bin("postgres"), "--version"], capture_output=True, text=True).stdout.strip()
    import pyspark
    return (f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GB RAM, {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, PySpark {pyspark.__version__} local[2], {java}, {pg}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite '{SECTION}' in {DOC.name}")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="glue-bench-"))
    pg_dir = Path(tempfile.mkdtemp(prefix="glue-bench-pg-", dir="/tmp"))  # its own: postgres must reach it
    try:
        started = time.perf_counter()
        cluster = pgcluster.start(pg_dir, rows=ROWS, hot_rows=HOT_ROWS, days=DAYS)
        seed_seconds = time.perf_counter() - started
        print(f"glue_bench: seeded {ROWS:,} rows in {seed_seconds:.1f} s (cluster start + load)", flush=True)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("UNLOAD_")}, **cluster.job_env(),
               "UNLOAD_LOCAL_S3_ROOT": str(work / "s3")}
        # Each scenario its own lake: flat files and day folders never share a table folder.
        lakes = {name: work / f"s3-{i}" for i, (name, _) in enumerate(SCENARIOS)}
        startup = spark_start_seconds(env)
        print(f"glue_bench: Spark start alone {startup:.1f} s", flush=True)
        results = []
        for name, scope_args in SCENARIOS:
            argv = job_argv(scope_args)
            query = unload_table.select_query(unload_table.build_plan(unload_table.parse_args(argv)))
            copy_seconds = raw_copy_seconds(cluster, query)
            job_seconds, manifest, _ = run_job(argv, {**env, "UNLOAD_LOCAL_S3_ROOT": str(lakes[name])})
            results.append((name, manifest, job_seconds, copy_seconds))
            print(f"glue_bench: {name}: {manifest['rows']:,} rows, job {job_seconds:.1f} s, "
                  f"raw COPY {copy_seconds:.2f} s", flush=True)
        old = old_script(work)
        if old is None:
            print(f"glue_bench: no git history ({OLD_PROTOCOL_COMMIT[:7]}): the old protocol is not measured")
        protocols = [(name, protocol_runs(job_argv(scope_args), env, lakes[name], name, old))
                     for name, scope_args in SCENARIOS]
    finally:
        pgcluster.stop(pg_dir, remove=True)
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()[0]
    section = render(results, seed_seconds, startup, load_before, load_after)
    protocol_section = render_protocols(protocols, load_before, load_after)
    print(section)
    print(protocol_section)
    if args.update_docs:
        benchdoc.replace_section(SECTION, section)
        benchdoc.replace_section(PROTOCOL_SECTION, protocol_section)
        print(f"glue_bench: updated {DOC.relative_to(ROOT)}")
    return 0


def render_protocols(protocols, load_before: float, load_after: float) -> str:
    lines = [
        PROTOCOL_SECTION, "",
        f"Measured {dt.date.today().isoformat()} by `make bench-glue` (bench/glue_bench.py) in the same run as "
        f"the data path above (1-minute load average {load_before:.1f} before, {load_after:.1f} after). Each "
        "scenario's lake, as the data-path run left it, is copied once per protocol and overwritten by the "
        "current script (new: write beside, reconcile, commit the manifest, delete the listed files) and by "
        f"the script as of `{OLD_PROTOCOL_COMMIT[:7]}` (old: Spark's static overwrite for the flat table, "
        "dynamic partition overwrite with a key). Files listed: what the job's own "
        "listings return (Spark's committer lists too, alike for both). Files deleted: data files present "
        "before the run and gone after it. Bytes copied on S3: the files written times the copies their "
        "commit makes on S3 (a rename is a copy plus a delete): 2 for the old dynamic partition overwrite "
        "(staged, then renamed into place; Glue's S3-optimized committer does not apply to it), 0 for the "
        "old static overwrite and for the new protocol with Parquet (the S3-optimized committer writes each "
        "file to its final key); the local run itself renames on a local disk, where a rename is free.",
        "",
        "| run | protocol | rows | job wall s | rows/s | files written | MB written | files listed | files deleted | MB copied on S3 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, figures in protocols:
        for f in figures:
            lines.append(f"| {name} | {f['protocol']} | {f['rows']:,} | {f['seconds']:.1f} | "
                         f"{f['rows'] / f['seconds']:,.0f} | {f['written']:,} | {f['bytes'] / 2**20:.1f} | "
                         f"{f['listed']:,} | {f['deleted']:,} | {f['copied'] / 2**20:.1f} |")
    lines += ["", "Reading the table: on a local disk, where renames are free, the new protocol pays for its listing at the start and for deleting the old files one request each (16 at a time) where the old dynamic overwrite removed whole day folders; on S3 the old protocol's renames are copies (the last column) and its day folders stand empty between its delete and its rename.",
              "", "Reproduce: `make bench-glue`."]
    return "\n".join(lines) + "\n"


def render(results, seed_seconds: float, startup: float, load_before: float, load_after: float) -> str:
    lines = [
        SECTION, "",
        f"Measured {dt.date.today().isoformat()} by `make bench-glue` (bench/glue_bench.py) on {machine()}; "
        f"1-minute load average {load_before:.1f} before, {load_after:.1f} after (other work shared the cores).",
        "",
        f"Source: `demo_master.orders`, {ROWS:,} TPC-H-like rows over 2,406 days, one day ({HOT_DAY}) of exactly "
        f"{HOT_ROWS:,} rows, seeded by local/seed_demo.sql in {seed_seconds:.1f} s. The job runs as the local Glue "
        "emulator runs it (`python glue-scripts/unload_table.py ...`, Spark local[2], JDBC), parquet, overwrite, "
        "so its wall time includes starting the JVM and Spark. The read limit is PostgreSQL "
        "`COPY (<the job's own query>) TO STDOUT` into /dev/null, measured in the same run.",
        "",
        "| run | rows | files | MB written | job wall s | job rows/s | raw COPY s | job / COPY |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, manifest, job_seconds, copy_seconds in results:
        lines.append(f"| {name} | {manifest['rows']:,} | {len(manifest['files']):,} | "
                     f"{manifest['bytes'] / 2**20:.1f} | {job_seconds:.1f} | {manifest['rows'] / job_seconds:,.0f} | "
                     f"{copy_seconds:.2f} | {job_seconds / copy_seconds:.0f}x |")
    lines += ["", f"Every job wall time includes {startup:.1f} s of Python + JVM + Spark session start, measured "
              "alone in the same run: the one-day run is almost all start-up and Spark job overhead, which "
              "is why its ratio to a 10 ms COPY is meaningless; the whole-table runs show the data path. "
              "Writing one folder and file per day (2,406 small files) is what the partitioned run pays "
              "over the flat one.",
              "", "Reproduce: `make bench-glue` (prints this section; "
              "`.venv/bin/python bench/glue_bench.py --update-docs` rewrites it here)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
