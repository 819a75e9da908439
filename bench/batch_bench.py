"""Step Functions cost of a nightly batch against separate schedules: `make bench-batch`.

Both sides are measured by executing the real state machine definitions on moto (in-process, the
`Machine` of tests/statemachine/harness.py):
  - one child = one unload execution: statemachine/unload.asl.json following a 60-minute Glue run
    with our polling policy for a new job and no completion event (every callback wait times out
    and polls: the most a child costs), as bench/orchestration_bench.py plays it (`simulate`, the
    waits of `unloadctl poll-schedule`);
  - the batch's own cost: the real statemachine/batch.asl.json (BatchMaxConcurrency at the
    template's default) with plan and summarize stubbed, running N items of action "start" against
    a trivial child state machine (one Pass state), for N = 1, 50 and the item cap (MAX_ITEMS of
    functions/unload-core/src/batch/plan.rs). Only the batch execution's own transitions, history
    events and Lambda invocations are counted; the children's are the unload figures above.

State transitions are counted as the harness's `Execution.state_transitions` counts them (every
state entered, and every retry). Prints a markdown section, checks the targets (for 50 tables the
batch's overhead is at most 5% of the children's transitions; the capped batch stays under the
25,000-event history quota), writes "## Batch cost" into docs/BENCHMARKS.md (--print-only skips
it) and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "statemachine"))
sys.path.insert(0, str(ROOT / "bench"))

import benchdoc  # noqa: E402
import orchestration_bench as orch  # noqa: E402
from asl import BATCH_ASL_PATH  # noqa: E402 (local/, on the path through harness)
from harness import ACCOUNT, REGION, Execution, Machine, asl_text, no_sleep, ok, placeholders, substitute  # noqa: E402

SECTION = "## Batch cost"
TABLES = 50  # tables per night
CHILD_MINUTES = 60  # each table's Glue run
CHILD_POLICY = "ours, new job"
DAYS_PER_MONTH = 30
HISTORY_LIMIT = orch.HISTORY_LIMIT  # Step Functions Standard: events per execution
STATE_LIMIT = 256 * 1024  # bytes: a state's input or output
PRICE_PER_TRANSITION = orch.PRICE_PER_TRANSITION  # USD, Standard workflows
SCHEDULER_PRICE = 1.00 / 1_000_000  # USD per invocation, after the free tier
SCHEDULER_FREE = 14_000_000  # invocations per month
TARGET_OVERHEAD = 0.05  # of the children's transitions, for TABLES tables
DAY = "2026-12-01"
WIDTH = 104  # the doc's prose lines
SFN_PRICING = "[AWS Step Functions pricing](https://aws.amazon.com/step-functions/pricing/)"
EB_PRICING = "[Amazon EventBridge pricing](https://aws.amazon.com/eventbridge/pricing/)"
# The stand-in child: the batch's own cost does not depend on what the child does.
CHILD = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"report": {"rows": 1}}, "End": True}}}


def max_items() -> int:
    """MAX_ITEMS of functions/unload-core/src/batch/plan.rs: the most items one batch runs."""
    text = (ROOT / "functions" / "unload-core" / "src" / "batch" / "plan.rs").read_text(encoding="utf-8")
    m = re.search(r"pub const MAX_ITEMS: usize = (\d+);", text)
    if not m:
        raise SystemExit("bench: no MAX_ITEMS in functions/unload-core/src/batch/plan.rs")
    return int(m.group(1))


def default_concurrency() -> int:
    """The template's default for the BatchMaxConcurrency parameter."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    m = re.search(r"^  BatchMaxConcurrency:\n(?:    .*\n)*?    Default: (\d+)$", text, re.M)
    if not m:
        raise SystemExit("bench: no BatchMaxConcurrency default in template.yaml")
    return int(m.group(1))


def batch_definition(child_arn: str, concurrency: int) -> dict:
    """statemachine/batch.asl.json substituted as tests/statemachine/test_batch_definition.py does."""
    text = asl_text(BATCH_ASL_PATH)
    values = {
        "Partition": "aws",
        "BatchMaxConcurrency": str(concurrency),
        "UnloadStateMachineArn": child_arn,
        "PlanFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:plan",
        "SummarizeFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:summarize",
    }
    assert placeholders(text) == set(values), f"batch.asl.json placeholders changed: {sorted(placeholders(text))}"
    return json.loads(substitute(text, values))


# ------------------------------------------------------------------ one batch execution


@dataclass
class Batch:
    items: int
    transitions: int
    events: int
    lambdas: int
    largest_state: int  # bytes: the largest input or output of a state in its history
    wall: float


def plan(n: int) -> dict:
    """The plan function's answer (docs/CONTRACT.md, "Plan"): n children to start."""
    items = [
        {
            "index": i,
            "table": f"demo_master.t{i:03d}",
            "scope": DAY,
            "action": "start",
            "name": f"demo_master-t{i:03d}-{DAY}-n{n}",  # unique across the bench's batches
            "input": {"PrefixedTablename": f"demo_master.t{i:03d}", "SnapshotYN": "y", "FileFormat": "parquet",
                      "DayPartitionKey": "o_orderdate", "DayPartitionValue": DAY},
            "error": None,
        }
        for i in range(n)
    ]
    return {"name": "nightly", "day": DAY, "items": items,
            "counts": {"items": n, "start": n, "follow": 0, "skip": 0, "invalid": 0}, "tolerance": {}}


def largest_state(events: list[dict]) -> int:
    sizes = [0]
    for e in events:
        for key, details in e.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                sizes += [len(str(details[k]).encode()) for k in ("input", "output") if k in details]
    return max(sizes)


def run_batch(machine: Machine, arn: str, child_arn: str, n: int, timeout: float) -> Batch:
    answer = plan(n)
    seen: dict = {}

    def summarize(payload: dict, call: int) -> object:
        seen["results"] = payload.get("results")
        return ok({"summary": {"name": "nightly", "day": DAY, "items": n, "succeeded": n, "failed": 0, "skipped": 0,
                               "rows": n, "failures": [], "tolerated": True, "message": f"{n} of {n} succeeded"},
                   "cause": "{}"})

    machine.stub.reset({"plan": lambda payload, call: ok(answer), "summarize": summarize})
    name = f"nightly-{n}"
    with no_sleep() as sleeps:
        t0 = time.monotonic()
        ex_arn = machine.sfn.start_execution(stateMachineArn=arn, name=name,
                                             input=json.dumps({"Name": "nightly", "Tables": []}))["executionArn"]
        while (d := machine.sfn.describe_execution(executionArn=ex_arn))["status"] == "RUNNING":
            if time.monotonic() - t0 > timeout:
                machine.sfn.stop_execution(executionArn=ex_arn, error="BenchTimeout")
                raise SystemExit(f"bench: the {n}-item batch still RUNNING after {timeout:.0f} s")
            time.sleep(0.05)
        wall = time.monotonic() - t0
    events: list[dict] = []
    for page in machine.sfn.get_paginator("get_execution_history").paginate(
        executionArn=ex_arn, PaginationConfig={"PageSize": 1000}
    ):
        events.extend(page["events"])
    ex = Execution(arn=ex_arn, name=name, status=d["status"], output=json.loads(d["output"]) if d.get("output") else None,
                   error=d.get("error"), cause=d.get("cause"), events=events, calls=list(machine.stub.calls),
                   sleeps=sleeps, seconds=wall)
    if ex.status != "SUCCEEDED":
        raise SystemExit(f"bench: the {n}-item batch ended {ex.status} {ex.error} {ex.cause}")
    # Every item started its child, which ran to its end; only plan and summarize were invoked.
    results = seen.get("results") or []
    assert [r["status"] for r in results] == ["RAN"] * n, f"{n}-item batch: results {results[:3]}..."
    assert ex.sequence() == ["plan", "summarize"], ex.sequence()
    children = [e for page in machine.sfn.get_paginator("list_executions").paginate(stateMachineArn=child_arn)
                for e in page["executions"] if e["name"].endswith(f"-n{n}")]
    assert len(children) == n and all(c["status"] == "SUCCEEDED" for c in children), f"{n}-item batch: children"
    return Batch(items=n, transitions=ex.state_transitions, events=len(ex.events), lambdas=len(ex.calls),
                 largest_state=largest_state(events), wall=wall)


# ------------------------------------------------------------------ the night


@dataclass
class Night:
    label: str
    schedules: int
    executions: int
    transitions: int
    lambdas: int
    largest_events: int

    @property
    def cost(self) -> float:
        return self.transitions * PRICE_PER_TRANSITION

    @property
    def scheduler_month(self) -> float:
        return self.schedules * DAYS_PER_MONTH * SCHEDULER_PRICE


def nights(child: orch.Row, batch: Batch) -> list[Night]:
    return [
        Night(f"{TABLES} separate schedules", TABLES, TABLES, TABLES * child.transitions, TABLES * child.lambdas,
              child.events),
        Night(f"1 batch of {TABLES}", 1, TABLES + 1, TABLES * child.transitions + batch.transitions,
              TABLES * child.lambdas + batch.lambdas, max(child.events, batch.events)),
    ]


UNSPLIT = re.compile(r"`[^`]*`|\[[^\]]*\]\([^)]*\)")  # code spans and markdown links stay on one line


def wrap(text: str, first: str = "", rest: str = "") -> str:
    glued = UNSPLIT.sub(lambda m: m.group(0).replace(" ", "\0"), text)
    return textwrap.fill(glued, WIDTH, initial_indent=first, subsequent_indent=rest, break_long_words=False,
                         break_on_hyphens=False).replace("\0", " ") + "\n"


def para(text: str) -> str:
    """A paragraph wrapped as the doc's prose is."""
    return wrap(text)


def bullet(text: str) -> str:
    return wrap(text, "- ", "  ")


def money(usd: float) -> str:
    if usd == 0:
        return "$0"
    if usd < 0.0001:
        return f"${usd:.5f}"
    return f"${usd:.4f}" if usd < 1 else f"${usd:,.2f}"


def per_item(batches: list[Batch], attr: str) -> tuple[float, float]:
    """Fixed part and per-item slope of a figure, from the smallest and largest batch."""
    lo, hi = batches[0], batches[-1]
    slope = (getattr(hi, attr) - getattr(lo, attr)) / (hi.items - lo.items)
    return getattr(lo, attr) - slope * lo.items, slope


def check_targets(child: orch.Row, batches: list[Batch], cap: int) -> list[tuple[bool, str]]:
    by = {b.items: b for b in batches}
    out = []
    if TABLES in by:
        overhead, children = by[TABLES].transitions, TABLES * child.transitions
        out.append((overhead <= TARGET_OVERHEAD * children,
                    f"{TABLES} tables: the batch's own {overhead:,} transitions are {orch.pct(overhead, children)} of the "
                    f"children's {children:,} (target at most {TARGET_OVERHEAD:.0%})"))
    big = batches[-1]
    if big.items == cap:
        out.append((big.events < HISTORY_LIMIT,
                    f"{cap}-item batch (the cap): {big.events:,} history events (target < {HISTORY_LIMIT:,})"))
    else:
        fixed, slope = per_item(batches, "events")
        at_cap = round(fixed + slope * cap)
        out.append((at_cap < HISTORY_LIMIT,
                    f"{cap}-item batch (the cap, extrapolated from {big.items} items): {at_cap:,} history events "
                    f"(target < {HISTORY_LIMIT:,})"))
    return out


def render(child: orch.Row, batches: list[Batch], cap: int, concurrency: int, results: list[tuple[bool, str]],
           wall: float) -> str:
    night = nights(child, next(b for b in batches if b.items == TABLES))
    t_fixed, t_slope = per_item(batches, "transitions")
    e_fixed, e_slope = per_item(batches, "events")
    _, s_slope = per_item(batches, "largest_state")
    big = batches[-1]
    note_cap = "" if big.items == cap else (
        f" (the largest batch run here has {big.items} items; {cap} items extrapolate linearly to "
        f"{round(e_fixed + e_slope * cap):,} events)")
    batch_rows = "".join(
        f"| {b.items:,} | {b.transitions:,} | {b.events:,} | {orch.pct(b.events, HISTORY_LIMIT)} | {b.lambdas} "
        f"| {b.largest_state / 1024:.1f} KiB | {b.wall:.1f} s |\n"
        for b in batches
    )
    night_rows = "".join(
        f"| {n.label} | {n.schedules} | {n.executions} | {n.transitions:,} | {n.lambdas:,} "
        f"| {n.largest_events:,} ({orch.pct(n.largest_events, HISTORY_LIMIT)}) | {money(n.cost)} "
        f"| {money(n.cost * DAYS_PER_MONTH)} | $0 (list price {money(n.scheduler_month)}) |\n"
        for n in night
    )
    sep, bat = night
    extra = bat.transitions - sep.transitions
    return (
        para(f"`make bench-batch` (bench/batch_bench.py) prices a nightly unload of {TABLES} tables two ways, both "
             "measured by executing the real state machine definitions on moto's Step Functions engine (sleeps "
             "patched, Lambda tasks stubbed), counting state transitions as the harness does (every state entered, "
             "and every retry):")
        + "\n"
        + bullet(f"One child = one unload execution (statemachine/unload.asl.json) following a {CHILD_MINUTES}-minute "
                 f"Glue run, {CHILD_POLICY} (as in \"Orchestration cost\"): {child.transitions} state transitions, "
                 f"{child.events} history events, {child.lambdas} Lambda invocations.")
        + bullet(f"The batch's own cost: statemachine/batch.asl.json (BatchMaxConcurrency {concurrency}, the "
                 "template's default) with plan and summarize stubbed, every item a child to start, the children a "
                 "one-Pass-state stand-in (their cost is the line above). Per item the batch adds "
                 f"{t_slope:g} transitions (WhatToDo?, RunChild, Ran) and {e_slope:g} history events (the Map "
                 "iteration's start and end; the Choice's two; the startExecution.sync:2 task's Entered, Scheduled, "
                 f"Started, Submitted, Succeeded and Exited; the Pass's two); {t_fixed:g} transitions and "
                 f"{e_fixed:g} events are fixed (Prepare, Plan, the Map, Summarize, Tolerated?, Done, Succeeded); "
                 "2 Lambda invocations (plan and summarize) whatever its size.")
        + "\n"
        "| batch items | batch's own state transitions | history events | of the 25,000 limit | Lambda invocations "
        "| largest state | wall (moto) |\n"
        "|---:|---:|---:|---:|---:|---:|---:|\n"
        + batch_rows
        + "\n"
        + para(f"A {cap}-item batch (MAX_ITEMS, functions/unload-core/src/batch/plan.rs) stays far below the "
               f"{HISTORY_LIMIT:,}-event history quota{note_cap}; what caps it is the {STATE_LIMIT // 1024} KiB state: "
               "the inline Map keeps every item and result in the execution's state (about "
               f"{s_slope:.0f} bytes per item here, with small child inputs; real ones carry the merged request keys, "
               "and plan refuses a plan over 160 KiB).")
        + "\n"
        + para(f"{TABLES} tables a night, each a {CHILD_MINUTES}-minute Glue run:")
        + "\n"
        f"| {TABLES} tables a night | Scheduler invocations per night | Step Functions executions | state transitions "
        "| Lambda invocations | largest execution's history events | transitions cost per night "
        f"| per {DAYS_PER_MONTH}-day month | Scheduler cost per month |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        + night_rows
        + "\n"
        + bullet(f"The batch adds {extra:,} transitions to the children's {sep.transitions:,} "
                 f"({orch.pct(extra, sep.transitions)}): {money(bat.cost - sep.cost)} a night, "
                 f"{money((bat.cost - sep.cost) * DAYS_PER_MONTH)} a month; the cost is the children's either way. "
                 "What the batch buys is operational: one schedule and one execution to watch, the children's "
                 "outcomes in one summary, at most BatchMaxConcurrency Glue runs at once, and the batch's metrics.")
        + bullet(f"Prices: {SFN_PRICING} ${PRICE_PER_TRANSITION * 1000:.3f} per 1,000 state transitions (Standard "
                 "workflows, us-east-1; each retry is billed as a transition; the account's free tier of 4,000 "
                 f"transitions a month is left out). {EB_PRICING}: EventBridge Scheduler "
                 f"${SCHEDULER_PRICE * 1e6:.2f} per million invocations after the free tier of "
                 f"{SCHEDULER_FREE // 1_000_000} million invocations a month, so {sep.schedules * DAYS_PER_MONTH:,} or "
                 f"{bat.schedules * DAYS_PER_MONTH} invocations a month cost $0 either way (the list price is shown "
                 "for scale). Lambda invocations are counted, not priced.")
        + bullet(f"Step Functions allows {HISTORY_LIMIT:,} history events per execution (\"Step Functions service "
                 "quotas\"): each execution keeps its own history, so the children's events never count against "
                 "the batch's.")
        + "\n"
        + "".join(f"- {'PASS' if passed else 'FAIL'}: {what}\n" for passed, what in results)
        + "\n"
        + para(f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} / {os.cpu_count()} cores, moto 5.2.5, "
               f"{wall:.0f} s wall for the whole bench. Reproduce: `make bench-batch` (`--print-only` leaves this "
               "file alone).")
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--print-only", action="store_true", help="do not update docs/BENCHMARKS.md")
    ap.add_argument("--items", type=int, nargs="*", help="batch sizes (default: 1, 50 and MAX_ITEMS)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds one batch may run (default: %(default)s)")
    args = ap.parse_args()

    cap, concurrency = max_items(), default_concurrency()
    sizes = sorted(set(args.items or [1, TABLES, cap]))
    if TABLES not in sizes or len(sizes) < 2:
        raise SystemExit(f"bench: --items must include {TABLES} and one other size")
    orch.ensure_unloadctl()
    t0 = time.monotonic()
    with Machine() as machine:
        waits, _ = orch.unloadctl_waits(CHILD_MINUTES * 60)
        # The workflow as deployed, its callback waits all timing out: what a child costs at most.
        child = orch.simulate(machine, CHILD_MINUTES, CHILD_POLICY, waits, events=False)
        print(f"  child: {child.transitions} transitions, {child.events} events, {child.lambdas} Lambda invocations "
              f"({child.wall:.1f} s)", file=sys.stderr)
        role = f"arn:aws:iam::{ACCOUNT}:role/batch"
        child_arn = machine.sfn.create_state_machine(name="child", definition=json.dumps(CHILD),
                                                     roleArn=role)["stateMachineArn"]
        arn = machine.sfn.create_state_machine(name="batch", definition=json.dumps(batch_definition(child_arn, concurrency)),
                                               roleArn=role)["stateMachineArn"]
        batches = []
        for n in sizes:
            b = run_batch(machine, arn, child_arn, n, args.timeout)
            batches.append(b)
            print(f"  batch of {n:>3}: {b.transitions:>5,} transitions  {b.events:>6,} events  {b.lambdas} Lambda "
                  f"invocations  ({b.wall:.1f} s)", file=sys.stderr)
    wall = time.monotonic() - t0

    results = check_targets(child, batches, cap)
    text = render(child, batches, cap, concurrency, results, wall)
    print(text)
    if not args.print_only:
        benchdoc.write(SECTION, SECTION + "\n\n" + text, "bench")
    return benchdoc.exit_status(results, "bench")


if __name__ == "__main__":
    sys.exit(main())
