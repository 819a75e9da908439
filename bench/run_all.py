#!/usr/bin/env python3
"""`make bench`: every benchmark in one run, one summary table, docs/BENCHMARKS.md rewritten.

    1. orchestration   bench/orchestration_bench.py (writes "## Orchestration cost" and draws
                       docs/detection-latency.png)
    1b. batch          bench/batch_bench.py (writes "## Batch cost": a 50-table nightly batch against
                       50 separate schedules)
    2. data path       bench/glue_bench.py --update-docs (writes "## Data path")
    2b. engines        bench/engine_bench.py --update-docs (writes "## Engines": glue against unload)
    3. Lambdas         bench/lambda_bench.py (writes "## Lambda start-up and footprint"), then
                       docs/lambda-footprint.png (bench/charts.py; from the doc's table when skipped)
    4. end to end      the demo (`make demo`'s stack and request: 1,000,000 rows, the 10,000-row
                       day 1998-07-21, parquet) split by phase from the execution's history

then prints one table of the figures and writes it as "## Summary". A part that fails is
reported and the others still run; the exit status is 1 if any part failed or missed a target.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "local"))
import benchdoc  # noqa: E402
import lambda_bench  # noqa: E402
import stack as local_stack  # noqa: E402

PY = sys.executable
DOC = benchdoc.DOC
SUMMARY = "## Summary"
DEMO_ROWS = 1_000_000
DEMO_DAY = "1998-07-21"


def section_tables(heading: str) -> list[list[str]]:
    """The rows (cells) of the Markdown tables in one section of the doc."""
    text = DOC.read_text()
    start = text.find(heading + "\n")
    if start == -1:
        return []
    end = text.find("\n## ", start + len(heading))
    rows = []
    for line in text[start:end if end != -1 else None].splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def run_script(args: list[str], log: list[str]) -> tuple[int, float]:
    started = time.monotonic()
    print(f"\n== {' '.join(args)}", flush=True)
    code = subprocess.run([PY] + args, cwd=ROOT).returncode
    seconds = time.monotonic() - started
    log.append(f"{args[0]}: exit {code}, {seconds:.0f} s")
    return code, seconds


# ---- the end-to-end demo, by phase ----------------------------------------------------------------

def demo_phases() -> dict:
    request = {"PrefixedTablename": "demo_master.orders", "SnapshotYN": "y", "FileFormat": "parquet",
               "WriteMode": "overwrite", "s3FilePath": f"s3://{local_stack.LAKE_BUCKET}/lake",
               "GlueRSConnection": local_stack.CONNECTION, "DayPartitionKey": "o_orderdate",
               "DayPartitionValue": DEMO_DAY}
    state = Path(tempfile.mkdtemp(prefix="bench-demo-", dir="/tmp"))
    state.chmod(0o755)  # PostgreSQL runs as its own user
    wall = time.monotonic()
    say = lambda line: print(line, flush=True)  # noqa: E731
    # The stack's start includes its `cargo build` of the debug binaries (a no-op when they are
    # fresh, but it waits for the cargo lock if another build holds it) and the 1M-row seed.
    with local_stack.Stack(state, rows=DEMO_ROWS, say=say) as stack:
        stack_start = time.monotonic() - wall
        began = time.monotonic()
        arn = stack.queries.start_execution(request)
        result = stack.queries.wait(arn, timeout=600)
        execution_wall = time.monotonic() - began
        history = stack.queries.history(arn)
        stop_began = time.monotonic()
    stop_seconds = time.monotonic() - stop_began
    subprocess.run(["rm", "-rf", str(state)])

    def at(kind: str, name: str | None = None, last: bool = False):
        hits = [e["timestamp"] for e in history if e["type"] == kind and
                (name is None or (e.get("stateEnteredEventDetails") or e.get("stateExitedEventDetails") or {}).get("name", "").startswith(name))]
        return (hits[-1] if last else hits[0]) if hits else None

    started = at("ExecutionStarted")
    run_started = at("TaskStateExited", "StartRun")
    register_entered = at("TaskStateEntered", "RegisterInCatalog")
    register_exited = at("TaskStateExited", "RegisterInCatalog", last=True)
    report_entered = at("TaskStateEntered", "Report")
    report_exited = at("TaskStateExited", "Report", last=True)
    ended = at("ExecutionSucceeded") or at("ExecutionFailed") or history[-1]["timestamp"]
    secs = lambda a, b: (b - a).total_seconds() if a and b else float("nan")  # noqa: E731
    output = json.loads(result.get("output") or "{}")
    run = output.get("run") or {}
    polls = sum(1 for e in history if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "CheckStatus")
    return {
        "status": result["status"], "rows": (output.get("report") or {}).get("rows"),
        "stack_start": stack_start, "stack_stop": stop_seconds, "execution_wall": execution_wall,
        "validate_ensure_start": secs(started, run_started),
        "waiting_for_glue": secs(run_started, register_entered or report_entered),
        "register": secs(register_entered, register_exited), "report": secs(report_entered, report_exited), "execution": secs(started, ended),
        "glue_execution_seconds": run.get("execution_seconds"), "polls": polls, "events": len(history),
    }


# ---- the summary --------------------------------------------------------------------------------

def previous_rows(part: str) -> list[tuple[str, str, str]]:
    """A skipped part's rows, from the doc's current summary."""
    return [tuple(cells) for cells in section_tables(SUMMARY)[1:] if len(cells) == 3 and cells[0] == part]


def lambda_rows_from_doc() -> list[tuple[str, str, str]]:
    """A skipped Lambda bench's figures, from the doc's current Lambda section."""
    rows = []
    for cells in section_tables(lambda_bench.SECTION)[1:]:
        if len(cells) >= 9 and cells[2] == "**Rust / Python**":
            rows.append(("Lambda", f"{cells[0]}: Rust / Python (init, init CPU, peak RSS)",
                         f"{cells[3].strip('*')}, {cells[4]}, {cells[7].strip('*')}"))
    return rows


def summary_rows(lambda_figures, demo: dict | None, parts: list[str]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    if not lambda_figures:
        rows += lambda_rows_from_doc()
    if lambda_figures:
        for r, p in lambda_bench.pairs(lambda_figures):
            rows.append(("Lambda", f"{r.function}: init Rust / Python",
                         f"{r.init_ms:.1f} / {p.init_ms:.0f} ms = {r.init_ms / p.init_ms:.3f} (1/{p.init_ms / r.init_ms:.0f})"))
            rows.append(("Lambda", f"{r.function}: peak RSS Rust / Python",
                         f"{r.peak_rss_mb:.1f} / {p.peak_rss_mb:.1f} MB = {r.peak_rss_mb / p.peak_rss_mb:.2f}"))
            rows.append(("Lambda", f"{r.function}: warm invocation Rust / Python",
                         f"{r.warm_ms:.2f} / {p.warm_ms:.2f} ms = {r.warm_ms / p.warm_ms:.2f}"))
            rows.append(("Lambda", f"{r.function}: zipped package Rust (Python handler)",
                         f"{r.zip_kb:,.0f} KB ({p.zip_kb:,.1f} KB + the runtime's boto3)"))
    for cells in section_tables("## Orchestration cost")[1:]:
        if len(cells) >= 9:
            rows.append(("Orchestration", f"{cells[0]} run, {cells[1]}",
                         f"{cells[3]} invocations, {cells[4]} transitions, {cells[5]} history events, "
                         f"detection {cells[6]}, {cells[8]}"))
    batch_cells = section_tables("## Batch cost")
    sizes = [cells for cells in batch_cells if len(cells) == 7 and cells[0] != "batch items"]
    if sizes:  # the largest batch measured: the item cap
        cells = sizes[-1]
        rows.append(("Batch", f"{cells[0]}-item batch, its own cost",
                     f"{cells[1]} transitions, {cells[2]} history events ({cells[3]} of the 25,000 limit), "
                     f"{cells[4]} Lambda invocations"))
    for cells in batch_cells:
        if len(cells) == 9 and not cells[0].endswith("tables a night"):
            rows.append(("Batch", f"50 tables a night: {cells[0]}",
                         f"{cells[3]} transitions in {cells[2]} executions, {cells[4]} Lambda invocations, "
                         f"{cells[6]} a night ({cells[7]} a month)"))
    for cells in section_tables("## Data path")[1:]:
        if len(cells) >= 8:
            rows.append(("Data path", cells[0],
                         f"{cells[1]} rows in {cells[4]} s ({cells[5]} rows/s) vs raw COPY {cells[6]} s = {cells[7]}"))
    for cells in section_tables("## Engines")[1:]:
        if len(cells) == 8 and cells[1] in ("glue", "unload"):
            rows.append(("Engines", f"{cells[0]}: {cells[1]}",
                         f"{cells[2]} rows in {cells[3]} s ({cells[4]} rows/s, {cells[5]} of the raw COPY rate), "
                         f"{cells[6]} files"))
    if not demo:
        rows += previous_rows("End to end")
    if demo:
        rows += [
            ("End to end", "stack start (cargo build check, PostgreSQL + 1M-row seed, s3, moto, glue-local, lambdas)", f"{demo['stack_start']:.1f} s"),
            ("End to end", "execution: Validate + EnsureJob + StartRun", f"{demo['validate_ensure_start']:.1f} s"),
            ("End to end", "execution: waiting for Glue (WaitForRun + CheckStatus polls)",
             f"{demo['waiting_for_glue']:.1f} s ({demo['polls']} polls; the run itself {demo['glue_execution_seconds']} s)"),
            ("End to end", "execution: RegisterInCatalog (the catalog: glue-local → moto)", f"{demo['register']:.1f} s"),
            ("End to end", "execution: Report", f"{demo['report']:.1f} s"),
            ("End to end", "execution in all (history) / as watched",
             f"{demo['execution']:.1f} s / {demo['execution_wall']:.1f} s, {demo['status']}, {demo['rows']:,} rows, "
             f"{demo['events']} history events" if demo.get("rows") is not None else
             f"{demo['execution']:.1f} s / {demo['execution_wall']:.1f} s, {demo['status']}"),
            ("End to end", "stack stop", f"{demo['stack_stop']:.1f} s"),
        ]
    return rows


def render_summary(rows, parts: list[str], wall: float, failures: list[str], skipped: list[str]) -> str:
    lines = [SUMMARY, "",
             f"`make bench` (bench/run_all.py) ran every section above in one run: {wall / 60:.1f} min wall "
             f"on {lambda_bench.machine()}, {dt.date.today().isoformat()} "
             f"(1-minute load average {os.getloadavg()[0]:.1f} at the end).", "",
             "| part | figure | value |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", "Parts: " + "; ".join(parts) + "."]
    if skipped:
        lines += ["", f"Skipped in this run ({', '.join(skipped)}): their rows are the doc's figures from an earlier run."]
    if failures:
        lines += ["", "Failed or missed a target: " + "; ".join(failures) + "."]
    lines += ["", "The end-to-end figures are the demo's (`make demo`: the local stack, a 1,000,000-row table, "
              f"the 10,000-row day {DEMO_DAY}, parquet) with the execution split by the timestamps of its "
              "history: ExecutionStarted to StartRun's exit, then to RegisterInCatalog's entry, then to its exit, "
              "then Report's entry to its exit. "
              "The Lambdas run there in debug builds under `cargo lambda watch` and Glue on local Spark, so "
              "these are the local stack's times, not AWS's.",
              "", "Reproduce: `make bench` (4 to 5 minutes on these 2 cores when they are shared, most of it the Glue "
              "bench); one part: `make bench-orchestration`, `make bench-batch`, "
              "`make bench-glue`, `make bench-lambda`."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["orchestration", "batch", "glue", "engines", "lambda", "demo"])
    parser.add_argument("--starts", type=int, default=11, help="Lambda cold starts per function and runtime")
    parser.add_argument("--warm", type=int, default=20, help="warm Lambda invocations after each cold start")
    args = parser.parse_args()
    t0 = time.monotonic()
    parts: list[str] = []
    failures: list[str] = []
    lambda_figures, demo = None, None

    if "orchestration" not in args.skip:
        code, _ = run_script(["bench/orchestration_bench.py"], parts)
        if code:
            failures.append("orchestration")
    if "batch" not in args.skip:
        code, _ = run_script(["bench/batch_bench.py"], parts)
        if code:
            failures.append("batch")
    if "glue" not in args.skip:
        code, _ = run_script(["bench/glue_bench.py", "--update-docs"], parts)
        if code:
            failures.append("data path")
    if "engines" not in args.skip:
        code, _ = run_script(["bench/engine_bench.py", "--update-docs"], parts)
        if code:
            failures.append("engines")
    if "lambda" not in args.skip:
        print("\n== bench/lambda_bench.py", flush=True)
        started = time.monotonic()
        try:
            lambda_figures, meta = lambda_bench.run(args.starts, args.warm, lambda_bench.FUNCTIONS)
            section = lambda_bench.render(lambda_figures, meta)
            print(section, flush=True)
            benchdoc.replace_section(lambda_bench.SECTION, section)
            missed = [what for ok, what in lambda_bench.acceptance(lambda_figures) if not ok]
            if missed:
                failures.append("Lambda acceptance: " + "; ".join(missed))
        except Exception:  # noqa: BLE001 (reported; the other parts still run)
            traceback.print_exc()
            failures.append("lambda bench")
        parts.append(f"bench/lambda_bench.py: {time.monotonic() - started:.0f} s")
    # docs/lambda-footprint.png: this run's figures, or the doc's when the Lambda bench was skipped
    # or failed (docs/detection-latency.png is drawn by bench/orchestration_bench.py).
    try:
        import charts

        pairs = charts.lambda_pairs_from_figures(lambda_figures) if lambda_figures else charts.lambda_pairs_from_doc()
        print(f"bench: drew {charts.lambda_footprint(pairs).relative_to(ROOT)}", flush=True)
    except Exception:  # noqa: BLE001 (reported; the summary is still written)
        traceback.print_exc()
        failures.append("charts")
    if "demo" not in args.skip:
        print("\n== end-to-end demo, by phase", flush=True)
        started = time.monotonic()
        try:
            demo = demo_phases()
            print(json.dumps(demo, indent=2, default=str), flush=True)
            if demo["status"] != "SUCCEEDED":
                failures.append(f"demo execution {demo['status']}")
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            failures.append("end-to-end demo")
        parts.append(f"end-to-end demo: {time.monotonic() - started:.0f} s")

    wall = time.monotonic() - t0
    rows = summary_rows(lambda_figures, demo, parts)
    summary = render_summary(rows, parts, wall, failures, args.skip)
    benchdoc.replace_section(SUMMARY, summary)
    print("\n" + summary)
    print(f"bench: {wall / 60:.1f} min in all; wrote {DOC.relative_to(ROOT)}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
